package io.coro4j.internal;

/**
 * The suspension primitive that coro4j's own building blocks (channels, locks) use on a task.
 * Not an API: it may change in any release.
 *
 * <p>{@link #park()} and {@link #parkUninterruptibly()} may only be called by the task itself
 * and may return spuriously: re-check the condition in a loop. {@link #wake()} may be called from
 * any thread; a wake before the park is not lost.
 */
public interface TaskHandle {

    /** Throws {@link java.util.concurrent.CancellationException} if the task (or an enclosing timeout or group) is cancelled. */
    void checkCancelled();

    /** Checks cancellation, then parks until woken (or spuriously). */
    void park();

    /** Checks cancellation, then parks until woken, {@code nanos} have passed, or spuriously. */
    void parkNanos(long nanos);

    /**
     * Throws the {@link IllegalStateException} a park would throw here if the task cannot suspend
     * where it runs (threadpool: under a native frame); before a step that a refused park could not
     * undo. Slow (a stack walk on threadpool): not for every park. The default does nothing.
     */
    default void checkCanSuspend() {}

    /** Parks until woken (or spuriously), leaving any cancellation pending. */
    void parkUninterruptibly();

    /** Wakes the task if it is parked; otherwise its next park returns at once. */
    void wake();
}
