package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class HttpGatherExampleTest {

    /** Runs the example and returns its lines, with the server's ephemeral port replaced by PORT. */
    private static List<String> output(List<String> args) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            HttpGatherExample.run(args, out);
        }
        return bytes.toString(StandardCharsets.UTF_8).replaceAll("127\\.0\\.0\\.1:\\d+", "127.0.0.1:PORT").lines().toList();
    }

    @Test
    void withoutArguments_fetchesTheEmbeddedServersPages_inOrder() throws IOException {
        // That the pages are fetched together is checked below, by a server that sees them all at
        // once: a bound on the run's wall-clock time cannot tell (a cold JVM on a loaded machine
        // took 14 s where an idle one takes well under one).
        List<String> lines = output(List.of());
        assertThat(lines).containsExactly(
                "GET http://127.0.0.1:PORT/pages/1 -> 200, 1024 bytes",
                "GET http://127.0.0.1:PORT/pages/2 -> 200, 2048 bytes",
                "GET http://127.0.0.1:PORT/pages/3 -> 200, 4096 bytes",
                "GET http://127.0.0.1:PORT/pages/4 -> 200, 8192 bytes",
                "4 of 4 URLs fetched (on the threadpool scheduler)");
    }

    /**
     * The URLs are fetched together, not one after another: each response waits until the server
     * holds all four requests at once (a fetch one at a time would have the first wait in vain).
     */
    @Test
    void theUrlsAreFetchedTogether() throws IOException {
        int n = 4;
        CountDownLatch allArrived = new CountDownLatch(n);
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        server.createContext("/", e -> {
            try (e) {
                most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                allArrived.countDown();
                boolean together = allArrived.await(20, TimeUnit.SECONDS);
                inFlight.decrementAndGet();
                byte[] body = (together ? "together" : "alone").getBytes(StandardCharsets.UTF_8);
                e.sendResponseHeaders(200, body.length);
                try (OutputStream out = e.getResponseBody()) {
                    out.write(body);
                }
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt(); // the server is stopping
            }
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            List<String> urls = new ArrayList<>();
            List<String> expected = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                urls.add(base + "/" + i);
                expected.add("GET http://127.0.0.1:PORT/" + i + " -> 200, 8 bytes");
            }
            expected.add(n + " of " + n + " URLs fetched (on the threadpool scheduler)");
            assertThat(output(urls)).containsExactlyElementsOf(expected);
            assertThat(most.get()).as("requests at the server at once").isEqualTo(n);
        } finally {
            server.stop(0);
            executor.close();
        }
    }

    @Test
    void withUrls_fetchesThose_andAFailingUrlGetsItsOwnLine() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
        server.createContext("/", e -> {
            try (e; OutputStream out = e.getResponseBody()) {
                byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
                e.sendResponseHeaders(e.getRequestURI().getPath().equals("/missing") ? 404 : 200, body.length);
                out.write(body);
            }
        });
        server.start();
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            List<String> lines = output(List.of(base + "/hello", "http://127.0.0.1:" + closedPort + "/", base + "/missing", "nope://x"));
            assertThat(lines).containsExactly(
                    "GET http://127.0.0.1:PORT/hello -> 200, 5 bytes",
                    "GET http://127.0.0.1:PORT/ -> failed: connection refused",
                    "GET http://127.0.0.1:PORT/missing -> 404, 5 bytes",
                    "GET nope://x -> failed: unsupported scheme 'nope': only http and https are supported",
                    "2 of 4 URLs fetched (on the threadpool scheduler)");
        } finally {
            server.stop(0);
        }
    }
}
