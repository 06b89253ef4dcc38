package io.coro4j.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.RetryPolicy;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every series the Grafana dashboard queries exists in a real Prometheus scrape of both schedulers
 * and a metered HTTP client, with the {@code scheduler} label the query selects.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GrafanaDashboardTest {

    private static final Pattern QUERY = Pattern.compile("\"(?:expr|query|definition)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern SERIES = Pattern.compile("(coro4j_[a-z_]+)(\\{[^}]*\\})?");
    private static final Pattern SCHEDULER = Pattern.compile("scheduler=\\\\?\"([a-z]+)\\\\?\"");

    @Test
    void everySeriesTheDashboardQueriesIsInAScrape() throws Exception {
        PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        List<AutoCloseable> toClose = new ArrayList<>();
        try (LoopbackServer server = new LoopbackServer()) {
            for (String kind : List.of("threadpool", "loom")) {
                Scheduler s = Schedulers.create(kind, SchedulerConfig.builder().name(kind + "-dashboard").parallelism(2).build());
                toClose.add(s);
                CoroutineMetrics m = new CoroutineMetrics(s, 1);
                toClose.add(m);
                m.bindTo(r);
                Coro.run(s, () -> {
                    Coro.sleep(Duration.ofMillis(1));
                    return Coro.spawn(() -> 1).join();
                });
            }
            Scheduler s = (Scheduler) toClose.get(0);
            RetryPolicy retry = RetryPolicy.builder().maxAttempts(2).backoff(Duration.ofMillis(1), Duration.ofMillis(2))
                    .retryOnStatus(503).build();
            AsyncHttpClient http = AsyncHttpClient.builder().retry(retry).build();
            toClose.add(http);
            HttpClientMetrics hm = new HttpClientMetrics(http, "dashboard");
            toClose.add(hm);
            hm.bindTo(r);
            Coro.run(s, () -> http.get(server.url("/status?code=503")));

            String scrape = r.scrape();
            String json = Files.readString(Path.of("grafana/coro4j-dashboard.json"));
            Set<String> missing = new LinkedHashSet<>();
            int series = 0;
            Matcher q = QUERY.matcher(json);
            while (q.find()) {
                String expr = q.group(1);
                Matcher m = SERIES.matcher(expr);
                while (m.find()) {
                    series++;
                    String name = m.group(1);
                    Matcher k = SCHEDULER.matcher(m.group(2) == null ? "" : m.group(2));
                    String wanted = k.find() ? "scheduler=\"" + k.group(1) + "\"" : "";
                    boolean found = scrape.lines().anyMatch(l -> l.startsWith(name + "{") && l.contains(wanted));
                    if (!found) {
                        missing.add(name + (wanted.isEmpty() ? "" : "{" + wanted + "}"));
                    }
                }
            }
            assertThat(series).as("series queried by the dashboard").isGreaterThan(20);
            assertThat(missing).as("series the dashboard queries that no scrape has").isEmpty();
        } finally {
            for (int i = toClose.size() - 1; i >= 0; i--) {
                toClose.get(i).close();
            }
        }
    }
}
