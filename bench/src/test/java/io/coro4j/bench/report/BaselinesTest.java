package io.coro4j.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;

class BaselinesTest {

    private static boolean isBenchmark(String shortName) throws ClassNotFoundException {
        Class<?> c = Class.forName("io.coro4j.bench." + shortName.substring(0, shortName.indexOf('.')) + "Benchmark");
        String method = shortName.substring(shortName.indexOf('.') + 1);
        return Arrays.stream(c.getMethods())
                .anyMatch((Method m) -> m.getName().equals(method) && m.isAnnotationPresent(Benchmark.class));
    }

    @Test
    void every_pairing_names_benchmarks_that_exist() throws Exception {
        for (Pairing p : Baselines.PAIRINGS) {
            assertThat(isBenchmark(p.subject())).as(p.subject()).isTrue();
            assertThat(isBenchmark(p.baseline())).as(p.baseline()).isTrue();
        }
        for (String name : Baselines.SECONDARY.keySet()) {
            assertThat(isBenchmark(name)).as(name).isTrue();
        }
    }

    @Test
    void every_paired_benchmark_is_run_by_a_profile() {
        for (Pairing p : Baselines.PAIRINGS) {
            for (String name : new String[] {p.subject(), p.baseline()}) {
                String jmhName = "io.coro4j.bench." + name.replace(".", "Benchmark.");
                assertThat(BenchReport.PROFILES).as(jmhName)
                        .anyMatch(pr -> Pattern.compile(pr.include()).matcher(jmhName).find());
            }
        }
    }

    @Test
    void jmh_names_are_shortened_to_class_without_Benchmark_and_method() {
        assertThat(Measurement.shortName("io.coro4j.bench.SpawnJoinBenchmark.coro4j")).isEqualTo("SpawnJoin.coro4j");
        assertThat(Measurement.shortName("a.b.Plain.m")).isEqualTo("Plain.m");
    }

    @Test
    void the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assertThat(Measurement.median(new double[] {5, 1, 3})).isEqualTo(3);
        assertThat(Measurement.median(new double[] {4, 1, 3, 2})).isEqualTo(2.5);
        Measurement m = Measurement.of("A.b", java.util.Map.of(), new double[] {3, 9, 1}, "ns/op");
        assertThat(m.min()).isEqualTo(1);
        assertThat(m.max()).isEqualTo(9);
        assertThat(m.samples()).isEqualTo(3);
    }

    @Test
    void the_readme_has_one_report_section() throws Exception {
        String readme = Files.readString(Path.of("../README.md"));
        assertThat(MarkdownReport.replaceSection(readme, "x")).contains(MarkdownReport.BEGIN + "\nx\n" + MarkdownReport.END);
    }
}
