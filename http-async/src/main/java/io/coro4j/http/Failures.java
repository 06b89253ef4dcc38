package io.coro4j.http;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import javax.net.ssl.SSLException;

/** Translates what {@link java.net.http.HttpClient} fails with into this package's exceptions. */
final class Failures {

    private Failures() {}

    /**
     * The exception to throw for {@code failure}, a failure of one exchange.
     * A cancellation, an {@link Error} or an unexpected runtime exception (a bug) comes back as it is.
     */
    static RuntimeException translate(Throwable failure, String method, String url, String host,
                                      Duration connectTimeout, Duration requestTimeout) {
        Throwable t = unwrap(failure);
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof HttpRequestException own) {
                return own; // ours, from the body reader
            }
        }
        if (t instanceof CancellationException ce) {
            return ce;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t instanceof HttpConnectTimeoutException) {
            return new ConnectTimeoutException(method, url, connectTimeout, t);
        }
        if (t instanceof java.net.http.HttpTimeoutException) {
            return new RequestTimeoutException(method, url, requestTimeout, t);
        }
        if (has(t, UnresolvedAddressException.class) || has(t, UnknownHostException.class)) {
            return new HttpConnectException(method, url, "unknown host '" + host + "' (it does not resolve)", t);
        }
        if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
            String m = String.valueOf(t.getMessage());
            // The JDK retries a refused connect once, on the channel the refusal closed: what
            // reaches us is then a ConnectException with no message caused by a ClosedChannelException.
            boolean refused = m.toLowerCase(Locale.ROOT).contains("refused")
                    || (t.getMessage() == null && t.getCause() instanceof ClosedChannelException);
            String what = refused ? "connection refused" : "could not connect: " + m;
            return new HttpConnectException(method, url, what, t);
        }
        SSLException ssl = find(t, SSLException.class);
        if (ssl != null) {
            return new HttpIoException(method, url, "TLS failure: " + ssl.getMessage(), t);
        }
        if (t instanceof IOException io) {
            return new HttpIoException(method, url, describe(io), t);
        }
        if (t instanceof UncheckedIOException u) {
            // How the JDK fails a request whose body stream (RequestBody.ofInputStream) cannot be
            // opened or read: an I/O failure of this request, not a bug.
            return new HttpIoException(method, url, "the request body could not be read (" + u.getCause() + ")", t);
        }
        if (t instanceof RuntimeException r) {
            return r;
        }
        return new HttpIoException(method, url, String.valueOf(t), t);
    }

    /** Words for an I/O failure after connecting. */
    static String describe(IOException e) {
        String m = String.valueOf(e.getMessage());
        String lower = m.toLowerCase(Locale.ROOT);
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof SocketException && String.valueOf(c.getMessage()).toLowerCase(Locale.ROOT).contains("reset")) {
                return "connection reset by the server";
            }
        }
        if (lower.contains("received no bytes")) {
            return "connection closed by the server before any response";
        }
        if (e instanceof EOFException || lower.contains("eof reached") || lower.contains("content-length")) {
            return "connection closed before the response was complete (" + m + ")";
        }
        if (e instanceof ProtocolException || lower.contains("chunk") || lower.contains("invalid")) {
            return "malformed response (" + m + ")";
        }
        return "connection failed: " + e.getClass().getSimpleName() + ": " + m;
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static boolean has(Throwable t, Class<? extends Throwable> type) {
        return find(t, type) != null;
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    /** Rethrows any throwable without declaring it. */
    @SuppressWarnings("unchecked")
    static <E extends Throwable> E sneaky(Throwable t) throws E {
        throw (E) t;
    }
}
