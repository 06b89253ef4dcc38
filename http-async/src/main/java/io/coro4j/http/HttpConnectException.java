package io.coro4j.http;

/**
 * No connection to the server could be made: the host name is unknown, the connection was
 * refused, or the network is unreachable. Nothing was sent; a {@link RetryPolicy}, when one is
 * set, retries it for the methods it covers. A connect <em>timeout</em> is a
 * {@link ConnectTimeoutException} instead. Immutable.
 */
public final class HttpConnectException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    HttpConnectException(String method, String url, String problem, Throwable cause) {
        super(method, url, problem, cause);
    }
}
