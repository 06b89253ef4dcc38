package io.coro4j.bench.report;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which baseline each benchmark is judged against, and its budget where the issues set one: the
 * pairs each benchmark class's javadoc names, in one table. The first pairing that applies to a
 * measurement wins. A measurement that no pairing applies to is a baseline (or, like
 * {@code plainIterator}, a floor shown for reference).
 */
public final class Baselines {

    private Baselines() {}

    private static final Map<String, String> THREADPOOL = Map.of("scheduler", "threadpool");
    private static final Map<String, String> LOOM = Map.of("scheduler", "loom");
    private static final Map<String, String> BOUND = Map.of("metrics", "prometheus");
    private static final Map<String, String> UNBOUND = Map.of("metrics", "none");

    /** The budgeted crowd of the sleepers benchmarks: a smaller one is measured, not judged. */
    private static final Map<String, String> MILLION = Map.of("sleepers", "1000000");

    /**
     * The pairings, in the order the report lists their subjects within a benchmark class. A
     * measurement gets a row per baseline it is judged against; of pairings with one baseline, the
     * first that applies wins, so a budget set for some parameters comes before the same pairing
     * without one.
     */
    public static final List<Pairing> PAIRINGS = List.of(
            // GeneratorRoundTripBenchmark (the loom generator resumed from a platform thread has no
            // exact baseline: see its javadoc)
            new Pairing("GeneratorRoundTrip.generator", THREADPOOL, "GeneratorRoundTrip.rawContinuation", Map.of(), 1.2),
            new Pairing("GeneratorRoundTrip.generatorInVirtualThread", LOOM,
                    "GeneratorRoundTrip.rawVirtualThreadHandOver", Map.of(), 1.2),
            new Pairing("GeneratorRoundTrip.generatorInVirtualThread", THREADPOOL,
                    "GeneratorRoundTrip.generator", Map.of(), null),
            // SpawnJoinBenchmark: against virtual threads and against CompletableFuture fan-out
            new Pairing("SpawnJoin.coro4j", THREADPOOL, "SpawnJoin.virtualThreads", Map.of(), 1.0),
            new Pairing("SpawnJoin.coro4j", Map.of(), "SpawnJoin.virtualThreads", Map.of(), null),
            new Pairing("SpawnJoin.coro4j", Map.of(), "SpawnJoin.completableFutures", Map.of(), null),
            // ChannelPingPongBenchmark
            new Pairing("ChannelPingPong.channels", THREADPOOL, "ChannelPingPong.synchronousQueues", Map.of(), 0.5),
            new Pairing("ChannelPingPong.channels", LOOM, "ChannelPingPong.synchronousQueues", Map.of(), null),
            new Pairing("ChannelPingPong.rawContinuations", Map.of(), "ChannelPingPong.synchronousQueues", Map.of(), null),
            new Pairing("ChannelPingPong.rawNestedContinuations", Map.of(), "ChannelPingPong.synchronousQueues", Map.of(), null),
            // SleepersWallTimeBenchmark: the budgets are for a million sleepers
            new Pairing("SleepersWallTime.sleepers", with(THREADPOOL, MILLION),
                    "SleepersWallTime.virtualThreadSleepers", Map.of(), 0.7),
            new Pairing("SleepersWallTime.sleepers", with(LOOM, MILLION),
                    "SleepersWallTime.virtualThreadSleepers", Map.of(), 1.1),
            new Pairing("SleepersWallTime.sleepers", Map.of(), "SleepersWallTime.virtualThreadSleepers", Map.of(), null),
            new Pairing("SleepersWallTime.heapPerSleeper", Map.of(),
                    "SleepersWallTime.heapPerVirtualThreadSleeper", Map.of(), null),
            // MetricsOverheadBenchmark
            new Pairing("MetricsOverhead.generator", BOUND, "MetricsOverhead.generator", UNBOUND, 1.05),
            new Pairing("MetricsOverhead.spawnJoin", BOUND, "MetricsOverhead.spawnJoin", UNBOUND, 1.05));

    private static Map<String, String> with(Map<String, String> a, Map<String, String> b) {
        Map<String, String> out = new java.util.HashMap<>(a);
        out.putAll(b);
        return Map.copyOf(out);
    }

    /**
     * Benchmarks whose reported figure is a secondary result, not the score: the heap benchmarks'
     * score is the time of a shot, their result {@code bytesPerSleeper}. Benchmark → secondary result
     * name and the unit the report gives it.
     */
    public static final Map<String, Secondary> SECONDARY = Map.of(
            "SleepersWallTime.heapPerSleeper", new Secondary("bytesPerSleeper", "bytes/sleeper"),
            "SleepersWallTime.heapPerVirtualThreadSleeper", new Secondary("bytesPerSleeper", "bytes/sleeper"));

    /** A secondary result reported instead of the score, and its unit. */
    public record Secondary(String name, String unit) {}

    /** The first of {@code pairings} that applies to {@code m}: the one that places it in the report. */
    public static Optional<Pairing> pairingOf(Measurement m, List<Pairing> pairings) {
        return pairings.stream().filter(p -> p.appliesTo(m)).findFirst();
    }

    /**
     * The pairings that apply to {@code m}, in order, one baseline each (a report row each), except
     * that of pairings with the same baseline only the first applies: a budgeted pairing for some
     * parameters, followed by an unbudgeted one for the rest.
     */
    public static List<Pairing> pairingsOf(Measurement m, List<Pairing> pairings) {
        List<Pairing> out = new java.util.ArrayList<>();
        for (Pairing p : pairings) {
            if (p.appliesTo(m) && out.stream().noneMatch(q -> q.baseline().equals(p.baseline()))) {
                out.add(p);
            }
        }
        return out;
    }
}
