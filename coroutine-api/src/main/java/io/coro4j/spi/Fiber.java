package io.coro4j.spi;

/**
 * A unit of execution that can suspend itself without blocking a carrier thread.
 *
 * <p>{@link #park()} and {@link #unpark()} have the semantics of
 * {@link java.util.concurrent.locks.LockSupport}: each fiber has one permit; {@code unpark} makes
 * it available (idempotently) and {@code park} consumes it, suspending until it is available.
 * An {@code unpark} that happens before the {@code park} is never lost. {@code park} may also
 * return spuriously, so callers re-check their condition in a loop. Unlike {@code LockSupport},
 * the interrupt status is not a wake-up: it is the fiber's own, kept across its parks (and never
 * left on a carrier for another fiber), and a park with it set still waits for the permit.
 *
 * <p>{@link #unpark()} may be called from any thread, fiber or not; {@link #park()} only by the
 * fiber itself.
 */
public interface Fiber {

    /** The scheduler that runs this fiber. */
    Scheduler scheduler();

    /**
     * Suspends the calling fiber until its permit is available, then consumes it.
     *
     * <p>On JDK 24+ a fiber may park holding a monitor; on threadpool that monitor is then its
     * carrier thread's, not the fiber's (see the README: another fiber of that carrier can enter
     * it, or block the carrier).
     *
     * @throws IllegalStateException if the caller is not this fiber, or the fiber cannot suspend
     *     here (for example, on the threadpool scheduler under a native frame, or holding a
     *     monitor on JDK 21 to 23)
     */
    void park();

    /**
     * {@link #park()}, but returns, at the latest, once {@code nanos} have passed (never earlier on
     * the timeout's account; like {@code park}, it may return early, spuriously or for an
     * {@link #unpark()}). Callers re-check their condition and the time in a loop.
     *
     * <p>The default schedules an {@link #unpark()} with the scheduler's {@link Scheduler#schedule}
     * timer, parks, and cancels the timer; a scheduler with a cheaper timed park of its own (a
     * virtual thread's {@code LockSupport.parkNanos}) overrides it.
     *
     * @throws IllegalStateException as {@link #park()}
     */
    default void parkNanos(long nanos) {
        if (nanos <= 0) {
            return;
        }
        Timeout timer = scheduler().schedule(this::unpark, nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        try {
            park();
        } finally {
            timer.cancel();
        }
    }

    /**
     * Refuses, with the {@link IllegalStateException} that {@link #park()} would throw there, if the
     * calling fiber (this one) cannot suspend where it runs; otherwise does nothing, and leaves the
     * permit as it is. For code that must know before a step it cannot undo, such as releasing a
     * lock that it must take back after the park ({@code Condition.await}). May be slow (a stack
     * walk): not for every park. The default does nothing, for a fiber that can suspend anywhere
     * (a virtual thread that cannot unmount pins its carrier instead).
     *
     * @throws IllegalStateException if the caller is not this fiber, or the fiber cannot suspend here
     */
    default void checkCanSuspend() {}

    /**
     * Lets other runnable fibers run, then continues; the permit is left as it is.
     *
     * @throws IllegalStateException if the caller is not this fiber
     */
    void yieldNow();

    /** Makes the permit available and, if the fiber is parked, makes it runnable. Thread-safe, idempotent. */
    void unpark();

    /** Whether the fiber has started and not yet finished. */
    boolean isAlive();

    /**
     * An object the API layer associates with this fiber (its task, context, cancellation state).
     * Schedulers store it and never interpret it.
     */
    Object attachment();

    /** Sets {@link #attachment()}; call only before the fiber runs or from the fiber itself. */
    void attach(Object attachment);
}
