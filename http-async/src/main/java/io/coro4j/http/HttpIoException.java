package io.coro4j.http;

/**
 * The connection failed after it was made: it was reset, it closed before the response was
 * complete (fewer bytes than {@code Content-Length}), the response was not valid HTTP (a broken
 * chunked encoding, a body that does not decode as its {@code Content-Encoding} says), or the TLS
 * handshake failed. The request may have reached the server, so it is never retried. Immutable.
 */
public final class HttpIoException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    HttpIoException(String method, String url, String problem, Throwable cause) {
        super(method, url, problem, cause);
    }
}
