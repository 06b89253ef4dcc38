package io.coro4j.spi;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A ready implementation of {@link Scheduler#schedule} for scheduler implementers: one platform
 * thread named {@code coro4j-<scheduler name>-timer} runs the actions from a delay queue
 * ({@link ScheduledThreadPoolExecutor}, O(log n) per timer; cancelled timers are removed at once,
 * so a million cancelled timeouts do not pile up).
 *
 * <p>Thread-safe. {@link #terminate()} stops the thread and waits for it to end.
 */
public final class TimerThread {

    private final String schedulerName;
    private final ScheduledThreadPoolExecutor executor;

    /**
     * Starts nothing until the first timer is scheduled.
     *
     * @param daemon whether the timer thread is a daemon thread
     */
    public TimerThread(String schedulerName, boolean daemon) {
        this.schedulerName = Objects.requireNonNull(schedulerName, "schedulerName");
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "coro4j-" + schedulerName + "-timer");
            t.setDaemon(daemon);
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /**
     * {@link Scheduler#schedule}'s contract.
     *
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws RejectedExecutionException after {@link #terminate()}
     */
    public Timeout schedule(Runnable action, long delay, TimeUnit unit) {
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(unit, "unit");
        if (delay < 0) {
            throw new IllegalArgumentException("delay " + delay + " " + unit + " should not be negative");
        }
        ScheduledFuture<?> f;
        try {
            f = executor.schedule(action, delay, unit);
        } catch (RejectedExecutionException e) {
            throw new RejectedExecutionException("scheduler \"" + schedulerName + "\" has terminated: it runs no timers", e);
        }
        return () -> f.cancel(false);
    }

    /** Drops pending timers, stops the thread and waits (up to a minute) for it to end. */
    public void terminate() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
