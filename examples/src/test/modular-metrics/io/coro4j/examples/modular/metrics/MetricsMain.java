package io.coro4j.examples.modular.metrics;

import com.sun.net.httpserver.HttpServer;
import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.metrics.CoroutineMetrics;
import io.coro4j.metrics.HttpClientMetrics;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Binds {@link CoroutineMetrics} for a scheduler of the kind {@code ServiceLoader} finds to a
 * {@link SimpleMeterRegistry} and a {@link PrometheusMeterRegistry}, and {@link HttpClientMetrics}
 * to both through a {@link CompositeMeterRegistry}; runs tasks that complete, fail and are
 * cancelled, and three GETs on a JDK HTTP server on 127.0.0.1; prints the meters' values read by
 * type from the simple registry, and the Prometheus scrape's task lines.
 */
public final class MetricsMain {

    private MetricsMain() {}

    public static void main(String[] args) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", e -> {
            try (e) {
                if (!e.getRequestURI().getPath().equals("/ok")) {
                    e.sendResponseHeaders(404, -1);
                    return;
                }
                e.sendResponseHeaders(200, 2);
                try (OutputStream out = e.getResponseBody()) {
                    out.write("ok".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                }
            }
        });
        server.start();
        String kind = Schedulers.defaultScheduler().kind();
        SimpleMeterRegistry simple = new SimpleMeterRegistry();
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        CompositeMeterRegistry both = new CompositeMeterRegistry();
        both.add(simple);
        both.add(prometheus);
        try (Scheduler s = Schedulers.create(kind, SchedulerConfig.builder().name("modular").build());
                CoroutineMetrics coroutines = new CoroutineMetrics(s);
                AsyncHttpClient http = AsyncHttpClient.create();
                HttpClientMetrics client = new HttpClientMetrics(http, "modular")) {
            coroutines.bindTo(simple);
            coroutines.bindTo(prometheus);
            client.bindTo(both);
            System.out.println("app " + MetricsMain.class.getModule().getName() + ", metrics "
                    + CoroutineMetrics.class.getModule().getName() + " on " + MeterRegistry.class.getModule().getName()
                    + ", scheduler " + s.kind() + " from " + s.getClass().getModule().getName());
            String base = "http://127.0.0.1:" + server.getAddress().getPort();
            List<String> outcomes = Coro.run(s, () -> {
                List<Task<Object>> tasks = new ArrayList<>();
                for (int i = 1; i <= 5; i++) {
                    int n = i;
                    tasks.add(Coro.spawn(() -> {
                        Coro.sleep(Duration.ofMillis(1));
                        return n * n;
                    }));
                }
                tasks.add(Coro.spawn(() -> {
                    throw new IllegalStateException("fails");
                }));
                Task<Object> cancelled = Coro.spawn(() -> {
                    Coro.sleep(Duration.ofHours(1));
                    return "never";
                });
                cancelled.cancel();
                tasks.add(cancelled);
                for (String path : List.of("/ok", "/ok", "/missing")) {
                    tasks.add(Coro.spawn(() -> http.get(base + path).status()));
                }
                return Coro.gatherSettled(tasks).stream().map(MetricsMain::describe).toList();
            });
            System.out.println("outcomes " + outcomes);
            Tags t = coroutines.tags();
            System.out.println("tasks spawned " + count(simple, "coro4j.tasks.spawned", t)
                    + ", completed " + count(simple, "coro4j.tasks.ended", t.and("outcome", "completed"))
                    + ", failed " + count(simple, "coro4j.tasks.ended", t.and("outcome", "failed"))
                    + ", cancelled " + count(simple, "coro4j.tasks.ended", t.and("outcome", "cancelled")));
            System.out.println("suspensions counted " + (count(simple, "coro4j.suspensions", t) > 0)
                    + ", resumptions counted " + (count(simple, "coro4j.resumptions", t) > 0));
            Tags host = client.tags().and("host", base, "method", "GET");
            for (MeterRegistry r : List.of(simple, prometheus)) {
                System.out.println(r.getClass().getSimpleName() + " http GET 200 SUCCESS "
                        + requests(r, host.and("status", "200", "outcome", "SUCCESS"))
                        + ", 404 CLIENT_ERROR " + requests(r, host.and("status", "404", "outcome", "CLIENT_ERROR")));
            }
            prometheus.scrape().lines().filter(l -> l.startsWith("coro4j_tasks_")).sorted()
                    .forEach(System.out::println);
        } finally {
            server.stop(0);
        }
    }

    private static long count(SimpleMeterRegistry r, String name, Tags tags) {
        return (long) r.get(name).tags(tags).functionCounter().count();
    }

    private static long requests(MeterRegistry r, Tags tags) {
        return r.get("coro4j.http.client.requests").tags(tags).timer().count();
    }

    private static String describe(Outcome<Object> o) {
        return switch (o) {
            case Outcome.Success<Object>(Object v) -> String.valueOf(v);
            case Outcome.Failure<Object>(Throwable e) -> e.getClass().getSimpleName();
        };
    }
}
