package io.coro4j.spi;

/**
 * The synchronous coroutine primitive under generators: a body that runs on the caller's request
 * ({@link #resume()}) until it {@link #suspend() suspends} or returns.
 *
 * <p>Threading: at most one thread resumes a coroutine at a time, and never from inside the
 * coroutine's own body; the API layer guarantees this and schedulers need not check it.
 * Everything the body wrote before {@link #suspend()} is visible to the resumer after
 * {@link #resume()} returns, and everything the resumer wrote before {@code resume()} is visible
 * to the body after {@code suspend()} returns.
 *
 * <p>A coroutine resumed from inside a fiber runs as part of that fiber: if its body parks the
 * fiber, the whole fiber suspends, and it may continue on another carrier thread.
 */
public interface Coroutine {

    /**
     * Runs the body from its start or from where it last suspended, until it suspends again or
     * ends.
     *
     * <p>A failure of the resumption itself, not the body's (most likely a
     * {@link StackOverflowError} of a resumer deep in its stack), may come before the body gets
     * control or after it has given control back, never while the body runs: the API then leaves
     * the generator in the state its body is in. A coroutine that cannot tell (a hand-over cut
     * half-way) must fail every later resumption instead.
     *
     * @return {@code true} if the body has ended
     * @throws IllegalStateException if the body has already ended
     * @throws RuntimeException or {@link Error}: whatever the body let escape (it has then ended)
     */
    boolean resume();

    /**
     * Suspends the body back to the caller of {@link #resume()}. The caller must be this
     * coroutine's running body, which the API checks with {@link #isCurrent()} first; schedulers
     * need not check it again on this hot path.
     *
     * <p>On JDK 24+ a body may suspend inside {@code synchronized}. On threadpool the monitor then
     * stays the thread's that resumed the body, not the body's: once threads have contended for it,
     * the JDK keeps it owned by that thread, and a body resumed by another thread that leaves the
     * block there leaves it held by the first thread for good (measured on JDK 25).
     *
     * @throws IllegalStateException if it cannot suspend there (threadpool: under a native frame, or inside
     *     {@code synchronized} on JDK 21 to 23)
     */
    void suspend();

    /** Whether the body has ended. */
    boolean isDone();

    /**
     * Whether the body runs on the thread that resumes it (a continuation mounted on the caller),
     * rather than on a thread of its own that the resumer hands control to. The API then carries
     * what belongs to the resumer's thread, such as its coroutine-local values outside a task,
     * across to the body and back.
     */
    default boolean runsOnResumerThread() {
        return true;
    }

    /**
     * Whether the calling code runs inside this coroutine's body right now (and not inside a
     * coroutine nested in it).
     */
    boolean isCurrent();
}
