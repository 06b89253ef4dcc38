package io.coro4j;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown by {@link Coro#withTimeout} when its timeout cancelled the body. Deliberately not a
 * {@link java.util.concurrent.CancellationException}: code that handles cancellation does not
 * swallow a timeout, and a timeout handler does not swallow a cancellation of the task.
 */
public final class TimeoutExceededException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Duration timeout;

    /**
     * An exception for {@code timeout} having expired; its message names it.
     *
     * @throws NullPointerException if {@code timeout} is null
     */
    public TimeoutExceededException(Duration timeout) {
        super("timed out after " + Objects.requireNonNull(timeout, "timeout"));
        this.timeout = timeout;
    }

    /** The timeout that expired. */
    public Duration timeout() {
        return timeout;
    }
}
