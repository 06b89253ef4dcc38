package io.coro4j.spi;

/**
 * The metrics hook: running totals and point values a scheduler keeps cheaply (per-carrier plain
 * fields or striped counters) and a metrics binder reads on scrape. Every method is thread-safe,
 * never blocks, and may lag behind concurrent updates by a few events. A total never decreases.
 *
 * <p>Counts that a scheduler cannot observe return {@code 0} (the defaults).
 */
public interface SchedulerStats {

    /** Suspensions of fibers and coroutines ({@code park} that suspended, {@code suspend}). */
    long suspensions();

    /** Resumptions of fibers and coroutines (a parked fiber run again, a coroutine resumed). */
    long resumptions();

    /** Fibers started. */
    long fibersStarted();

    /** Fibers whose body ended. */
    long fibersCompleted();

    /** Fibers started and not yet ended. */
    default long liveFibers() {
        return fibersStarted() - fibersCompleted();
    }

    /** Fibers currently parked. */
    long parkedFibers();

    /**
     * Whether this scheduler owns run queues, so that {@link #queueDepth()} and {@link #steals()}
     * mean something (a scheduler on the JDK's virtual-thread scheduler cannot see its queues).
     */
    default boolean observesRunQueues() {
        return false;
    }

    /** Runnable fibers waiting in run queues. */
    default long queueDepth() {
        return 0;
    }

    /** Fibers taken from another carrier's run queue. */
    default long steals() {
        return 0;
    }
}
