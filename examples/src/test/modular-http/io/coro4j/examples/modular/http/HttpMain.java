package io.coro4j.examples.modular.http;

import com.sun.net.httpserver.HttpServer;
import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.Response;
import io.coro4j.spi.Scheduler;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts a JDK HTTP server on 127.0.0.1 (an ephemeral port), fetches three pages and a missing
 * one from it with {@code Coro.gather} over a task per URL, and again with
 * {@code AsyncHttpClient.getAll}, on the scheduler {@code ServiceLoader} finds; prints what it got
 * and which modules it ran in.
 */
public final class HttpMain {

    private HttpMain() {}

    public static void main(String[] args) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/pages/", e -> {
            try (e) {
                String page = e.getRequestURI().getPath().substring("/pages/".length());
                if (!page.matches("[1-3]")) {
                    e.sendResponseHeaders(404, -1);
                    return;
                }
                byte[] body = ("page " + page).getBytes(StandardCharsets.UTF_8);
                e.sendResponseHeaders(200, body.length);
                try (OutputStream out = e.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.start();
        try (AsyncHttpClient http = AsyncHttpClient.builder()
                .connectTimeout(Duration.ofSeconds(10)).requestTimeout(Duration.ofSeconds(20)).build()) {
            Scheduler scheduler = Schedulers.defaultScheduler();
            System.out.println("app " + HttpMain.class.getModule().getName() + ", client "
                    + AsyncHttpClient.class.getModule().getName() + " on " + HttpClient.class.getModule().getName()
                    + ", scheduler " + scheduler.kind() + " from " + scheduler.getClass().getModule().getName());
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            List<String> paths = List.of("/pages/1", "/pages/2", "/pages/3", "/pages/4");
            List<Response> gathered = Coro.run(() -> {
                List<Task<Response>> tasks = new ArrayList<>();
                for (String p : paths) {
                    tasks.add(Coro.spawn(() -> http.get(base + p)));
                }
                return Coro.gather(tasks);
            });
            for (int i = 0; i < paths.size(); i++) {
                Response r = gathered.get(i);
                System.out.println("gather GET " + paths.get(i) + " -> " + r.status()
                        + " \"" + r.bodyAsString() + "\"");
            }
            List<Integer> statuses = Coro.run(() -> http.getAll(paths.stream().map(p -> base + p).toList())
                    .stream().map(Response::status).toList());
            System.out.println("getAll " + statuses);
        } finally {
            server.stop(0);
        }
    }
}
