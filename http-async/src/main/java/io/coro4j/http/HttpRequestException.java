package io.coro4j.http;

/**
 * A request to one URL failed. The base of every exception {@link AsyncHttpClient} throws for a
 * request; the subclass says what went wrong, the message says it in words and always starts with
 * the method and the URL ({@code "GET http://host/path: connection refused"}).
 *
 * <ul>
 *   <li>{@link InvalidUrlException}: the URL is malformed, has no host or an unsupported scheme;</li>
 *   <li>{@link HttpConnectException}: no connection could be made (refused, unknown host);</li>
 *   <li>{@link HttpIoException}: the connection broke or the server answered with something that
 *       is not HTTP (reset, closed before the end of the body, broken chunked encoding, TLS);</li>
 *   <li>{@link HttpTimeoutException}: a deadline passed ({@link ConnectTimeoutException},
 *       {@link RequestTimeoutException}, {@link SlotWaitTimeoutException});</li>
 *   <li>{@link HttpRejectedException}: too many requests were already waiting for a slot;</li>
 *   <li>{@link BodyTooLargeException}: the response body is larger than the configured limit;</li>
 *   <li>{@link HttpStatusException}: thrown only by {@link Response#raiseForStatus()}.</li>
 * </ul>
 *
 * <p>Unchecked, so that it crosses task boundaries ({@code join}, {@code gather}) as it is.
 * When retries were made, the failures of the earlier attempts are attached as
 * {@linkplain #getSuppressed() suppressed} exceptions. Instances are immutable apart from that.
 */
public class HttpRequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String method;
    private final String url;

    HttpRequestException(String method, String url, String problem, Throwable cause) {
        super(method + " " + url + ": " + problem, cause);
        this.method = method;
        this.url = url;
    }

    /** The request's method, e.g. {@code "GET"}. */
    public String method() {
        return method;
    }

    /** The URL as it was given (it may be malformed: see {@link InvalidUrlException}). */
    public String url() {
        return url;
    }
}
