package io.coro4j.spi;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs fibers and coroutines; the mechanism under every coroutine in coro4j.
 *
 * <p>All methods are thread-safe. A scheduler is created running; {@link #shutdown()} stops it
 * accepting new fibers while the live ones run to completion, and the scheduler terminates (all
 * of its threads end) once none is left. {@link #close()} is {@code shutdown()} followed by
 * waiting for termination.
 *
 * <p>Coroutines ({@link #newCoroutine}) are not fibers: they run on whichever thread resumes them
 * and are not counted as live work, so they neither keep a scheduler alive nor are refused by a
 * shut-down one.
 */
public interface Scheduler extends AutoCloseable {

    /** The kind of scheduler, e.g. {@code "threadpool"} or {@code "loom"}; the {@code scheduler} metrics tag. */
    String kind();

    /** This instance's name, unique among live schedulers in the JVM by convention; the {@code name} metrics tag. */
    String name();

    /**
     * Starts a fiber that runs {@code body}. The body must not let an exception escape: the API
     * layer catches and records its failures; an escaping one is reported to the fiber thread's
     * uncaught exception handler and the fiber ends.
     *
     * @throws RejectedExecutionException if the scheduler is shut down
     */
    Fiber start(Runnable body);

    /** The fiber of this scheduler the calling code runs in, or {@code null} if none. */
    Fiber currentFiber();

    /**
     * Creates a coroutine that runs {@code body} when first resumed. It does not start anything.
     * The body must not let an exception escape; if one does, {@link Coroutine#resume()} rethrows it.
     */
    Coroutine newCoroutine(Runnable body);

    /**
     * Runs {@code action} once, after {@code delay}, on a thread of the scheduler's choosing; the
     * action must be short and must not block (it typically unparks a fiber).
     *
     * Timers keep working after {@link #shutdown()} while fibers are live, since those fibers may
     * be waiting for them.
     *
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws RejectedExecutionException if the scheduler has terminated, or is shut down with no
     *     fiber live (it is terminating: nothing would run the action)
     */
    Timeout schedule(Runnable action, long delay, TimeUnit unit);

    /**
     * Whether a fiber may make blocking JDK calls (I/O, {@code Thread.sleep}, locks) directly
     * without holding up other fibers, as a virtual thread may. {@code Coro.blocking} does not
     * depend on it: it moves the call to a thread of its own on every scheduler, so that the call
     * behaves the same everywhere.
     */
    default boolean runsBlockingCallsInPlace() {
        return false;
    }

    /** Counters and gauges for metrics; reading them is cheap and never blocks the scheduler. */
    SchedulerStats stats();

    /** The task outcome totals of this scheduler; the same instance every time. */
    TaskCounters taskCounters();

    /** The scheduling-delay sampler of this scheduler; the same instance every time. */
    SchedulingDelays schedulingDelays();

    /**
     * Stops accepting new fibers; live fibers run on. Idempotent; does not wait.
     *
     * @throws IllegalStateException if this is the default scheduler
     *     ({@link io.coro4j.Schedulers#defaultScheduler()}), which is never shut down; an
     *     implementation checks with {@link #refuseShutdownOfTheDefault}
     */
    void shutdown();

    /**
     * Refuses to shut {@code scheduler} down if it is the default scheduler
     * ({@link io.coro4j.Schedulers#defaultScheduler()}): every {@code Coro.run} and generator that
     * names no scheduler shares it for the JVM's life. An implementation calls this first in
     * {@link #shutdown()}, and in {@link #close()} if it overrides it.
     *
     * @throws IllegalStateException if {@code scheduler} is the default scheduler
     */
    static void refuseShutdownOfTheDefault(Scheduler scheduler) {
        io.coro4j.internal.DefaultScheduler.refuseShutdown(scheduler);
    }

    /** Whether {@link #shutdown()} was called. */
    boolean isShutdown();

    /**
     * Whether the scheduler is shut down, no fiber is live and every thread it owns (carriers,
     * timer) has ended. A fiber that is a virtual thread of the JDK's scheduler may still take its
     * last steps (returning from its run method) just after it is counted as ended.
     */
    boolean isTerminated();

    /**
     * Waits until {@link #isTerminated()}, at most {@code timeout}. A timeout too long to count in
     * nanoseconds (over about 292 years, such as {@code ChronoUnit.FOREVER.getDuration()}) waits
     * as long as {@code Long.MAX_VALUE} nanoseconds; a negative one does not wait.
     *
     * <p>Called from code that termination waits for (a fiber of this scheduler, one of its timer
     * actions, or a {@code Coro.blocking} call of one of its tasks), it cannot return {@code true}:
     * it waits out its whole timeout, holding up the thread it runs on (on a scheduler whose fibers
     * share carriers, a carrier; in a timer action, every timer), and returns {@code false}, as
     * {@link java.util.concurrent.ThreadPoolExecutor#awaitTermination} called from one of its own
     * workers does. It is not refused, as {@link #close()} is there, since it still answers within
     * the time it was given (an endless timeout there waits forever); to end a scheduler from its
     * own code, call {@link #shutdown()} and return.
     *
     * @return whether it terminated in time
     * @throws NullPointerException if {@code timeout} is null
     * @throws InterruptedException if interrupted while waiting
     */
    boolean awaitTermination(Duration timeout) throws InterruptedException;

    /**
     * Shuts down and waits for every live fiber to finish and every thread to end. A fiber parked
     * forever makes this wait forever, as {@link java.util.concurrent.ExecutorService#close()} would.
     * Unlike {@code ExecutorService.close()}, which stops its tasks as {@code shutdownNow} does when
     * the waiting thread is interrupted, an interrupt neither ends this wait nor cancels anything
     * (nor interrupts a {@code Coro.blocking} call): it is kept, and set again when this returns.
     * To end a program whose tasks may wait for ever, cancel its main task (interrupt the thread in
     * {@code Coro.run}, or {@code Task.cancel()}) before closing.
     *
     * @throws IllegalStateException if this is the default scheduler, as {@link #shutdown()}; or if
     *     called from code that termination waits for: a fiber of this scheduler, one of its timer
     *     actions, a {@code Coro.blocking} call of one of its tasks, or the body of a generator that
     *     one of its tasks steps and that runs on a thread of its own (a loom generator stepped by a
     *     threadpool task) (call {@link #shutdown()} there instead)
     */
    @Override
    default void close() {
        refuseShutdownOfTheDefault(this);
        String waiting = io.coro4j.internal.Tasks.blockingCallOf(this);
        if (waiting != null) {
            throw new IllegalStateException("close() called " + waiting);
        }
        shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (awaitTermination(Duration.ofDays(1))) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
