package io.coro4j.scheduler.loom;

import io.coro4j.spi.Coroutine;
import io.coro4j.spi.Fiber;
import java.util.concurrent.locks.LockSupport;

/**
 * A coroutine of {@link LoomScheduler}: the body runs on a virtual thread of its own, started at
 * the first resumption; control is handed over and back through {@link #turn}.
 *
 * <p>The waiting side spins as {@link AdaptiveSpin} says, then parks; before it parks it says so
 * ({@link #callerParked}, {@link #bodyParked}). The handing side writes {@code turn}, then unparks
 * the other side only if that says it parks. All four are volatile, so either the waiter sees the
 * new turn or the hander sees that it must unpark.
 */
final class LoomCoroutine implements Coroutine, Thread.UncaughtExceptionHandler {

    private static final int CALLER = 0;
    private static final int BODY = 1;
    private static final int DONE = 2;

    private final LoomScheduler scheduler;
    private final Runnable body;
    private volatile int turn = CALLER;
    private volatile Thread caller;
    /** Whether that side parks, or is about to, until the turn moves on: the other side must unpark it. */
    private volatile boolean callerParked;
    private volatile boolean bodyParked;
    /**
     * Each side's {@link AdaptiveSpin} state; written by that side only (the resumer may be a
     * different thread each time, but only one at a time).
     */
    private int callerSpin = AdaptiveSpin.SPINNING;
    private int bodySpin = AdaptiveSpin.SPINNING;
    private Thread bodyThread;
    private Throwable escaped;
    /** The fiber the resumer runs in; code in the body counts as running in it. */
    volatile Fiber owner;
    /**
     * Why the body was lost, once a hand-over to it failed half-way (see {@link #resume()}); then
     * every resumption fails with it.
     */
    private volatile Throwable lost;

    LoomCoroutine(LoomScheduler scheduler, Runnable body) {
        this.scheduler = scheduler;
        this.body = body;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A failure before the turn passes to the body leaves the body where it was. One after
     * that, a {@link StackOverflowError} of a resumer deep in its stack, most likely inside the
     * JDK's unpark of the body's thread, may have woken the body or not, or (the JDK's unpark cut
     * after marking the thread unparked and before scheduling it) left it parked for good: the body
     * is then lost, and this and every later resumption fail with an {@link IllegalStateException}
     * saying so, never hang.
     */
    @Override
    public boolean resume() {
        if (lost != null) {
            throw lostBody(); // even if a body woken by the cut hand-over has ended since
        }
        if (turn == DONE) {
            throw new IllegalStateException("coroutine has ended");
        }
        owner = LoomScheduler.current();
        caller = Thread.currentThread();
        Thread b = bodyThread;
        if (b == null) {
            b = scheduler.coroutineThreads.newThread(this::runBody);
            b.setUncaughtExceptionHandler(this); // how LoomScheduler.current() finds the body's fiber
        }
        turn = BODY;
        try {
            if (bodyThread == null) {
                bodyThread = b;
                b.start();
            } else if (bodyParked) {
                LockSupport.unpark(b);
            }
            callerSpin = spinThenAwait(BODY, callerSpin, true);
        } catch (Throwable t) {
            lost = t; // a field write, no call: the stack may be at its end
            throw t;
        }
        caller = null;
        // One count per resumption, on the resumer's side, once its outcome is known: counters
        // written from both sides of the hand-over shared a cache line and cost 100-200 ns per
        // round trip, and resumptions are derived (suspensions + completions) so that both
        // totals only grow.
        if (turn != DONE) {
            scheduler.coroutineSuspensions.increment();
        } else {
            scheduler.coroutineCompletions.increment();
            Throwable t = escaped;
            if (t != null) {
                escaped = null;
                if (t instanceof RuntimeException r) {
                    throw r;
                }
                if (t instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException("coroutine body failed", t);
            }
            return true;
        }
        return false;
    }

    /** The thread waiting in {@link #resume()} while the body runs; null between resumptions. */
    Thread resumer() {
        return caller;
    }

    private IllegalStateException lostBody() {
        return new IllegalStateException("this generator's body is lost: a hand-over to its thread failed"
                + " half-way (" + lost + "), and it can no longer be resumed or closed", lost);
    }

    @Override
    public void suspend() {
        if (!isCurrent()) {
            throw new IllegalStateException("suspend() called outside this coroutine's running body");
        }
        handBack();
        bodySpin = spinThenAwait(CALLER, bodySpin, false);
    }

    /**
     * Gives the turn back to the resumer and wakes it if it parked. A method of its own, so that
     * the body's frame that waits for the next step holds no reference to the resumer's thread
     * (a plain thread that has ended since, and what it holds) for as long as the generator is paused.
     */
    private void handBack() {
        Thread c = caller; // read before the turn passes: the resumer then clears it
        turn = CALLER;
        if (callerParked) {
            LockSupport.unpark(c);
        }
    }

    private void runBody() {
        try {
            body.run();
        } catch (Throwable t) {
            escaped = t;
        } finally {
            Thread c = caller;
            turn = DONE;
            if (callerParked) {
                LockSupport.unpark(c);
            }
        }
    }

    /** What the JDK does for a thread without a handler of its own (the body catches everything anyway). */
    @Override
    public void uncaughtException(Thread t, Throwable e) {
        t.getThreadGroup().uncaughtException(t, e);
    }

    /**
     * Waits until the turn is no longer {@code t}: spins as {@code spin} says, then parks.
     *
     * @return the side's {@link AdaptiveSpin} state after this wait
     */
    private int spinThenAwait(int t, int spin, boolean asCaller) {
        int state = AdaptiveSpin.beforeWait(spin);
        for (int i = AdaptiveSpin.limit(state); i > 0; i--) {
            if (turn != t) {
                return AdaptiveSpin.afterWait(state, true);
            }
            Thread.onSpinWait();
        }
        if (turn != t) {
            return AdaptiveSpin.afterWait(state, true);
        }
        if (asCaller) {
            callerParked = true;
            awaitTurnNot(t);
            callerParked = false;
        } else {
            bodyParked = true;
            awaitTurnNot(t);
            bodyParked = false;
        }
        return AdaptiveSpin.afterWait(state, false);
    }

    /**
     * Parks until the turn moves on. The interrupt status is the waiting code's, not a wake-up:
     * left set, every park would return at once and this would spin, so it is put aside while
     * waiting and restored after (which sets the thread's park permit: the next wait's first park
     * returns at once, takes the status aside, and parks again).
     */
    private void awaitTurnNot(int t) {
        boolean interrupted = false;
        while (turn == t) {
            interrupted |= Thread.interrupted();
            LockSupport.park(this);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public boolean isDone() {
        return turn == DONE;
    }

    @Override
    public boolean runsOnResumerThread() {
        return false; // the body is a virtual thread of its own
    }

    @Override
    public boolean isCurrent() {
        return Thread.currentThread() == bodyThread;
    }
}
