package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.TimerThread;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A fiber of {@link ThreadPoolScheduler}: a continuation of the fiber scope and a park permit.
 *
 * <p>A fiber's first carrier is its home for life ({@link #home}): see {@link ThreadPoolScheduler}.
 *
 * <p>States: RUNNABLE (queued) → RUNNING (mounted) → PARKING (yielding) → PARKED → RUNNABLE …,
 * and DONE; YIELDING ({@link #yieldNow()}) and PROBING ({@link #checkCanSuspend()}) are yields that
 * only the fiber's own code and its carrier act on. The permit protocol is the one of {@code java.lang.VirtualThread}: {@link #unpark()}
 * sets the permit and, if it finds the fiber PARKED, moves it to RUNNABLE; the carrier, after the
 * continuation yielded, publishes PARKED and then looks at the permit. Each side writes, then
 * reads the other's variable (both volatile), so at least one of them sees the other and
 * reschedules the fiber; the state CAS makes sure only one does. One shortcut: an unpark that
 * finds the fiber PARKED moves it to RUNNABLE by that CAS alone, without the permit, which the
 * fiber would only have to clear again (a hand-over between two fibers then costs one locked
 * instruction here instead of three).
 */
final class ContinuationFiber extends OwnThreadState implements Fiber, Runnable {

    private static final int RUNNABLE = 0;
    private static final int RUNNING = 1;
    private static final int PARKING = 2;
    private static final int PARKED = 3;
    private static final int DONE = 4;
    private static final int YIELDING = 5;
    private static final int PROBING = 6;

    private static final VarHandle STATE;
    private static final VarHandle PERMIT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(ContinuationFiber.class, "state", int.class);
            PERMIT = l.findVarHandle(ContinuationFiber.class, "permit", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ThreadPoolScheduler scheduler;
    private final Runnable body;
    private final Object continuation;
    private volatile int state = RUNNABLE;
    private volatile int permit;
    private boolean resumedAfterPark;
    /** The carrier that first ran this fiber; written once by it, read by wakers after PARKED. */
    private Worker home;
    private Object attachment;
    /**
     * When a sampled event made this fiber runnable ({@link System#nanoTime()}), or 0. Written by
     * the thread that made it runnable before it queues the fiber, read by the carrier that
     * polled it: the queue orders the two.
     */
    long runnableSince;

    /**
     * Stamps {@link #runnableSince} if the scheduler samples this event: called by the thread that
     * makes this fiber runnable, before it queues it.
     */
    void becomingRunnable() {
        if (scheduler.delays.sampleNow()) {
            runnableSince = System.nanoTime();
        }
    }

    ContinuationFiber(ThreadPoolScheduler scheduler, Runnable body) {
        this.scheduler = scheduler;
        this.body = body;
        this.continuation = Continuations.create(Continuations.FIBER_SCOPE, this);
        this.contextClassLoader = Thread.currentThread().getContextClassLoader(); // as a new thread's: its starter's
    }

    /** The continuation's entry point (this object is the continuation's target, so a fiber costs one object less). */
    @Override
    public void run() {
        try {
            body.run();
        } catch (Throwable t) {
            // What the handler throws is ignored: passed on, it would end the carrier, and with it
            // every fiber whose home it is, this one never counted as ended.
            TimerThread.reportUncaught(t);
        }
    }

    @Override
    public Scheduler scheduler() {
        return scheduler;
    }

    @Override
    public void park() {
        requireCurrent("park()");
        // Read first: an atomic swap costs a locked instruction, and the permit is mostly not
        // there. One that arrives after the read is seen by afterYield, which reads it again.
        if (permit == 1 && (int) PERMIT.getAndSet(this, 0) == 1) {
            return;
        }
        yieldIn(PARKING);
        // Resumed by an unpark: by its CAS alone, or, if it came while this fiber was parking, by
        // the carrier, which saw its permit; a permit still set is consumed (the fiber rechecks
        // whatever it waits for, so unparks that came meanwhile are not lost). Volatile, so that
        // those rechecks cannot be read before the permit is cleared.
        if (permit == 1) {
            permit = 0;
        }
    }

    /** Checks the caller first, as {@link #park()} does, also for a time that has already passed. */
    @Override
    public void parkNanos(long nanos) {
        requireCurrent("parkNanos()");
        Fiber.super.parkNanos(nanos);
    }

    private void requireCurrent(String what) {
        if (scheduler.currentFiber() != this) {
            throw new IllegalStateException(what + " called by code that is not running in this fiber:"
                    + " a fiber can only park itself");
        }
    }

    /**
     * Yields, and the carrier runs this fiber again at once ({@link #probed()}): the yield fails
     * where a park's would, with the same exception, and succeeds without letting anything else
     * run. Not the JDK's {@code Continuation.isPinned}, which is a stack walk and, on JDK 25,
     * answers pinned for every caller (also called directly in a bare continuation of Java frames
     * only): a check by it yielded every time, behind every runnable fiber, with the caller's lock
     * still held ({@code Condition.await}).
     */
    @Override
    public void checkCanSuspend() {
        requireCurrent("checkCanSuspend()");
        yieldIn(PROBING);
    }

    @Override
    public void yieldNow() {
        if (scheduler.currentFiber() != this) {
            throw new IllegalStateException("yieldNow() called by code that is not running in this fiber");
        }
        yieldIn(YIELDING);
    }

    /**
     * Yields the continuation in state {@code s} (PARKING, YIELDING or PROBING), which the carrier
     * reads once it has yielded; refused (pinned), the fiber is RUNNING again and the refusal says
     * why. A plain store: no other thread acts on these states (unpark acts on PARKED only, which
     * afterYield publishes with a volatile store before it reads the permit).
     */
    private void yieldIn(int s) {
        STATE.set(this, s);
        try {
            Continuations.yield(Continuations.FIBER_SCOPE);
        } catch (IllegalStateException e) {
            state = RUNNING;
            throw cannotSuspend(e);
        }
    }

    private static IllegalStateException cannotSuspend(IllegalStateException e) {
        return Continuations.cannotYield(e, "this fiber cannot suspend here", "a fiber cannot park",
                "; use a coro4j lock instead of synchronized");
    }

    @Override
    public void unpark() {
        if (takeParked() || (int) PERMIT.getAndSet(this, 1) == 0 && takeParked()) {
            scheduler.wake(this, home);
        }
    }

    /**
     * Moves the fiber from PARKED to RUNNABLE if it is parked; whether this call did (then the
     * caller must queue it). The plain read first spares the CAS where the fiber is not parked.
     */
    private boolean takeParked() {
        return state == PARKED && STATE.compareAndSet(this, PARKED, RUNNABLE);
    }

    @Override
    public boolean isAlive() {
        return state != DONE;
    }

    @Override
    public Object attachment() {
        return attachment;
    }

    @Override
    public void attach(Object attachment) {
        this.attachment = attachment;
    }

    /** Carrier side: marks the fiber RUNNING; returns whether it had parked before. */
    boolean mount(Worker carrier) {
        if (home == null) {
            home = carrier;
        }
        boolean wasParked = resumedAfterPark;
        // Release, not volatile: whoever made the fiber RUNNABLE did so by CAS before queueing it,
        // and unpark acts only on PARKED, which a stale read of this store cannot make it see.
        STATE.setRelease(this, RUNNING);
        return wasParked;
    }

    void runContinuation() {
        Continuations.run(continuation);
    }

    boolean isDone() {
        return Continuations.isDone(continuation);
    }

    /** Carrier side, after the continuation yielded: whether it did so in {@link #yieldNow()}. */
    boolean isYielding() {
        return state == YIELDING;
    }

    /**
     * Carrier side, after the continuation yielded: whether it did so in {@link #checkCanSuspend()},
     * in which case the fiber is RUNNING again and the carrier runs it on at once. Only this
     * fiber's own code sets PROBING, and unpark ignores it (an unpark meanwhile sets the permit).
     */
    boolean probed() {
        if (state == PROBING) {
            state = RUNNING;
            return true;
        }
        return false;
    }

    /** Carrier side, after the continuation yielded in {@link #park()} or {@link #yieldNow()}. */
    void afterYield() {
        if (state == YIELDING) {
            // Only this fiber's own code sets YIELDING, and unpark ignores it: no race here. The
            // carrier runs this, and it is the fiber's home: the fiber goes behind what is runnable.
            resumedAfterPark = false;
            state = RUNNABLE;
            becomingRunnable();
            home.yielded(this);
            return;
        }
        resumedAfterPark = true;
        state = PARKED;
        if (permit == 1 && STATE.compareAndSet(this, PARKED, RUNNABLE)) {
            scheduler.wake(this, home);
        }
    }

    /** Carrier side, after the body ended. */
    void ended() {
        state = DONE;
        scheduler.fiberEnded();
    }

    @Override
    public String toString() {
        String[] names = {"runnable", "running", "parking", "parked", "done", "yielding", "probing"};
        return "ContinuationFiber[" + names[state] + ", " + scheduler.name + "]";
    }
}
