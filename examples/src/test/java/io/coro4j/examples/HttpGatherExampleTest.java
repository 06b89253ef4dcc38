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
import java.util.List;
import java.util.concurrent.TimeUnit;
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
    void withoutArguments_fetchesTheEmbeddedServersPagesConcurrently_inOrder() throws IOException {
        long start = System.nanoTime();
        List<String> lines = output(List.of());
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(lines).containsExactly(
                "GET http://127.0.0.1:PORT/pages/1 -> 200, 1024 bytes",
                "GET http://127.0.0.1:PORT/pages/2 -> 200, 2048 bytes",
                "GET http://127.0.0.1:PORT/pages/3 -> 200, 4096 bytes",
                "GET http://127.0.0.1:PORT/pages/4 -> 200, 8192 bytes",
                "4 of 4 URLs fetched (on the threadpool scheduler)");
        assertThat(ms).as("four 100 ms pages fetched together, not one after another").isLessThan(5_000);
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
                    "GET nope://x -> failed: unsupported scheme 'nope': only http and https are",
                    "2 of 4 URLs fetched (on the threadpool scheduler)");
        } finally {
            server.stop(0);
        }
    }
}
