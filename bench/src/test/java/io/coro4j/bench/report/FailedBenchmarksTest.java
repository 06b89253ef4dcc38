package io.coro4j.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The report's notes of benchmarks that failed ({@code BenchReport.missing}): a benchmark and
 * parameter set that a selected profile runs and that has no result is named, and nothing else is.
 */
class FailedBenchmarksTest {

    /** A measurement with as many samples as any profile's row pools (three rounds of 5). */
    private static Measurement m(String benchmark, Map<String, String> params) {
        return m(benchmark, params, 15);
    }

    private static Measurement m(String benchmark, Map<String, String> params, int samples) {
        return new Measurement(benchmark, params, 100, 90, 110, samples, "ms/op");
    }

    private static final Measurement SLEEPERS_THREADPOOL = m("SleepersWallTime.sleepers",
            Map.of("scheduler", "threadpool", "carriers", "0", "sleepers", "200000"));
    private static final Measurement SLEEPERS_LOOM = m("SleepersWallTime.sleepers",
            Map.of("scheduler", "loom", "carriers", "0", "sleepers", "200000"));
    private static final Measurement VT_SLEEPERS = m("SleepersWallTime.virtualThreadSleepers",
            Map.of("sleepers", "200000"));

    @Test
    void a_complete_run_names_no_failure_even_where_a_budget_is_for_parameters_the_profile_does_not_run() {
        // The report runs 200,000 sleepers; the budgets are for a million. Nothing failed.
        List<String> notes = BenchReport.missing(List.of(SLEEPERS_THREADPOOL, SLEEPERS_LOOM, VT_SLEEPERS),
                Pattern.compile("SleepersWallTime"));
        assertThat(notes).isEmpty();
    }

    @Test
    void a_subject_that_failed_for_one_scheduler_is_named_with_its_parameters() {
        List<String> notes = BenchReport.missing(List.of(SLEEPERS_LOOM, VT_SLEEPERS),
                Pattern.compile("SleepersWallTime"));
        assertThat(notes).singleElement().asString()
                .contains("SleepersWallTime.sleepers", "scheduler=threadpool", "sleepers=200000");
    }

    @Test
    void a_subject_judged_by_a_pairing_without_parameters_is_named_when_it_failed_for_one_scheduler() {
        List<String> notes = BenchReport.missing(List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool", "carriers", "0")),
                m("SpawnJoin.virtualThreads", Map.of()),
                m("SpawnJoin.completableFutures", Map.of())), Pattern.compile("SpawnJoin"));
        assertThat(notes).singleElement().asString().contains("SpawnJoin.coro4j", "scheduler=loom");
    }

    @Test
    void a_baseline_that_failed_is_named() {
        List<String> notes = BenchReport.missing(List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool", "carriers", "0")),
                m("SpawnJoin.coro4j", Map.of("scheduler", "loom", "carriers", "0")),
                m("SpawnJoin.completableFutures", Map.of())), Pattern.compile("SpawnJoin"));
        assertThat(notes).singleElement().asString().contains("SpawnJoin.virtualThreads");
    }

    @Test
    void a_benchmark_judged_against_nothing_is_named_when_it_failed() {
        // plainIterator is a floor (no pairing); the loom generator has no exact baseline.
        List<String> notes = BenchReport.missing(List.of(
                m("GeneratorRoundTrip.generator", Map.of("scheduler", "threadpool")),
                m("GeneratorRoundTrip.generatorInVirtualThread", Map.of("scheduler", "threadpool")),
                m("GeneratorRoundTrip.generatorInVirtualThread", Map.of("scheduler", "loom")),
                m("GeneratorRoundTrip.rawContinuation", Map.of()),
                m("GeneratorRoundTrip.rawVirtualThreadHandOver", Map.of())), Pattern.compile("GeneratorRoundTrip"));
        assertThat(notes).hasSize(2).anySatisfy(n -> assertThat(n).contains("GeneratorRoundTrip.plainIterator"))
                .anySatisfy(n -> assertThat(n).contains("GeneratorRoundTrip.generator ", "scheduler=loom"));
    }

    @Test
    void what_a_full_report_expects_is_every_benchmark_its_profiles_run_with_the_profiles_parameters() {
        java.util.Set<BenchReport.Expected> all = BenchReport.expected(null).keySet();
        assertThat(all).contains(
                new BenchReport.Expected("SleepersWallTime.sleepers",
                        Map.of("scheduler", "loom", "carriers", "0", "sleepers", "200000")),
                new BenchReport.Expected("SleepersWallTime.heapPerVirtualThreadSleeper", Map.of("heapSleepers", "50000")),
                new BenchReport.Expected("MetricsOverhead.spawnJoin",
                        Map.of("scheduler", "threadpool", "carriers", "0", "metrics", "none")),
                new BenchReport.Expected("MetricsOverhead.spawnJoin",
                        Map.of("scheduler", "threadpool", "carriers", "0", "metrics", "prometheus")),
                new BenchReport.Expected("ChannelPingPong.rawContinuations", Map.of()));
        assertThat(all).noneMatch(e -> e.params().containsValue("1000000"))
                .noneMatch(e -> e.benchmark().equals("SleepersWallTime.virtualThreadSleepersHoldingBytes"))
                .noneMatch(e -> e.benchmark().startsWith("GeneratorLifecycle."));
        // GeneratorRoundTrip 7, SpawnJoin 4, ChannelPingPong 5, sleepers 3, heap 3, MetricsOverhead 8
        assertThat(all).hasSize(30);
        Map<BenchReport.Expected, Integer> samples = BenchReport.expected(null);
        assertThat(samples.get(new BenchReport.Expected("SleepersWallTime.heapPerVirtualThreadSleeper",
                Map.of("heapSleepers", "50000")))).isEqualTo(1); // the method's own @Measurement
        assertThat(samples.get(new BenchReport.Expected("GeneratorRoundTrip.plainIterator", Map.of())))
                .isEqualTo(15); // three rounds of 5
        assertThat(samples.get(new BenchReport.Expected("MetricsOverhead.generator",
                Map.of("scheduler", "loom", "metrics", "none")))).isEqualTo(8); // two rounds of 4
    }

    @Test
    void a_nanosecond_row_that_lost_one_of_its_three_forks_is_named() {
        List<String> notes = BenchReport.missing(List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool", "carriers", "0"), 10),
                m("SpawnJoin.coro4j", Map.of("scheduler", "loom", "carriers", "0")),
                m("SpawnJoin.virtualThreads", Map.of()),
                m("SpawnJoin.completableFutures", Map.of())), Pattern.compile("SpawnJoin"));
        assertThat(notes).singleElement().asString().contains("10 of 15", "SpawnJoin.coro4j", "scheduler=threadpool");
    }

    @Test
    void a_row_pooled_from_rounds_that_lost_a_fork_is_named() {
        // MetricsOverhead runs each benchmark twice per metrics value (4 measured iterations each);
        // here the second fork of spawnJoin [loom, prometheus] failed, leaving 4 of 8.
        List<Measurement> measured = new java.util.ArrayList<>();
        for (String scheduler : List.of("threadpool", "loom")) {
            for (String metrics : List.of("none", "prometheus")) {
                measured.add(m("MetricsOverhead.generator", Map.of("scheduler", scheduler, "metrics", metrics), 8));
                boolean failedOnce = scheduler.equals("loom") && metrics.equals("prometheus");
                measured.add(m("MetricsOverhead.spawnJoin",
                        Map.of("scheduler", scheduler, "carriers", "0", "metrics", metrics), failedOnce ? 4 : 8));
            }
        }
        assertThat(BenchReport.missing(measured, Pattern.compile("MetricsOverhead"))).singleElement().asString()
                .contains("4 of 8", "MetricsOverhead.spawnJoin", "scheduler=loom", "metrics=prometheus");
    }
}
