package io.coro4j.http;

import java.time.Duration;

/**
 * The exchange did not complete within the request timeout ({@link
 * AsyncHttpClient.Builder#requestTimeout}, or {@link Request.Builder#timeout} for one request):
 * connecting, sending, the response headers and the whole body must all fit in it. The clock starts
 * once the request has a slot, so time spent waiting for one never counts (that has its own bound,
 * see {@link SlotWaitTimeoutException}). The exchange was aborted and its connection closed.
 * Immutable.
 */
public final class RequestTimeoutException extends HttpTimeoutException {
    private static final long serialVersionUID = 1L;

    RequestTimeoutException(String method, String url, Duration timeout, Throwable cause) {
        super(method, url, "no complete response within " + AsyncHttpClient.format(timeout), timeout, cause);
    }
}
