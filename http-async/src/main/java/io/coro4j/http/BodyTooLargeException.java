package io.coro4j.http;

/**
 * The response body is larger than the client's limit ({@link AsyncHttpClient.Builder#maxBodySize}):
 * its {@code Content-Length} said so, more bytes than that arrived, or it decoded (gzip, deflate) to
 * more than that. Reading stopped there and the connection was closed. Immutable.
 */
public final class BodyTooLargeException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    private final long limit;

    BodyTooLargeException(String method, String url, long limit, String detail) {
        super(method, url, "response body exceeds the limit of " + limit + " bytes (" + detail + ")", null);
        this.limit = limit;
    }

    /** The limit in bytes. */
    public long limit() {
        return limit;
    }
}
