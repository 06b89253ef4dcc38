package io.coro4j.http;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The body of a request: a string, bytes, or a stream, with the {@code Content-Type} it implies
 * (used unless the request sets that header itself).
 *
 * <p>Every body can be sent more than once, which retries need: strings and bytes are kept, and a
 * stream body asks its supplier for a fresh stream for each attempt. A stream is read by the
 * {@link java.net.http.HttpClient}'s own threads, never by a coroutine's carrier, so a blocking
 * {@link InputStream} (a file, a pipe) is fine. One whose read never returns is not: a timeout
 * or cancellation ends the request, but not the read, and {@link AsyncHttpClient#close()} waits
 * for the client's threads, that one among them, as {@code HttpClient.close()} does.
 *
 * <p>Immutable and thread-safe (a stream body is as thread-safe as its supplier).
 */
public final class RequestBody {

    private static final RequestBody EMPTY = new RequestBody(HttpRequest.BodyPublishers.noBody(), null, 0);

    /** A stream body's supplier (then {@link #fixed} is null), else null. */
    private final Supplier<? extends InputStream> streams;
    /** The upload of every attempt of a body that is not a stream (nothing to close): no allocation per request. */
    private final Upload fixed;
    private final String contentType;
    private final long length;

    private RequestBody(HttpRequest.BodyPublisher publisher, String contentType, long length) {
        this.streams = null;
        this.fixed = new Upload(publisher, null, null, null);
        this.contentType = contentType;
        this.length = length;
    }

    private RequestBody(Supplier<? extends InputStream> streams, String contentType) {
        this.streams = streams;
        this.fixed = null;
        this.contentType = contentType;
        this.length = -1;
    }

    /** No body (the default for requests that have none). */
    public static RequestBody empty() {
        return EMPTY;
    }

    /** {@code text} in UTF-8, as {@code text/plain; charset=UTF-8}. */
    public static RequestBody ofString(String text) {
        return ofString(text, "text/plain; charset=UTF-8");
    }

    /**
     * {@code text} encoded in the charset named by {@code contentType}'s {@code charset} parameter
     * (UTF-8 if it names none, one this JVM does not support, or one it can only decode, such as
     * {@code x-JISAutoDetect}), sent with that content type
     * (e.g. {@code "application/json"}).
     *
     * @throws IllegalArgumentException if {@code contentType} could not be a header value (a line
     *     break, another control character, a character above U+00FF), as {@link Request.Builder#header}
     */
    public static RequestBody ofString(String text, String contentType) {
        Objects.requireNonNull(text, "text");
        checkContentType(contentType);
        // A charset known only for decoding has no encoder: String.getBytes would throw a bare
        // UnsupportedOperationException for it, so it counts as one this JVM does not support.
        Charset charset = Response.charsetOf(contentType).filter(Charset::canEncode).orElse(StandardCharsets.UTF_8);
        byte[] bytes = text.getBytes(charset);
        return new RequestBody(HttpRequest.BodyPublishers.ofByteArray(bytes), contentType, bytes.length);
    }

    /** A copy of {@code bytes}, as {@code application/octet-stream}. */
    public static RequestBody ofBytes(byte[] bytes) {
        return ofBytes(bytes, "application/octet-stream");
    }

    /**
     * A copy of {@code bytes}, sent with {@code contentType}.
     *
     * @throws IllegalArgumentException if {@code contentType} could not be a header value (a line
     *     break, another control character, a character above U+00FF), as {@link Request.Builder#header}
     */
    public static RequestBody ofBytes(byte[] bytes, String contentType) {
        Objects.requireNonNull(bytes, "bytes");
        checkContentType(contentType);
        byte[] copy = bytes.clone();
        return new RequestBody(HttpRequest.BodyPublishers.ofByteArray(copy), contentType, copy.length);
    }

    /**
     * The bytes of a stream, sent chunked (its length is not known in advance), with
     * {@code contentType}. {@code streams} is called once per attempt (once more for a redirect
     * that resends the body) and the stream it returns is closed after it has been read, or when
     * the attempt ends before that (it failed, timed out or was cancelled, or the server answered
     * without reading the whole body), then on a virtual thread of its own. It is read on a thread of
     * the HTTP client, not on a carrier. A supplier that throws or returns null, and a stream whose
     * read (or close, at its end) throws, fail the attempt with an {@link HttpIoException} naming
     * the request.
     *
     * @throws IllegalArgumentException if {@code contentType} could not be a header value (a line
     *     break, another control character, a character above U+00FF), as {@link Request.Builder#header}
     */
    public static RequestBody ofInputStream(Supplier<? extends InputStream> streams, String contentType) {
        Objects.requireNonNull(streams, "streams");
        checkContentType(contentType);
        return new RequestBody(streams, contentType);
    }

    /**
     * A content type is sent as the {@code Content-Type} header: one that header could not hold is
     * refused here, as {@link Request.Builder#header} refuses it, not when each request is sent.
     */
    private static void checkContentType(String contentType) {
        Objects.requireNonNull(contentType, "contentType");
        Request.checkValue("Content-Type", contentType);
    }

    /** The content type this body implies, if any. */
    public Optional<String> contentType() {
        return Optional.ofNullable(contentType);
    }

    /** The length in bytes, or -1 for a stream. */
    public long length() {
        return length;
    }

    /**
     * The body of one attempt of a request with {@code method} and {@code url}: a publisher for the
     * JDK client, and the streams it opened to close when the attempt ends.
     */
    Upload upload(String method, String url) {
        return streams == null ? fixed : new Upload(null, streams, method, url);
    }

    /**
     * One attempt's body. {@link #close()}, called when the attempt has ended however it ended,
     * closes the streams the attempt opened that are still open, and any it opens later (the JDK may
     * still call the supplier); the JDK closes a stream it read to the end itself. Thread-safe.
     */
    static final class Upload {
        final HttpRequest.BodyPublisher publisher;
        private final Supplier<? extends InputStream> streams;
        /** The request's method and URL, for the failures of its stream. */
        private final String method;
        private final String url;
        /** The streams opened, until {@link #close()}; guarded by this. */
        private List<Opened> opened;
        private boolean over;

        private Upload(HttpRequest.BodyPublisher publisher, Supplier<? extends InputStream> streams, String method, String url) {
            this.streams = streams;
            this.method = method;
            this.url = url;
            this.publisher = streams == null ? publisher : HttpRequest.BodyPublishers.ofInputStream(this::open);
        }

        /**
         * The JDK's supplier: a supplier that fails (other than with an UncheckedIOException, which
         * the client translates itself) or gives null is a body that cannot be opened, an
         * HttpIoException of this request, which the JDK fails the exchange with.
         */
        private InputStream open() {
            InputStream in;
            try {
                in = streams.get();
            } catch (UncheckedIOException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new HttpIoException(method, url, "the request body could not be read (its stream supplier threw " + e + ")", e);
            }
            if (in == null) {
                throw new HttpIoException(method, url, "the request body could not be read (its stream supplier returned null)", null);
            }
            Opened o = new Opened(in, this);
            boolean closeNow;
            synchronized (this) {
                closeNow = over;
                if (!over) {
                    (opened == null ? opened = new ArrayList<>(1) : opened).add(o);
                }
            }
            if (closeNow) {
                o.closeQuietly(); // the attempt is over: the JDK's read fails, and nothing is sent
            }
            return o;
        }

        /**
         * Closes what the attempt opened and the JDK did not close, on a virtual thread of its own:
         * this runs where the exchange ended (a carrier, if its task was cancelled; the HTTP client's
         * thread), and a stream's close may block (one over a connection may drain it first).
         */
        void close() {
            if (streams == null) {
                return;
            }
            List<Opened> left;
            synchronized (this) {
                over = true;
                left = opened;
                opened = null;
            }
            if (left != null) {
                left.removeIf(Opened::isClosed);
                if (!left.isEmpty()) {
                    Thread.ofVirtual().name("coro4j-http-body-close").start(() -> left.forEach(Opened::closeQuietly));
                }
            }
        }
    }

    /**
     * A stream as the JDK reads it, which knows whether it has been closed, passes only the first
     * close on, and whose reads and close fail with an HttpIoException of the request where the
     * stream throws an unchecked exception (the JDK would hand that on as it is).
     */
    private static final class Opened extends FilterInputStream {
        private final Upload upload;
        /**
         * Set by the first close, which alone closes the stream: the JDK (at the end of the stream)
         * and {@link Upload#close()} (when the attempt ends) may both close it, at about the same time.
         */
        private final AtomicBoolean closed = new AtomicBoolean();

        Opened(InputStream in, Upload upload) {
            super(in);
            this.upload = upload;
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (UncheckedIOException | HttpRequestException e) {
                throw e;
            } catch (RuntimeException e) {
                throw unreadable(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (UncheckedIOException | HttpRequestException e) {
                throw e;
            } catch (RuntimeException e) {
                throw unreadable(e);
            }
        }

        private HttpIoException unreadable(RuntimeException e) {
            return new HttpIoException(upload.method, upload.url, "the request body could not be read (" + e + ")", e);
        }

        boolean isClosed() {
            return closed.get();
        }

        @Override
        public void close() throws IOException {
            if (closed.compareAndSet(false, true)) {
                try {
                    in.close();
                } catch (UncheckedIOException | HttpRequestException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw unreadable(e); // the JDK closes the stream at its end, and would hand this on as it is
                }
            }
        }

        /** Closes; a failure to close is ignored (the attempt has its outcome already). */
        void closeQuietly() {
            try {
                close();
            } catch (Exception | Error e) {
                // nothing to report it to
            }
        }
    }

    @Override
    public String toString() {
        return "RequestBody[" + (length < 0 ? "stream" : length + " bytes") + (contentType != null ? ", " + contentType : "") + "]";
    }
}
