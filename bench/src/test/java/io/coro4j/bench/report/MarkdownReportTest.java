package io.coro4j.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MarkdownReportTest {

    private static Measurement m(String benchmark, Map<String, String> params, double median) {
        return new Measurement(benchmark, params, median, median * 0.9, median * 1.1, 5, "ns/op");
    }

    private static String row(String table, String prefix) {
        return table.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no row starting " + prefix + " in\n" + table));
    }

    @Test
    void a_row_shows_its_median_range_unit_baseline_ratio_and_budget() {
        List<Measurement> measured = List.of(
                m("GeneratorRoundTrip.generator", Map.of("scheduler", "threadpool"), 150),
                m("GeneratorRoundTrip.rawContinuation", Map.of(), 100));
        String table = MarkdownReport.table(measured, Baselines.PAIRINGS);
        assertThat(row(table, "| GeneratorRoundTrip.generator |")).isEqualTo(
                "| GeneratorRoundTrip.generator | threadpool | 150 | 135–165 (5) | ns/op | rawContinuation | 1.50x"
                        + " | ≤ 1.2x: **missed** |");
        assertThat(row(table, "| GeneratorRoundTrip.rawContinuation |")).isEqualTo(
                "| GeneratorRoundTrip.rawContinuation | — | 100 | 90.0–110 (5) | ns/op | — | (baseline) |  |");
    }

    @Test
    void a_ratio_within_its_budget_is_met_and_one_without_a_budget_has_none() {
        List<Measurement> measured = List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool", "carriers", "0"), 90),
                m("SpawnJoin.coro4j", Map.of("scheduler", "loom", "carriers", "0"), 200),
                m("SpawnJoin.virtualThreads", Map.of(), 100));
        String table = MarkdownReport.table(measured, Baselines.PAIRINGS);
        assertThat(row(table, "| SpawnJoin.coro4j | threadpool |")).endsWith("| virtualThreads | 0.90x | ≤ 1.0x: met |");
        assertThat(row(table, "| SpawnJoin.coro4j | loom |")).endsWith("| virtualThreads | 2.00x |  |");
    }

    @Test
    void the_budget_verdict_goes_by_the_unrounded_ratio_shown_with_the_digits_that_tell() {
        List<Measurement> measured = List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool"), 100.4),
                m("SpawnJoin.virtualThreads", Map.of(), 100));
        assertThat(row(MarkdownReport.table(measured, Baselines.PAIRINGS), "| SpawnJoin.coro4j |"))
                .endsWith("| 1.004x | ≤ 1.0x: **missed** |");
        List<Measurement> within = List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool"), 99.6),
                m("SpawnJoin.virtualThreads", Map.of(), 100));
        assertThat(row(MarkdownReport.table(within, Baselines.PAIRINGS), "| SpawnJoin.coro4j |"))
                .endsWith("| 1.00x | ≤ 1.0x: met |");
    }

    @Test
    void spawn_join_is_judged_against_virtual_threads_and_shown_against_completable_futures() {
        List<Measurement> measured = List.of(
                m("SpawnJoin.coro4j", Map.of("scheduler", "threadpool"), 90),
                m("SpawnJoin.coro4j", Map.of("scheduler", "loom"), 120),
                m("SpawnJoin.virtualThreads", Map.of(), 100),
                m("SpawnJoin.completableFutures", Map.of(), 60));
        List<String> rows = MarkdownReport.table(measured, Baselines.PAIRINGS).lines().skip(2).toList();
        assertThat(rows).containsExactly(
                "| SpawnJoin.coro4j | threadpool | 90.0 | 81.0–99.0 (5) | ns/op | virtualThreads | 0.90x | ≤ 1.0x: met |",
                "| SpawnJoin.coro4j | threadpool | 90.0 | 81.0–99.0 (5) | ns/op | completableFutures | 1.50x |  |",
                "| SpawnJoin.virtualThreads | — | 100 | 90.0–110 (5) | ns/op | — | (baseline) |  |",
                "| SpawnJoin.coro4j | loom | 120 | 108–132 (5) | ns/op | virtualThreads | 1.20x |  |",
                "| SpawnJoin.coro4j | loom | 120 | 108–132 (5) | ns/op | completableFutures | 2.00x |  |",
                "| SpawnJoin.completableFutures | — | 60.0 | 54.0–66.0 (5) | ns/op | — | (baseline) |  |");
    }

    @Test
    void the_sleepers_budgets_judge_only_the_million_sleepers_they_were_set_for() {
        List<Measurement> measured = List.of(
                m("SleepersWallTime.sleepers", Map.of("scheduler", "loom", "sleepers", "200000"), 105),
                m("SleepersWallTime.virtualThreadSleepers", Map.of("sleepers", "200000"), 100),
                m("SleepersWallTime.sleepers", Map.of("scheduler", "loom", "sleepers", "1000000"), 150),
                m("SleepersWallTime.virtualThreadSleepers", Map.of("sleepers", "1000000"), 100));
        String table = MarkdownReport.table(measured, Baselines.PAIRINGS);
        assertThat(row(table, "| SleepersWallTime.sleepers | loom, sleepers=200000 |"))
                .endsWith("| virtualThreadSleepers [sleepers=200000] | 1.05x |  |");
        assertThat(row(table, "| SleepersWallTime.sleepers | loom, sleepers=1000000 |"))
                .endsWith("| virtualThreadSleepers [sleepers=1000000] | 1.50x | ≤ 1.1x: **missed** |");
    }

    @Test
    void the_loom_generator_resumed_from_a_platform_thread_has_no_baseline() {
        List<Measurement> measured = List.of(
                m("GeneratorRoundTrip.generator", Map.of("scheduler", "loom"), 900),
                m("GeneratorRoundTrip.rawVirtualThreadHandOver", Map.of(), 300));
        assertThat(row(MarkdownReport.table(measured, Baselines.PAIRINGS), "| GeneratorRoundTrip.generator |"))
                .endsWith("| ns/op | — | — |  |");
    }

    @Test
    void metrics_bound_is_divided_by_unbound_on_the_same_scheduler() {
        List<Measurement> measured = List.of(
                m("MetricsOverhead.generator", Map.of("scheduler", "loom", "metrics", "none"), 400),
                m("MetricsOverhead.generator", Map.of("scheduler", "threadpool", "metrics", "none"), 100),
                m("MetricsOverhead.generator", Map.of("scheduler", "threadpool", "metrics", "prometheus"), 104),
                m("MetricsOverhead.generator", Map.of("scheduler", "loom", "metrics", "prometheus"), 440));
        String table = MarkdownReport.table(measured, Baselines.PAIRINGS);
        assertThat(row(table, "| MetricsOverhead.generator | threadpool, metrics=prometheus |"))
                .endsWith("| generator [threadpool, metrics=none] | 1.04x | ≤ 1.05x: met |");
        assertThat(row(table, "| MetricsOverhead.generator | loom, metrics=prometheus |"))
                .endsWith("| generator [loom, metrics=none] | 1.10x | ≤ 1.05x: **missed** |");
        assertThat(row(table, "| MetricsOverhead.generator | threadpool, metrics=none |")).contains("| (baseline) |");
        // each baseline right after its subject, subjects in measured order
        assertThat(table.lines().skip(2).map(l -> l.split(" \\| ")[1]).toList()).containsExactly(
                "threadpool, metrics=prometheus", "threadpool, metrics=none",
                "loom, metrics=prometheus", "loom, metrics=none");
    }

    @Test
    void the_heap_benchmarks_pair_on_their_crowd_size() {
        List<Measurement> measured = List.of(
                new Measurement("SleepersWallTime.heapPerSleeper",
                        Map.of("scheduler", "threadpool", "carriers", "0", "heapSleepers", "200000"),
                        700, 700, 700, 1, "bytes/sleeper"),
                new Measurement("SleepersWallTime.heapPerVirtualThreadSleeper", Map.of("heapSleepers", "1000"),
                        9, 9, 9, 1, "bytes/sleeper"),
                new Measurement("SleepersWallTime.heapPerVirtualThreadSleeper", Map.of("heapSleepers", "200000"),
                        1000, 1000, 1000, 1, "bytes/sleeper"));
        String table = MarkdownReport.table(measured, Baselines.PAIRINGS);
        assertThat(row(table, "| SleepersWallTime.heapPerSleeper |")).isEqualTo(
                "| SleepersWallTime.heapPerSleeper | threadpool, heapSleepers=200000 | 700 | (1 shot) | bytes/sleeper"
                        + " | heapPerVirtualThreadSleeper [heapSleepers=200000] | 0.70x |  |");
    }

    @Test
    void a_baseline_that_did_not_run_is_named_and_gives_no_ratio() {
        List<Measurement> measured = List.of(
                m("ChannelPingPong.channels", Map.of("scheduler", "threadpool"), 700));
        assertThat(row(MarkdownReport.table(measured, Baselines.PAIRINGS), "| ChannelPingPong.channels |"))
                .endsWith("| ChannelPingPong.synchronousQueues (not run) | — | ≤ 0.5x |");
    }

    @Test
    void the_report_has_its_header_table_and_notes() {
        MarkdownReport.Header header = new MarkdownReport.Header("2026-11-26 03:00 UTC", "JDK 25", 2,
                "1.00 2.00 3.00", "4.00 5.00 6.00", "bench/report.sh", Duration.ofSeconds(421), List.of("noisy"));
        List<Measurement> measured = List.of(m("SpawnJoin.virtualThreads", Map.of(), 100));
        String report = MarkdownReport.report(header, measured, Baselines.PAIRINGS);
        assertThat(report).startsWith("# coro4j benchmark report\n")
                .contains("2026-11-26 03:00 UTC, JDK 25, 2 cores, load average 1.00 2.00 3.00 at start and"
                        + " 4.00 5.00 6.00 at end (1, 5, 15 min); `bench/report.sh` took 7 min 01 s.")
                .contains("| SpawnJoin.virtualThreads | — | 100 |")
                .endsWith("Notes:\n\n- noisy\n");
        assertThat(MarkdownReport.readmeSection(header, measured, Baselines.PAIRINGS, "bench/REPORT.md"))
                .contains("[bench/REPORT.md](bench/REPORT.md)").contains("| SpawnJoin.virtualThreads |");
    }

    @Test
    void numbers_keep_about_three_significant_digits() {
        assertThat(MarkdownReport.number(12395.4)).isEqualTo("12,395");
        assertThat(MarkdownReport.number(139.2)).isEqualTo("139");
        assertThat(MarkdownReport.number(42.46)).isEqualTo("42.5");
        assertThat(MarkdownReport.number(1.084)).isEqualTo("1.08");
        assertThat(MarkdownReport.number(0.51234)).isEqualTo("0.512");
    }

    @Test
    void the_section_between_the_markers_is_replaced_and_the_markers_kept() {
        String doc = "# Title\n\nintro\n\n" + MarkdownReport.BEGIN + "\nold table\n" + MarkdownReport.END + "\n\nafter\n";
        String once = MarkdownReport.replaceSection(doc, "new table\n");
        assertThat(once).isEqualTo("# Title\n\nintro\n\n" + MarkdownReport.BEGIN + "\nnew table\n"
                + MarkdownReport.END + "\n\nafter\n");
        assertThat(MarkdownReport.replaceSection(once, "new table\n")).isEqualTo(once);
    }

    @Test
    void a_document_without_one_ordered_pair_of_markers_is_refused() {
        assertThatThrownBy(() -> MarkdownReport.replaceSection("no markers", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(MarkdownReport.BEGIN);
        assertThatThrownBy(() -> MarkdownReport.replaceSection(MarkdownReport.BEGIN + " only", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(MarkdownReport.END);
        assertThatThrownBy(() -> MarkdownReport.replaceSection(MarkdownReport.END + "\n" + MarkdownReport.BEGIN, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("before");
        String twice = MarkdownReport.BEGIN + MarkdownReport.END + MarkdownReport.BEGIN + MarkdownReport.END;
        assertThatThrownBy(() -> MarkdownReport.replaceSection(twice, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("more than one");
    }
}
