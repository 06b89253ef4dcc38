package io.coro4j.examples;

import com.sun.net.httpserver.HttpServer;
import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.channel.Channel;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.RetryPolicy;
import io.coro4j.metrics.CoroutineMetrics;
import io.coro4j.metrics.HttpClientMetrics;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Runs a steady coroutine workload on one or more schedulers and serves their meters in the
 * Prometheus text format on {@code http://127.0.0.1:<port>/metrics}, for Prometheus to scrape and
 * the Grafana dashboard in {@code coroutine-metrics/grafana/} to show.
 *
 * <p>Each scheduler gets its own workload, a loop of rounds; a round sends 1,000 values into a
 * generator, spawns 100 short sleeping tasks (5 of them fail, 5 are cancelled) and gathers them,
 * passes 1,000 items through a bounded channel between two tasks, fetches four slow pages and a
 * missing one (retried once) from an HTTP server on 127.0.0.1 with an {@link AsyncHttpClient}
 * limited to two requests per host, then sleeps 10 ms. So every meter moves: suspensions and resumptions, tasks
 * by outcome, live and suspended coroutines, queue depth, scheduling delay, and the HTTP client's
 * requests in flight and queued, slot waits and requests by outcome.
 *
 * <pre>
 * MetricsExample [--schedulers threadpool,loom] [--port 9400] [--seconds 0]
 * </pre>
 * {@code --port 0} picks a free port; {@code --seconds 0} (the default) serves until the process
 * is stopped; with {@code --seconds N} it stops after N seconds and prints some of the last scrape.
 * The server listens on the loopback interface only.
 */
public final class MetricsExample implements AutoCloseable {

    private final List<Scheduler> schedulers = new ArrayList<>();
    private final List<CoroutineMetrics> binders = new ArrayList<>();
    private final List<AsyncHttpClient> clients = new ArrayList<>();
    private final List<HttpClientMetrics> clientBinders = new ArrayList<>();
    private final HttpGatherExample.EmbeddedServer pages;
    private final List<Thread> workloads = new ArrayList<>();
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final HttpServer server;
    private volatile boolean stopping;

    /**
     * Creates the schedulers, binds their meters, starts the workloads and the server.
     *
     * @param kinds scheduler kinds ({@code threadpool}, {@code loom}), each at most once
     * @param port the port on 127.0.0.1; 0 for a free one
     * @throws IllegalArgumentException if {@code kinds} is empty, repeats a kind or names an unknown one
     * @throws IOException if the port cannot be bound
     */
    public MetricsExample(List<String> kinds, int port) throws IOException {
        if (kinds.isEmpty()) {
            throw new IllegalArgumentException("name at least one scheduler: threadpool, loom");
        }
        if (kinds.stream().distinct().count() != kinds.size()) {
            throw new IllegalArgumentException("each scheduler at most once: " + kinds);
        }
        pages = HttpGatherExample.EmbeddedServer.start();
        try {
            for (String kind : kinds) {
                Scheduler s = Schedulers.create(kind, SchedulerConfig.builder().name("example-" + kind).daemon(true).build());
                schedulers.add(s);
                CoroutineMetrics m = new CoroutineMetrics(s);
                m.bindTo(registry);
                binders.add(m);
                // The missing page is retried once, so that the retry counter moves too.
                AsyncHttpClient http = AsyncHttpClient.builder().maxInFlightPerHost(2)
                        .retry(RetryPolicy.builder().maxAttempts(2).retryOnStatus(404)
                                .backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build())
                        .build();
                clients.add(http);
                HttpClientMetrics hm = new HttpClientMetrics(http, "example-" + kind);
                hm.bindTo(registry);
                clientBinders.add(hm);
            }
            InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
            try {
                server = HttpServer.create(address, 0);
            } catch (BindException e) {
                throw new BindException("cannot serve metrics on 127.0.0.1:" + port + " (" + e.getMessage()
                        + "): pick another port with --port, or --port 0 for a free one");
            }
            server.createContext("/metrics", exchange -> {
                byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.start();
        } catch (IOException | RuntimeException e) {
            closeSchedulers();
            throw e;
        }
        List<String> urls = new ArrayList<>(pages.urls());
        urls.add(urls.get(0).replace("/pages/1", "/pages/404"));
        for (int i = 0; i < schedulers.size(); i++) {
            Scheduler s = schedulers.get(i);
            AsyncHttpClient http = clients.get(i);
            workloads.add(Thread.ofPlatform().name("workload-" + s.kind()).daemon(true)
                    .start(() -> workload(s, http, urls)));
        }
    }

    /** Where the meters are served. */
    public URI metricsUri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/metrics");
    }

    /** The registry the meters are in. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    private void workload(Scheduler s, AsyncHttpClient http, List<String> urls) {
        while (!stopping) {
            Coro.run(s, () -> {
                round(http, urls);
                return null;
            });
        }
    }

    private static void round(AsyncHttpClient http, List<String> urls) {
        Generator<Integer, Integer, Integer> totals = Generator.of(y -> {
            int sum = 0;
            while (true) {
                sum += y.yield(sum);
            }
        });
        totals.next();
        for (int i = 0; i < 1_000; i++) {
            totals.send(i);
        }
        totals.close();

        List<Task<Integer>> tasks = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            int n = i;
            tasks.add(Coro.spawn(() -> {
                if (n % 20 == 1) {
                    throw new IllegalStateException("task " + n + " fails, as planned");
                }
                Coro.sleep(Duration.ofMillis(n % 20 == 2 ? 60_000 : 1));
                return n;
            }));
        }
        for (int i = 2; i < 100; i += 20) {
            tasks.get(i).cancel();
        }
        Coro.gatherSettled(tasks);

        Channel<Integer> channel = Channel.bounded(16);
        Task<Long> consumer = Coro.spawn(() -> {
            long sum = 0;
            for (int item : channel) {
                sum += item;
            }
            return sum;
        });
        for (int i = 0; i < 1_000; i++) {
            channel.send(i);
        }
        channel.close();
        consumer.join();

        http.getAllSettled(urls);
        Coro.sleep(Duration.ofMillis(10));
    }

    /** Stops the workloads and the server and closes the schedulers. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        stopping = true;
        for (Thread t : workloads) {
            t.join();
        }
        server.stop(0);
        closeSchedulers();
    }

    private void closeSchedulers() {
        clientBinders.forEach(HttpClientMetrics::close);
        clients.forEach(AsyncHttpClient::close);
        binders.forEach(CoroutineMetrics::close);
        schedulers.forEach(Scheduler::close);
        pages.close();
    }

    public static void main(String[] args) throws Exception {
        List<String> kinds = List.of("threadpool", "loom");
        int port = 9400;
        long seconds = 0;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--schedulers" -> kinds = List.of(Objects.requireNonNull(value, "--schedulers needs a value").split(","));
                case "--port" -> port = Integer.parseInt(Objects.requireNonNull(value, "--port needs a value"));
                case "--seconds" -> seconds = Long.parseLong(Objects.requireNonNull(value, "--seconds needs a value"));
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + "; options: --schedulers threadpool,loom --port 9400 --seconds 0");
            }
            i++;
        }
        run(kinds, port, seconds, System.out);
    }

    /** Serves for {@code seconds} (0: until the process stops), then prints the headline meters. */
    static void run(List<String> kinds, int port, long seconds, PrintStream out) throws Exception {
        try (MetricsExample example = new MetricsExample(kinds, port)) {
            out.println("Serving coro4j metrics of " + String.join(", ", kinds) + " on " + example.metricsUri());
            if (seconds == 0) {
                Thread.currentThread().join();
            }
            Thread.sleep(Duration.ofSeconds(seconds));
            example.registry().scrape().lines()
                    .filter(l -> l.startsWith("coro4j_resumptions_total") || l.startsWith("coro4j_tasks_ended_total"))
                    .forEach(out::println);
        }
    }
}
