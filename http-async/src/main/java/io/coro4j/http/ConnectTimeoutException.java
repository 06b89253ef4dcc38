package io.coro4j.http;

import java.time.Duration;

/**
 * No connection was made within the client's connect timeout
 * ({@link AsyncHttpClient.Builder#connectTimeout}). Nothing was sent. Immutable.
 */
public final class ConnectTimeoutException extends HttpTimeoutException {
    private static final long serialVersionUID = 1L;

    ConnectTimeoutException(String method, String url, Duration timeout, Throwable cause) {
        super(method, url, "could not connect within " + AsyncHttpClient.format(timeout), timeout, cause);
    }
}
