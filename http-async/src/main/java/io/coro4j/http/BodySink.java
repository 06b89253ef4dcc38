package io.coro4j.http;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

/**
 * Collects one response body: at most {@code limit} bytes, then decodes its
 * {@code Content-Encoding} (gzip, deflate) into at most {@code limit} bytes too.
 *
 * <p>Why a consumer and not a {@link java.net.http.HttpResponse.BodySubscriber} of our own: the
 * JDK hands the body of a subscriber it did not write to its executor twice per response
 * ({@code getBody} "might block"), two thread hops that cost more than everything else this
 * client adds. {@link HttpResponse.BodySubscribers#ofByteArrayConsumer} is one of its own, so it
 * runs this consumer inline, on the thread that read the bytes. A consumer cannot cancel its
 * subscription, so on overflow the sink aborts the whole exchange through the future that
 * {@code sendAsync} returned ({@link #bind}); the caller then finds the reason in {@link #failure()}.
 *
 * <p>Threads: {@link #accept} is called by the HTTP client's threads, one call at a time (the
 * JDK's subscriber is sequential); {@link #bind}, {@link #failure()} and {@link #body()} by the
 * requesting task, the latter two after the exchange's future completed (which happens-after the
 * last {@code accept}). Decoding runs in {@code accept}, never on a carrier.
 */
final class BodySink implements Consumer<Optional<byte[]>> {

    /**
     * The most a declared {@code Content-Length} reserves at the headers. The length is the
     * server's promise, not bytes received: reserving all of it would let a server that sends a
     * few bytes of a promised limit-sized body take that much heap per request.
     */
    private static final int RESERVE_AT_MOST = 64 * 1024;

    private final String method;
    private final String url;
    private final long limit;
    private final boolean unknownCodingIsError;
    private List<String> codings = List.of();
    private byte[] buf = new byte[0];
    private int size;
    /** The declared {@code Content-Length} (at most the limit), or -1: how far the body grows at most. */
    private long declaredLength = -1;
    private byte[] body;
    private volatile RuntimeException failure;
    private volatile Future<?> exchange;

    BodySink(String method, String url, long limit, boolean unknownCodingIsError) {
        this.method = method;
        this.url = url;
        this.limit = limit;
        this.unknownCodingIsError = unknownCodingIsError;
    }

    /**
     * The body handler that feeds this sink; at the headers it refuses at once a
     * {@code Content-Length} above the limit.
     */
    HttpResponse.BodyHandler<Void> handler(boolean decode) {
        return info -> {
            size = 0; // a fresh start, should the JDK ask again (it does not for redirects today)
            buf = new byte[0];
            declaredLength = -1;
            codings = List.of();
            // No body: a HEAD (in any case: java.net.http, which frames the response, reads none for "head" either), a 204, a 304.
            boolean noBody = method.equalsIgnoreCase("HEAD") || info.statusCode() == 204 || info.statusCode() == 304;
            if (!noBody) {
                OptionalLong declared;
                try {
                    declared = info.headers().firstValueAsLong("Content-Length");
                } catch (NumberFormatException e) { // not a number: the response's framing is broken (RFC 9112, 6.3)
                    fail(new HttpIoException(method, url, "malformed response (Content-Length: "
                            + info.headers().firstValue("Content-Length").orElse("") + ")", e));
                    return HttpResponse.BodySubscribers.ofByteArrayConsumer(this);
                }
                if (declared.isPresent() && declared.getAsLong() > limit) {
                    fail(new BodyTooLargeException(method, url, limit, "Content-Length: " + declared.getAsLong()));
                } else if (declared.isPresent() && declared.getAsLong() > 0) {
                    declaredLength = declared.getAsLong();
                    buf = new byte[(int) Math.min(declaredLength, RESERVE_AT_MOST)];
                }
                if (decode) {
                    codings = codings(info.headers().allValues("Content-Encoding"));
                }
            }
            return HttpResponse.BodySubscribers.ofByteArrayConsumer(this);
        };
    }

    /** Gives the sink the exchange to abort if the body turns out too large. */
    void bind(Future<?> exchange) {
        this.exchange = exchange;
        if (failure != null) {
            exchange.cancel(true);
        }
    }

    /** Why the sink refused the body, or null. */
    RuntimeException failure() {
        return failure;
    }

    /** The decoded body, once the exchange has completed normally. */
    byte[] body() {
        return body;
    }

    @Override
    public void accept(Optional<byte[]> chunk) {
        if (failure != null) {
            return; // aborted: ignore what is still in flight
        }
        if (chunk.isPresent()) {
            byte[] b = chunk.get();
            if ((long) size + b.length > limit) {
                fail(new BodyTooLargeException(method, url, limit, "more than " + limit + " bytes arrived"));
                return;
            }
            if (size + b.length > buf.length) {
                long needed = (long) size + b.length;
                // Doubling, but not past a declared length the body keeps to: its last array is exact.
                long cap = declaredLength >= needed ? declaredLength : limit;
                buf = Arrays.copyOf(buf, (int) Math.min(cap, Math.max(needed, Math.max(256L, 2L * buf.length))));
            }
            System.arraycopy(b, 0, buf, size, b.length);
            size += b.length;
            return;
        }
        try {
            byte[] raw = size == buf.length ? buf : Arrays.copyOf(buf, size);
            body = decode(raw);
        } catch (RuntimeException e) {
            failure = e; // the exchange is complete: nothing to abort
        }
    }

    private void fail(RuntimeException e) {
        failure = e;
        Future<?> f = exchange;
        if (f != null) {
            f.cancel(true); // aborts the exchange and closes its connection
        }
    }

    /** The codings applied, last applied first (the order to undo them in); identity dropped. */
    static List<String> codings(List<String> headerValues) {
        List<String> out = new ArrayList<>();
        for (String v : headerValues) {
            for (String c : v.split(",")) {
                String t = c.trim().toLowerCase(Locale.ROOT);
                if (!t.isEmpty() && !t.equals("identity")) {
                    out.add(0, t);
                }
            }
        }
        return out;
    }

    private byte[] decode(byte[] raw) {
        if (codings.isEmpty() || raw.length == 0) {
            return raw;
        }
        for (String c : codings) {
            if (!c.equals("gzip") && !c.equals("x-gzip") && !c.equals("deflate")) {
                if (unknownCodingIsError) {
                    throw new HttpIoException(method, url, "unsupported Content-Encoding '" + c
                            + "' (gzip and deflate are decoded; the request asked for those only)", null);
                }
                return raw; // the caller asked for it: hand it over as received
            }
        }
        byte[] out = raw;
        for (String c : codings) {
            try (InputStream in = c.equals("deflate") ? inflater(out) : new GZIPInputStream(new ByteArrayInputStream(out))) {
                out = readAtMost(in, c);
            } catch (IOException e) {
                throw new HttpIoException(method, url, "the body is not valid " + c + " (Content-Encoding): " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** deflate is zlib (RFC 1950) by the spec, but some servers send raw deflate (RFC 1951): accept both. */
    private static InputStream inflater(byte[] data) {
        boolean zlib = data.length >= 2 && (data[0] & 0x0F) == 8 && (((data[0] & 0xFF) << 8) | (data[1] & 0xFF)) % 31 == 0;
        return new InflaterInputStream(new ByteArrayInputStream(data), new Inflater(!zlib)) {
            @Override
            public void close() throws IOException {
                super.close();
                inf.end(); // an Inflater given to the constructor is not ended by close()
            }
        };
    }

    private byte[] readAtMost(InputStream in, String coding) throws IOException {
        byte[] out = new byte[(int) Math.min(limit, 64 * 1024)];
        int n = 0;
        while (true) {
            if (n == out.length) {
                if (n >= limit) {
                    if (in.read() < 0) {
                        break;
                    }
                    throw new BodyTooLargeException(method, url, limit, "it decodes (" + coding + ") to more");
                }
                out = Arrays.copyOf(out, (int) Math.min(limit, 2L * out.length));
            }
            int r = in.read(out, n, out.length - n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }
}
