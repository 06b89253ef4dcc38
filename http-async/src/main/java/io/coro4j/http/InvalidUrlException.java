package io.coro4j.http;

/**
 * The URL cannot be requested: it is malformed, is not absolute, has no host, or its scheme is
 * not {@code http} or {@code https}. Nothing was sent. Immutable.
 */
public final class InvalidUrlException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    InvalidUrlException(String method, String url, String problem, Throwable cause) {
        super(method, url, problem, cause);
    }
}
