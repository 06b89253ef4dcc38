package io.coro4j.http;

import java.util.concurrent.CancellationException;

/**
 * How one attempt of a request ended, as reported to an {@link HttpClientObserver}. The values for
 * a response follow Micrometer's HTTP-client convention ({@code Outcome}: the status class); the
 * others name the reason there was no response, one value per exception of this package that a
 * dashboard would want to tell apart.
 *
 * <p>A response with an error status is an outcome ({@link #CLIENT_ERROR}, {@link #SERVER_ERROR}),
 * not a failure: {@link AsyncHttpClient#send} returns it.
 */
public enum RequestOutcome {
    /** A 1xx status as the final response (rare: the JDK handles {@code 100 Continue} itself). */
    INFORMATIONAL,
    /** A 2xx status. */
    SUCCESS,
    /** A 3xx status that was not followed (redirects that are followed end with their target's status). */
    REDIRECTION,
    /** A 4xx status. */
    CLIENT_ERROR,
    /** A 5xx status. */
    SERVER_ERROR,
    /** No response within the request timeout or the connect timeout ({@link RequestTimeoutException}, {@link ConnectTimeoutException}). */
    TIMEOUT,
    /** No slot came free within the slot-wait timeout ({@link SlotWaitTimeoutException}): nothing was sent. */
    SLOT_TIMEOUT,
    /** The wait queue for slots was full ({@link HttpRejectedException}): nothing was sent. */
    REJECTED,
    /**
     * The connection failed or broke, or the response could not be read: refused, reset, closed
     * early, not HTTP, TLS failure, a body too large ({@link HttpConnectException},
     * {@link HttpIoException}, {@link BodyTooLargeException}).
     */
    IO_ERROR,
    /** The calling task was cancelled (or a fan-out it belonged to stopped): {@link CancellationException}. */
    CANCELLED,
    /** Anything else: a status outside 100–599, or a failure that is none of the above (a bug, a client closed meanwhile). */
    UNKNOWN;

    /** The outcome of a response with status {@code status}: its status class, or {@link #UNKNOWN} outside 100–599. */
    public static RequestOutcome ofStatus(int status) {
        return switch (status / 100) {
            case 1 -> INFORMATIONAL;
            case 2 -> SUCCESS;
            case 3 -> REDIRECTION;
            case 4 -> CLIENT_ERROR;
            case 5 -> SERVER_ERROR;
            default -> UNKNOWN;
        };
    }

    /** The outcome of an attempt that failed with {@code failure} (no response). */
    public static RequestOutcome ofFailure(Throwable failure) {
        if (failure instanceof SlotWaitTimeoutException) {
            return SLOT_TIMEOUT;
        }
        if (failure instanceof RequestTimeoutException || failure instanceof ConnectTimeoutException) {
            return TIMEOUT;
        }
        if (failure instanceof HttpRejectedException) {
            return REJECTED;
        }
        if (failure instanceof HttpConnectException || failure instanceof HttpIoException
                || failure instanceof BodyTooLargeException) {
            return IO_ERROR;
        }
        if (failure instanceof CancellationException) {
            return CANCELLED;
        }
        return UNKNOWN;
    }
}
