package io.coro4j.examples;

import com.sun.net.httpserver.HttpServer;
import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Schedulers;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.HttpRequestException;
import io.coro4j.http.Response;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The seed's second example: fetch several URLs concurrently and print each body's length,
 * Python's
 * <pre>
 * async with aiohttp.ClientSession() as session:
 *     pages = await asyncio.gather(*(fetch(session, url) for url in urls), return_exceptions=True)
 * </pre>
 * with {@link AsyncHttpClient#getAllSettled}: all URLs in flight together (up to the client's
 * limits), results in the order given, and a URL that fails gets its own error line without
 * disturbing the others. ({@code Coro.gatherSettled} over tasks that each call
 * {@code http.get(url)} does the same; {@code getAllSettled} needs no task per URL.)
 *
 * <p>With no arguments it starts a small HTTP server on 127.0.0.1 (an ephemeral port) and fetches
 * four pages from it, so it runs without a network; with URLs as arguments it fetches those.
 * It prints one line per URL, then a summary:
 * <pre>
 * GET http://127.0.0.1:40111/pages/1 -&gt; 200, 1024 bytes
 * GET http://127.0.0.1:1/ -&gt; failed: connection refused
 * 1 of 2 URLs fetched (on the threadpool scheduler)
 * </pre>
 * The exit status is 1 if a URL failed.
 */
public final class HttpGatherExample {

    /** The pages of the embedded server: path and size in bytes. */
    static final List<Integer> PAGE_SIZES = List.of(1024, 2048, 4096, 8192);

    private HttpGatherExample() {}

    public static void main(String[] args) throws IOException {
        int failed = run(List.of(args), System.out);
        if (failed > 0) {
            System.exit(1);
        }
    }

    /**
     * Fetches {@code urls} (or the embedded server's pages when empty), prints one line per URL
     * and a summary to {@code out}.
     *
     * @return how many URLs failed
     */
    static int run(List<String> urls, PrintStream out) throws IOException {
        if (!urls.isEmpty()) {
            return fetch(urls, out);
        }
        try (EmbeddedServer server = EmbeddedServer.start()) {
            return fetch(server.urls(), out);
        }
    }

    private static int fetch(List<String> urls, PrintStream out) {
        int failed = 0;
        try (AsyncHttpClient http = AsyncHttpClient.builder()
                .connectTimeout(Duration.ofSeconds(5))
                .requestTimeout(Duration.ofSeconds(20))
                .build()) {
            List<Outcome<Response>> results = Coro.run(() -> http.getAllSettled(urls));
            for (int i = 0; i < urls.size(); i++) {
                Outcome<Response> o = results.get(i);
                if (o instanceof Outcome.Success<Response>(Response r)) {
                    out.println("GET " + urls.get(i) + " -> " + r.status() + ", " + r.bodyLength() + " bytes");
                } else {
                    failed++;
                    out.println("GET " + urls.get(i) + " -> failed: " + problem(((Outcome.Failure<Response>) o).exception()));
                }
            }
        }
        out.println((urls.size() - failed) + " of " + urls.size() + " URLs fetched (on the "
                + Schedulers.defaultScheduler().kind() + " scheduler)");
        return failed;
    }

    /** What went wrong, without the "GET url: " that every HttpRequestException message starts with. */
    private static String problem(Throwable e) {
        String m = String.valueOf(e.getMessage());
        if (e instanceof HttpRequestException h) {
            String prefix = h.method() + " " + h.url() + ": ";
            return m.startsWith(prefix) ? m.substring(prefix.length()) : m;
        }
        return e.getClass().getSimpleName() + ": " + m;
    }

    /** A JDK HTTP server on 127.0.0.1 serving {@link #PAGE_SIZES} at /pages/1.., each after a short pause. */
    static final class EmbeddedServer implements AutoCloseable {
        private final HttpServer server;
        private final ExecutorService executor;

        private EmbeddedServer(HttpServer server, ExecutorService executor) {
            this.server = server;
            this.executor = executor;
        }

        static EmbeddedServer start() throws IOException {
            HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
            ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor();
            s.setExecutor(ex);
            s.createContext("/pages/", e -> {
                try (e) {
                    int page = pageNumber(e.getRequestURI().getPath().substring("/pages/".length()));
                    if (page < 1 || page > PAGE_SIZES.size()) {
                        e.sendResponseHeaders(404, -1);
                        return;
                    }
                    byte[] body = new byte[PAGE_SIZES.get(page - 1)];
                    java.util.Arrays.fill(body, (byte) ('a' + page));
                    Thread.sleep(100); // a slow page: fetched together, four of them take ~100 ms, not 400
                    e.getResponseHeaders().set("Content-Type", "text/plain");
                    e.sendResponseHeaders(200, body.length);
                    try (OutputStream out = e.getResponseBody()) {
                        out.write(body);
                    }
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt(); // the server is stopping
                }
            });
            s.start();
            return new EmbeddedServer(s, ex);
        }

        /** The page number in a path's last part, or -1 if it is not a number. */
        private static int pageNumber(String s) {
            try {
                return Integer.parseInt(s);
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        List<String> urls() {
            List<String> urls = new ArrayList<>();
            for (int i = 1; i <= PAGE_SIZES.size(); i++) {
                urls.add("http://127.0.0.1:" + server.getAddress().getPort() + "/pages/" + i);
            }
            return urls;
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}
