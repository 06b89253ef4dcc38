package io.coro4j.bench.report;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One benchmark with one set of parameters, as measured in this run: the median of its measured
 * iterations (of its shots, for single-shot benchmarks), their minimum and maximum, and their unit.
 *
 * @param benchmark the class's simple name without {@code Benchmark}, a dot, the method:
 *     {@code SpawnJoin.coro4j}
 * @param params the JMH parameters of this measurement, by name (sorted, so equal maps print alike)
 * @param median the median of the measured iterations
 * @param min the smallest measured iteration
 * @param max the largest measured iteration
 * @param samples how many iterations were measured
 * @param unit the score's unit, as JMH writes it ({@code ns/op}) or as the report names a secondary
 *     result ({@code bytes/sleeper})
 */
public record Measurement(String benchmark, Map<String, String> params, double median, double min, double max,
        int samples, String unit) {

    public Measurement {
        Objects.requireNonNull(benchmark, "benchmark");
        params = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(params));
        Objects.requireNonNull(unit, "unit");
        if (samples < 1) {
            throw new IllegalArgumentException("samples is " + samples + ": a measurement has at least one");
        }
    }

    /** The benchmark class's short name: {@code SpawnJoin} of {@code SpawnJoin.coro4j}. */
    public String group() {
        return benchmark.substring(0, benchmark.indexOf('.'));
    }

    /** The method: {@code coro4j} of {@code SpawnJoin.coro4j}. */
    public String method() {
        return benchmark.substring(benchmark.indexOf('.') + 1);
    }

    /**
     * {@code io.coro4j.bench.SpawnJoinBenchmark.coro4j} → {@code SpawnJoin.coro4j}: the name the report
     * and {@link Baselines} use.
     */
    public static String shortName(String jmhBenchmark) {
        int method = jmhBenchmark.lastIndexOf('.');
        int cls = jmhBenchmark.lastIndexOf('.', method - 1);
        String simple = jmhBenchmark.substring(cls + 1, method);
        if (simple.endsWith("Benchmark")) {
            simple = simple.substring(0, simple.length() - "Benchmark".length());
        }
        return simple + jmhBenchmark.substring(method);
    }

    /** The median of {@code values}: the middle one, or the mean of the middle two. */
    public static double median(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("the median of no values");
        }
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /** A measurement of {@code values}: their median, minimum and maximum. */
    public static Measurement of(String benchmark, Map<String, String> params, double[] values, String unit) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        return new Measurement(benchmark, params, median(values), min, max, values.length, unit);
    }
}
