package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.BindException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scrapes the metrics example over HTTP on 127.0.0.1, as Prometheus would, and checks that the
 * meters move and that every series the Grafana dashboard queries is in the scrape.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MetricsExampleTest {

    private static final Path DASHBOARD = Path.of("..", "coroutine-metrics", "grafana", "coro4j-dashboard.json");
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static MetricsExample example;

    @BeforeAll
    static void start() throws IOException {
        example = new MetricsExample(List.of("threadpool", "loom"), 0);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        example.close();
    }

    private static HttpResponse<String> scrape() throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(example.metricsUri()).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of the one sample whose line starts with {@code series}, e.g. {@code name{labels}}. */
    private static double value(String scrape, String series) {
        List<String> lines = scrape.lines().filter(l -> l.startsWith(series + " ")).toList();
        assertThat(lines).as("samples of %s", series).hasSize(1);
        return Double.parseDouble(lines.get(0).substring(series.length() + 1).trim());
    }

    private static String series(String metric, String kind, String... moreLabels) {
        // Prometheus orders labels by name: name < outcome < scheduler.
        String extra = moreLabels.length == 0 ? "" : "," + String.join(",", moreLabels);
        return metric + "{name=\"example-" + kind + "\"" + extra + ",scheduler=\"" + kind + "\"}";
    }

    @Test
    void servesPrometheusTextOnLoopbackAndTheMetersMove() throws Exception {
        assertThat(example.metricsUri().getHost()).isEqualTo("127.0.0.1");
        awaitScrape(MetricsExampleTest::movedPastFirstRound);
        HttpResponse<String> first = scrape();
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");

        for (String kind : List.of("threadpool", "loom")) {
            String before = scrape().body();
            String resumptions = series("coro4j_resumptions_total", kind);
            String completed = series("coro4j_tasks_ended_total", kind, "outcome=\"completed\"");
            double r0 = value(before, resumptions);
            double c0 = value(before, completed);
            String after = awaitScrape(s -> value(s, resumptions) > r0 && value(s, completed) > c0);

            assertThat(value(after, series("coro4j_suspensions_total", kind))).isPositive();
            assertThat(value(after, series("coro4j_tasks_spawned_total", kind))).isPositive();
            assertThat(value(after, series("coro4j_tasks_ended_total", kind, "outcome=\"failed\""))).isPositive();
            assertThat(value(after, series("coro4j_tasks_ended_total", kind, "outcome=\"cancelled\""))).isPositive();
            assertThat(value(after, series("coro4j_scheduling_delay_seconds_count", kind))).isPositive();
            assertThat(value(after, series("coro4j_coroutines_live", kind))).isGreaterThanOrEqualTo(0);
        }
        String last = scrape().body();
        for (String kind : List.of("threadpool", "loom")) {
            String host = example.metricsUri().getHost();
            assertThat(last.lines().filter(l -> l.startsWith("coro4j_http_client_requests_seconds_count{client=\"example-"
                    + kind + "\",host=\"http://" + host) && l.contains("outcome=\"SUCCESS\"")))
                    .as("successful requests of the %s workload's client", kind)
                    .singleElement().satisfies(l -> assertThat(Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).isPositive());
            assertThat(last).contains("coro4j_http_client_requests_seconds_count{client=\"example-" + kind + "\"")
                    .contains("outcome=\"CLIENT_ERROR\",status=\"404\"");
        }
        assertThat(last).contains(series("coro4j_queue_depth", "threadpool"))
                .doesNotContain(series("coro4j_queue_depth", "loom"));
    }

    /** Whether both workloads have finished a round: cancelled tasks and retried HTTP requests. */
    private static boolean movedPastFirstRound(String scrape) {
        return scrape.lines().filter(l -> l.startsWith("coro4j_tasks_ended_total{") && l.contains("cancelled"))
                .filter(l -> !l.endsWith(" 0.0")).count() == 2
                && scrape.lines().filter(l -> l.startsWith("coro4j_http_client_retries_total{")).count() == 2;
    }

    @Test
    void everySeriesTheDashboardQueriesIsInARealScrape() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(Files.readString(DASHBOARD));
        List<String> exprs = new ArrayList<>();
        List<String> rows = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            if (panel.get("type").asText().equals("row")) {
                rows.add(panel.get("title").asText());
            }
            for (JsonNode target : panel.path("targets")) {
                exprs.add(target.get("expr").asText());
            }
        }
        assertThat(rows).containsExactly("threadpool scheduler", "loom scheduler", "http client");
        assertThat(exprs).hasSizeGreaterThanOrEqualTo(20);

        // Wait until every scheduler has finished rounds, so that every outcome has happened.
        String scrape = awaitScrape(MetricsExampleTest::movedPastFirstRound);
        Pattern selector = Pattern.compile("(coro4j_[a-z_]+)\\{([^}]*)}");
        Pattern scheduler = Pattern.compile("scheduler=\"([a-z]+)\"");
        Pattern client = Pattern.compile("client=~\"\\$client\"");
        Set<String> checked = new LinkedHashSet<>();
        for (String expr : exprs) {
            Matcher m = selector.matcher(expr);
            int found = 0;
            while (m.find()) {
                found++;
                String metric = m.group(1);
                if (metric.startsWith("coro4j_http_client_")) {
                    assertThat(client.matcher(m.group(2)).find()).as("an HTTP query selects $client: %s", expr).isTrue();
                    for (String kind : List.of("threadpool", "loom")) {
                        assertThat(scrape.lines().anyMatch(l -> l.startsWith(metric + "{")
                                && l.contains("client=\"example-" + kind + "\"")))
                                .as("the scrape has %s for client example-%s (queried by %s)", metric, kind, expr)
                                .isTrue();
                    }
                    checked.add(metric);
                    continue;
                }
                Matcher k = scheduler.matcher(m.group(2));
                assertThat(k.find()).as("every scheduler query selects one scheduler: %s", expr).isTrue();
                String kind = k.group(1);
                assertThat(scrape.lines().anyMatch(l -> l.startsWith(metric + "{") && l.contains("scheduler=\"" + kind + "\"")))
                        .as("the scrape has %s for scheduler %s (queried by %s)", metric, kind, expr)
                        .isTrue();
                checked.add(metric + "/" + kind);
            }
            assertThat(found).as("a coro4j series in %s", expr).isPositive();
        }
        assertThat(checked).contains(
                "coro4j_suspensions_total/threadpool", "coro4j_resumptions_total/loom",
                "coro4j_tasks_ended_total/threadpool", "coro4j_tasks_spawned_total/loom",
                "coro4j_coroutines_live/threadpool", "coro4j_coroutines_suspended/loom",
                "coro4j_queue_depth/threadpool", "coro4j_steals_total/threadpool",
                "coro4j_scheduling_delay_seconds_bucket/threadpool", "coro4j_scheduling_delay_seconds_bucket/loom",
                "coro4j_http_client_requests_active", "coro4j_http_client_requests_queued",
                "coro4j_http_client_slot_wait_seconds_bucket", "coro4j_http_client_requests_seconds_count",
                "coro4j_http_client_retries_total");
    }

    @Test
    void badArgumentsAreRefusedWithAMessage() throws Exception {
        assertThatThrownBy(() -> new MetricsExample(List.of(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("name at least one scheduler: threadpool, loom");
        assertThatThrownBy(() -> new MetricsExample(List.of("loom", "loom"), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("each scheduler at most once: [loom, loom]");
        int taken = example.metricsUri().getPort();
        assertThatThrownBy(() -> new MetricsExample(List.of("loom"), taken))
                .isInstanceOf(BindException.class)
                .hasMessageStartingWith("cannot serve metrics on 127.0.0.1:" + taken)
                .hasMessageEndingWith("pick another port with --port, or --port 0 for a free one");
    }

    private static String awaitScrape(Predicate<String> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            String body = scrape().body();
            if (condition.test(body)) {
                return body;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the scrape did not reach the expected state in 60 s:\n" + body);
            }
            Thread.sleep(50);
        }
    }
}
