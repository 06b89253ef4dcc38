package io.coro4j.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.SSLContext;

/**
 * A well-behaved HTTP server on 127.0.0.1 (the JDK's com.sun.net.httpserver), with the endpoints
 * the tests need, counting requests being handled ({@link #active}, {@link #maxActive}: from the
 * handler's start to just before its response is sent) and attempts per key ({@link #attempts}).
 */
final class TestHttpServer implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    final AtomicInteger active = new AtomicInteger();
    final AtomicInteger maxActive = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();
    final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    /** Requests held at {@code /gate} now; the gate, open until {@link #closeGate()}. */
    final AtomicInteger gated = new AtomicInteger();
    /** Responses being written at {@code /drip} now: until the client aborts. */
    final AtomicInteger dripping = new AtomicInteger();
    private volatile java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(0);
    /** The exchanges counted in {@link #active} (not exchange attributes: the JDK shares those per context). */
    private final java.util.Set<HttpExchange> counted = ConcurrentHashMap.newKeySet();

    private TestHttpServer(HttpServer server) {
        this.server = server;
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    static TestHttpServer http() throws IOException {
        return new TestHttpServer(HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1000));
    }

    static TestHttpServer https(SSLContext ssl) throws IOException {
        HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1000);
        s.setHttpsConfigurator(new HttpsConfigurator(ssl));
        return new TestHttpServer(s);
    }

    String url(String pathAndQuery) {
        String scheme = server instanceof HttpsServer ? "https" : "http";
        return scheme + "://127.0.0.1:" + server.getAddress().getPort() + pathAndQuery;
    }

    int attempts(String key) {
        AtomicInteger n = attempts.get(key);
        return n == null ? 0 : n.get();
    }

    /** From now on, {@code /gate} holds each request until {@link #openGate()} (or 20 s). */
    void closeGate() {
        gate = new java.util.concurrent.CountDownLatch(1);
    }

    void openGate() {
        gate.countDown();
    }

    /**
     * Zeroes the counters for the next test. Handlers an earlier test left running (a long
     * {@code /sleep} whose client gave up) stop counting as active: left in, they would add to
     * every {@link #maxActive} until they end.
     */
    void resetCounters() {
        for (HttpExchange ex : counted) {
            leave(ex);
        }
        maxActive.set(0);
        requests.set(0);
        attempts.clear();
    }

    /** n bytes: 'a'..'z' repeated. */
    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    private void handle(HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        int now = active.incrementAndGet();
        maxActive.accumulateAndGet(now, Math::max);
        counted.add(ex);
        try (ex) {
            URI uri = ex.getRequestURI();
            Map<String, String> q = query(uri.getRawQuery());
            byte[] requestBody = ex.getRequestBody().readAllBytes();
            switch (uri.getPath()) {
                case "/bytes" -> send(ex, 200, pattern(Integer.parseInt(q.getOrDefault("n", "10"))), false);
                case "/chunked" -> send(ex, 200, pattern(Integer.parseInt(q.getOrDefault("n", "10"))), true);
                case "/text" -> {
                    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=ISO-8859-1");
                    send(ex, 200, "h\u00e9llo w\u00f6rld".getBytes(StandardCharsets.ISO_8859_1), false);
                }
                case "/gzip" -> {
                    byte[] plain = pattern(Integer.parseInt(q.getOrDefault("n", "1000")));
                    ByteArrayOutputStream b = new ByteArrayOutputStream();
                    try (GZIPOutputStream z = new GZIPOutputStream(b)) {
                        z.write(plain);
                    }
                    ex.getResponseHeaders().set("Content-Encoding", "gzip");
                    ex.getResponseHeaders().set("X-Accept-Encoding", String.valueOf(ex.getRequestHeaders().getFirst("Accept-Encoding")));
                    send(ex, 200, b.toByteArray(), false);
                }
                case "/deflate" -> {
                    byte[] plain = pattern(Integer.parseInt(q.getOrDefault("n", "1000")));
                    ByteArrayOutputStream b = new ByteArrayOutputStream();
                    try (DeflaterOutputStream z = new DeflaterOutputStream(b, new Deflater(6, q.containsKey("raw")))) {
                        z.write(plain);
                    }
                    ex.getResponseHeaders().set("Content-Encoding", "deflate");
                    send(ex, 200, b.toByteArray(), false);
                }
                case "/notgzip" -> {
                    ex.getResponseHeaders().set("Content-Encoding", "gzip");
                    send(ex, 200, "plain text, not gzip".getBytes(StandardCharsets.UTF_8), false);
                }
                case "/br" -> {
                    ex.getResponseHeaders().set("Content-Encoding", "br");
                    send(ex, 200, new byte[] {1, 2, 3}, false);
                }
                case "/status" -> send(ex, Integer.parseInt(q.getOrDefault("code", "200")), "status".getBytes(StandardCharsets.UTF_8), false);
                case "/echo" -> {
                    ex.getResponseHeaders().set("X-Method", ex.getRequestMethod());
                    ex.getResponseHeaders().set("X-Content-Type", String.valueOf(ex.getRequestHeaders().getFirst("Content-Type")));
                    ex.getResponseHeaders().set("X-Test", String.valueOf(ex.getRequestHeaders().get("X-Test")));
                    send(ex, 200, requestBody, false);
                }
                case "/gate" -> {
                    gated.incrementAndGet();
                    try {
                        gate.await(20, java.util.concurrent.TimeUnit.SECONDS);
                    } finally {
                        gated.decrementAndGet();
                    }
                    send(ex, 200, "opened".getBytes(StandardCharsets.UTF_8), false);
                }
                case "/sleep" -> {
                    Thread.sleep(Long.parseLong(q.getOrDefault("ms", "10")));
                    send(ex, 200, q.getOrDefault("id", "").getBytes(StandardCharsets.UTF_8), false);
                }
                case "/retry" -> {
                    // The first `fails` attempts for `key` answer `status` (with Retry-After if given), then 200.
                    String key = q.get("key");
                    int n = attempts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                    if (n <= Integer.parseInt(q.getOrDefault("fails", "1"))) {
                        if (q.containsKey("retryAfter")) {
                            ex.getResponseHeaders().set("Retry-After", q.get("retryAfter"));
                        }
                        send(ex, Integer.parseInt(q.getOrDefault("status", "429")), "later".getBytes(StandardCharsets.UTF_8), false);
                    } else {
                        send(ex, 200, ("attempt " + n).getBytes(StandardCharsets.UTF_8), false);
                    }
                }
                case "/redirect307" -> {
                    // After reading the body: the client resends it to /echo.
                    ex.getResponseHeaders().set("Location", "/echo");
                    send(ex, 307, new byte[0], false);
                }
                case "/drip" -> {
                    // A chunked body, 1 KiB every 20 ms, until the client goes away (a write fails).
                    leave(ex);
                    ex.sendResponseHeaders(200, 0);
                    dripping.incrementAndGet();
                    try (OutputStream out = ex.getResponseBody()) {
                        byte[] kib = pattern(1024);
                        while (true) {
                            out.write(kib);
                            out.flush();
                            Thread.sleep(20);
                        }
                    } catch (IOException gone) {
                        // the client aborted the exchange
                    } finally {
                        dripping.decrementAndGet();
                    }
                }
                case "/redirect" -> {
                    ex.getResponseHeaders().set("Location", "/bytes?n=3");
                    send(ex, 302, new byte[0], false);
                }
                default -> send(ex, 404, new byte[0], false);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            leave(ex);
        }
    }

    /**
     * Stops counting {@code ex} as active. Called just before the response is sent: once its last
     * byte is out, the client may count the request as done and start another before this thread
     * gets to run again, so counting any longer would see one more than the client has in flight.
     */
    private void leave(HttpExchange ex) {
        if (counted.remove(ex)) {
            active.decrementAndGet();
        }
    }

    private void send(HttpExchange ex, int status, byte[] body, boolean chunked) throws IOException {
        leave(ex);
        boolean head = ex.getRequestMethod().equals("HEAD");
        if (head) {
            ex.getResponseHeaders().set("Content-Length", String.valueOf(body.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        if (status == 204 || status == 304) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, chunked ? 0 : body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> m = new HashMap<>();
        if (raw != null) {
            for (String p : raw.split("&")) {
                int eq = p.indexOf('=');
                m.put(eq < 0 ? p : p.substring(0, eq), eq < 0 ? "" : p.substring(eq + 1));
            }
        }
        return m;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
