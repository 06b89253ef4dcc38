package io.coro4j.http;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.nio.charset.Charset;
import java.nio.charset.IllegalCharsetNameException;
import java.nio.charset.StandardCharsets;
import java.nio.charset.UnsupportedCharsetException;
import java.util.Locale;
import java.util.Optional;

/**
 * A complete response: status, headers and the whole body, already read (up to the client's
 * {@linkplain AsyncHttpClient.Builder#maxBodySize size limit}) and decoded from gzip or deflate
 * when its {@code Content-Encoding} said so. The headers are as received (a decoded body keeps
 * its {@code Content-Encoding} and {@code Content-Length} headers).
 *
 * <p>A response with an error status is still a response: nothing throws until
 * {@link #raiseForStatus()} is called.
 *
 * <p>Immutable and thread-safe.
 */
public final class Response {

    private final Request request;
    private final int status;
    private final HttpHeaders headers;
    private final URI uri;
    private final HttpClient.Version version;
    private final byte[] body;
    private final int attempts;

    Response(Request request, int status, HttpHeaders headers, URI uri, HttpClient.Version version, byte[] body, int attempts) {
        this.request = request;
        this.status = status;
        this.headers = headers;
        this.uri = uri;
        this.version = version;
        this.body = body;
        this.attempts = attempts;
    }

    /** The request this answers (the original one, before redirects). */
    public Request request() {
        return request;
    }

    /** The status code. */
    public int status() {
        return status;
    }

    /** Whether the status is 2xx. */
    public boolean isSuccess() {
        return status >= 200 && status < 300;
    }

    /**
     * Returns this response if its status is below 400, otherwise throws.
     *
     * @throws HttpStatusException for a 4xx or 5xx status, carrying the status, the URL and this response
     */
    public Response raiseForStatus() {
        if (status >= 400) {
            throw new HttpStatusException(this);
        }
        return this;
    }

    /** The headers as received. */
    public HttpHeaders headers() {
        return headers;
    }

    /** The first value of header {@code name} (case-insensitive), if present. */
    public Optional<String> header(String name) {
        return headers.firstValue(name);
    }

    /** The URI that answered: the request's, or the last one redirected to. */
    public URI uri() {
        return uri;
    }

    /** The HTTP version that was used. */
    public HttpClient.Version version() {
        return version;
    }

    /** How many attempts this took (1 without retries). */
    public int attempts() {
        return attempts;
    }

    /** The length of the (decoded) body in bytes. */
    public int bodyLength() {
        return body.length;
    }

    /** A copy of the (decoded) body. */
    public byte[] bodyBytes() {
        return body.clone();
    }

    /**
     * The body as text, in the charset of the {@code Content-Type} header, or UTF-8 if it names
     * none or one this JVM does not know.
     */
    public String bodyAsString() {
        return new String(body, header("Content-Type").flatMap(Response::charsetOf).orElse(StandardCharsets.UTF_8));
    }

    /** The body as text in {@code charset}. */
    public String bodyAsString(Charset charset) {
        return new String(body, charset);
    }

    /**
     * The body as a stream. It reads the body already in memory, so reading it never blocks and
     * is safe on any carrier.
     */
    public InputStream bodyStream() {
        return new ByteArrayInputStream(body);
    }

    @Override
    public String toString() {
        return "Response[" + request.method() + " " + request.url() + " -> " + status + ", " + body.length + " bytes]";
    }

    /** The charset named by a content type's {@code charset} parameter, if any and supported. */
    static Optional<Charset> charsetOf(String contentType) {
        for (String part : contentType.split(";")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq > 0 && p.substring(0, eq).trim().toLowerCase(Locale.ROOT).equals("charset")) {
                String name = p.substring(eq + 1).trim();
                if (name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")) {
                    name = name.substring(1, name.length() - 1);
                }
                try {
                    return Optional.of(Charset.forName(name));
                } catch (IllegalCharsetNameException | UnsupportedCharsetException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }
}
