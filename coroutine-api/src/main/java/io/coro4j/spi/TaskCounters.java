package io.coro4j.spi;

/**
 * Running totals of the tasks a scheduler has run, kept by the API layer ({@code io.coro4j.Task}
 * records each event) and read by metrics binders. A scheduler owns one instance and returns it
 * from {@link Scheduler#taskCounters()}.
 *
 * <p>Thread-safe; each event is one {@link StripedCounter} increment, so concurrent carriers do
 * not contend on one cache line, and a coroutine frame that counts has no rarely taken branch to
 * deoptimize on. A total never decreases; reads may lag concurrent
 * events. Every spawned task ends as exactly one of completed, failed or cancelled, so once all
 * tasks have ended {@code spawned() == completed() + failed() + cancelled()}.
 */
public final class TaskCounters {

    private final StripedCounter spawned = new StripedCounter();
    private final StripedCounter completed = new StripedCounter();
    private final StripedCounter failed = new StripedCounter();
    private final StripedCounter cancelled = new StripedCounter();

    /** Records a task handed to the scheduler. Called by the API layer, not by users. */
    public void recordSpawned() {
        spawned.increment();
    }

    /**
     * Records how a task ended. Called by the API layer, not by users.
     *
     * @param failure {@code null} if it returned a value; a {@link java.util.concurrent.CancellationException}
     *     if it was cancelled; anything else if it failed
     */
    public void recordEnded(Throwable failure) {
        if (failure == null) {
            completed.increment();
        } else if (failure instanceof java.util.concurrent.CancellationException) {
            cancelled.increment();
        } else {
            failed.increment();
        }
    }

    /** Tasks handed to the scheduler. */
    public long spawned() {
        return spawned.sum();
    }

    /** Tasks that returned a value. */
    public long completed() {
        return completed.sum();
    }

    /** Tasks that ended with an exception other than a cancellation. */
    public long failed() {
        return failed.sum();
    }

    /** Tasks that ended with a {@link java.util.concurrent.CancellationException}. */
    public long cancelled() {
        return cancelled.sum();
    }

    @Override
    public String toString() {
        return "TaskCounters[spawned=" + spawned() + ", completed=" + completed() + ", failed=" + failed()
                + ", cancelled=" + cancelled() + "]";
    }
}
