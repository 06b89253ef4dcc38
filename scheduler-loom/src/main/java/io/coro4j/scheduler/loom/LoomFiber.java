package io.coro4j.scheduler.loom;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * A fiber of {@link LoomScheduler}: a virtual thread, plus a permit of its own because the code
 * that parks may run on a generator's virtual thread nested in the fiber, not the fiber's thread.
 * {@link #park()} records the parking thread, then checks the permit; {@link #unpark()} sets the
 * permit, then unparks the recorded thread. Both are volatile, so one of them sees the other.
 */
final class LoomFiber implements Fiber, Runnable, Thread.UncaughtExceptionHandler {

    private static final VarHandle PERMIT;

    static {
        try {
            PERMIT = MethodHandles.lookup().findVarHandle(LoomFiber.class, "permit", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final LoomScheduler scheduler;
    /**
     * What the fiber's thread runs: the body until it starts, {@link #RUNNING} while it runs, null
     * once it has ended (the fiber is then not alive).
     */
    private volatile Runnable body;
    private static final Runnable RUNNING = () -> { };
    private volatile int permit;
    private volatile Thread waiter;
    /**
     * The fiber's own virtual thread while it runs; read by that thread only. Where the fiber's
     * code runs on it, that is the fiber, whatever the thread's uncaught-exception handler has
     * become: code that replaced it fails at its next coro4j call, but the task's end (waiting
     * for its children) still parks, so that the task ends instead of hanging.
     */
    private Thread thread;
    private Object attachment;
    /**
     * When a sampled start or unpark made this fiber runnable ({@link System#nanoTime()}), or the
     * deadline of a sampled timed park (the JDK's timer ends it, not an unpark), or 0.
     * Written before the permit is published (start: before the thread starts), read after the
     * park returns; a stamp left by an unpark that found the fiber running is dropped by the
     * suspension that takes its permit without parking.
     */
    volatile long runnableSince;
    /**
     * How long an untimed park spins for the permit first ({@link AdaptiveSpin}): this fiber's
     * own, written only by the code it runs (see {@link #spinForPermit}).
     */
    private int spin = AdaptiveSpin.NOT_SPINNING;

    LoomFiber(LoomScheduler scheduler, Runnable body) {
        this.scheduler = scheduler;
        this.body = body;
    }

    /** The fiber's virtual thread runs this: the body, then the fiber's end. */
    @Override
    public void run() {
        Runnable b = body;
        if (b == RUNNING || b == null) {
            // This object is reachable as the thread's handler: it is not a task to run again.
            throw new IllegalStateException("a fiber's body runs once, on the virtual thread started for it: " + this);
        }
        body = RUNNING;
        thread = Thread.currentThread();
        ranAfterRunnable();
        try {
            b.run();
        } catch (Throwable t) {
            try {
                uncaughtException(Thread.currentThread(), t);
            } catch (Throwable ignored) {
                // Ignored, as the JVM ignores what a handler throws: escaping, it would be
                // reported to the handler in turn, as if the fiber had failed twice.
            }
        } finally {
            body = null;
            thread = null; // a finished task keeps its fiber: not the thread that ran it too
            scheduler.fiberCompleted();
        }
    }

    /**
     * What the JDK does for a thread without a handler of its own: this fiber is its thread's
     * handler only so that {@link LoomScheduler#current()} finds it.
     */
    @Override
    public void uncaughtException(Thread t, Throwable e) {
        t.getThreadGroup().uncaughtException(t, e);
    }

    @Override
    public Scheduler scheduler() {
        return scheduler;
    }

    @Override
    public void park() {
        requireCurrent("park()");
        if (spinForPermit()) {
            tookPermitWithoutParking();
            return;
        }
        suspend(0);
    }

    /** The virtual thread's own timed park: the JDK's timer, which wakes it from a carrier. */
    @Override
    public void parkNanos(long nanos) {
        requireCurrent("parkNanos()");
        if (nanos > 0) {
            suspend(nanos);
        }
    }

    private void requireCurrent(String what) {
        if (!isCurrent()) {
            throw new IllegalStateException(what + " called by code that is not running in this fiber:"
                    + " a fiber can only park itself");
        }
    }

    /** Whether the calling code runs in this fiber: on its own thread, or a generator's it resumed. */
    private boolean isCurrent() {
        return Thread.currentThread() == thread || LoomScheduler.current() == this;
    }

    /** Parks unless the permit is set, at most {@code nanos} if positive; consumes the permit. */
    private void suspend(long nanos) {
        if ((int) PERMIT.getAndSet(this, 0) == 1) {
            tookPermitWithoutParking();
            return;
        }
        waiter = Thread.currentThread();
        if (permit == 0) {
            scheduler.suspensions.increment();
            if (nanos > 0 && scheduler.delays.sampleNow()) {
                // The JDK's timer wakes a timed park, unseen by unpark(): the deadline stands in
                // for its stamp, so that wake-ups from sleeps are sampled as on threadpool. In the
                // field, not a local: a local would be one more slot in every sleeping fiber's frame.
                runnableSince = System.nanoTime() + nanos;
            }
            if (Thread.interrupted()) {
                parkWithTheInterruptStatusAside(nanos);
            } else if (nanos > 0) {
                LockSupport.parkNanos(this, nanos);
            } else {
                LockSupport.park(this);
            }
            scheduler.resumptions.increment();
            ranAfterRunnable();
        } else {
            tookPermitWithoutParking();
        }
        waiter = null;
        permit = 0;
    }

    /** Drops the stamp of the unpark whose permit was taken: left, a later park would measure from it. */
    private void tookPermitWithoutParking() {
        if (runnableSince != 0) {
            runnableSince = 0;
        }
    }

    /**
     * Spins a little for the permit before an untimed park; whether it got it (and took it): two
     * fibers that hand over to each other from two carriers (a channel, a lock) while both spin
     * then neither parks nor is queued. Unlike a generator's sides, a fiber starts without spinning
     * (most fibers park a few times, for longer than a spin) and first tries after
     * {@link AdaptiveSpin#RETRY_SPINNING_AFTER} parks. Timed parks (sleeps) never spin, and do not
     * carry this code in their frames: a sleeping fiber's frames are most of its heap.
     */
    private boolean spinForPermit() {
        int state = AdaptiveSpin.beforeWait(spin);
        for (int i = AdaptiveSpin.limit(state); i > 0; i--) {
            if (permit != 0 && (int) PERMIT.getAndSet(this, 0) == 1) {
                spin = AdaptiveSpin.afterWait(state, true);
                return true;
            }
            Thread.onSpinWait();
        }
        spin = AdaptiveSpin.afterWait(state, false);
        return false;
    }

    /**
     * Parks for {@link #suspend} while the interrupt status, which was set, is put aside: it is
     * the task's, not a wake-up, and left set it would make every park return at once. Restoring
     * it after sets the thread's own park permit ({@code Thread.interrupt} unparks), so the next
     * suspension comes here again and its first park returns at once: parks that return without
     * this fiber's permit park again, until the time, if any, is up.
     */
    private void parkWithTheInterruptStatusAside(long nanos) {
        long deadline = nanos > 0 ? System.nanoTime() + nanos : 0;
        do {
            if (nanos > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                LockSupport.parkNanos(this, left);
            } else {
                LockSupport.park(this);
            }
            Thread.interrupted(); // set again meanwhile: it is aside already
        } while (permit == 0);
        Thread.currentThread().interrupt();
    }

    /**
     * {@code Thread.yield()}, except that one yield in {@link #TIMED_YIELD_ONE_IN}, at random, parks
     * for a nanosecond instead. A yielding virtual thread goes back to its carrier's queue (the
     * external one when its local queue is empty), which that carrier drains before it looks at
     * other queues: where every carrier runs a task that keeps yielding, a task woken by the JDK's
     * timer (a sleep) or by a thread outside the pool (a plain thread completing what it awaits)
     * never ran (measured on JDK 25, one carrier and one yielder, or two and two). A timed park
     * leaves the carrier's queues, and its wake-up comes from the timer behind those already due.
     * At random rather than counted so that the fiber carries no counter (a field of every task);
     * one in 32 costs about 0.3 us a yield on average here (a timed park is about 10 us).
     */
    @Override
    public void yieldNow() {
        if (!isCurrent()) {
            throw new IllegalStateException("yieldNow() called by code that is not running in this fiber");
        }
        if (ThreadLocalRandom.current().nextInt(TIMED_YIELD_ONE_IN) != 0) {
            Thread.yield();
        } else {
            yieldThroughTheTimer();
        }
    }

    /**
     * Called by this fiber's own thread after it started a fiber
     * ({@link LoomScheduler#STARTS_PER_TIMED_YIELD}): parks for a nanosecond, so that its carrier
     * leaves the queues the fibers it started fill and runs the fibers woken meanwhile; not a
     * suspension point (no cancellation check, no count), and a park permit it takes is one the
     * fiber's own permit already records.
     */
    void giveWayToWokenFibers() {
        if (Thread.currentThread() == thread) {
            yieldThroughTheTimer();
        }
    }

    /** How often (one in) {@link #yieldNow} parks for a nanosecond instead of {@code Thread.yield()}. */
    static final int TIMED_YIELD_ONE_IN = 32;

    /**
     * Parks for a nanosecond, the interrupt status (the task's, not a reason to return at once) put
     * aside meanwhile. Setting it back sets the thread's park permit too, so a thread that was
     * interrupted parks twice: the first park may only take the permit its last yield left.
     */
    private static void yieldThroughTheTimer() {
        if (Thread.interrupted()) {
            LockSupport.parkNanos(1);
            LockSupport.parkNanos(1);
            Thread.currentThread().interrupt();
        } else {
            LockSupport.parkNanos(1);
        }
    }

    @Override
    public void unpark() {
        if (scheduler.delays.sampleNow() && permit == 0) {
            runnableSince = System.nanoTime();
        }
        if ((int) PERMIT.getAndSet(this, 1) == 0) {
            Thread w = waiter;
            if (w != null) {
                LockSupport.unpark(w);
            }
        }
    }

    @Override
    public boolean isAlive() {
        return body != null;
    }

    /**
     * Records the scheduling delay if the event that made this fiber runnable was sampled. A stamp
     * still ahead is the deadline of a timed park that an unsampled unpark ended early: no sample.
     */
    void ranAfterRunnable() {
        long since = runnableSince;
        if (since != 0) {
            runnableSince = 0;
            long delay = System.nanoTime() - since;
            if (delay >= 0) {
                scheduler.delays.record(delay);
            }
        }
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }

    @Override
    public String toString() {
        return "LoomFiber[" + (isAlive() ? "alive" : "done") + ", " + scheduler.name + "]";
    }
}
