package io.coro4j.channel;

/**
 * Thrown by {@link Barrier#await()} when the barrier is broken ({@link Barrier#abort()}) or is
 * reset ({@link Barrier#reset()}) while the task waits, as asyncio's {@code BrokenBarrierError}.
 * It is an {@link IllegalStateException}: the barrier's state forbids the wait.
 */
public class BrokenBarrierException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    /** Creates the exception with {@code message}, which says why the barrier was broken. */
    public BrokenBarrierException(String message) {
        super(message);
    }
}
