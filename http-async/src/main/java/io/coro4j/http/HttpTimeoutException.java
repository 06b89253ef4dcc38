package io.coro4j.http;

import java.time.Duration;

/**
 * A deadline passed. Which one is said by the subclass: {@link ConnectTimeoutException}
 * (connecting), {@link RequestTimeoutException} (the whole exchange, after a slot was obtained) or
 * {@link SlotWaitTimeoutException} (waiting for a free slot; nothing was sent). Catch this type
 * for all three.
 *
 * <p>Not {@link java.net.http.HttpTimeoutException} (a checked exception of the JDK, which this
 * client translates), and not a {@link java.util.concurrent.CancellationException}: code that
 * handles the cancellation of its task never swallows a timeout by mistake. Immutable.
 */
public abstract sealed class HttpTimeoutException extends HttpRequestException
        permits ConnectTimeoutException, RequestTimeoutException, SlotWaitTimeoutException {
    private static final long serialVersionUID = 1L;

    private final Duration timeout;

    HttpTimeoutException(String method, String url, String problem, Duration timeout, Throwable cause) {
        super(method, url, problem, cause);
        this.timeout = timeout;
    }

    /** The bound that was exceeded. */
    public Duration timeout() {
        return timeout;
    }
}
