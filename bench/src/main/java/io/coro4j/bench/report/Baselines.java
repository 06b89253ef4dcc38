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

    /** The pairings, in the order the report lists their subjects within a benchmark class. */
    public static final List<Pairing> PAIRINGS = List.of(
            // GeneratorRoundTripBenchmark
            new Pairing("GeneratorRoundTrip.generator", THREADPOOL, "GeneratorRoundTrip.rawContinuation", Map.of(), 1.2),
            new Pairing("GeneratorRoundTrip.generatorInVirtualThread", LOOM,
                    "GeneratorRoundTrip.rawVirtualThreadHandOver", Map.of(), 1.2),
            new Pairing("GeneratorRoundTrip.generator", LOOM,
                    "GeneratorRoundTrip.rawVirtualThreadHandOver", Map.of(), null),
            new Pairing("GeneratorRoundTrip.generatorInVirtualThread", THREADPOOL,
                    "GeneratorRoundTrip.generator", Map.of(), null),
            // SpawnJoinBenchmark
            new Pairing("SpawnJoin.coro4j", THREADPOOL, "SpawnJoin.virtualThreads", Map.of(), 1.0),
            new Pairing("SpawnJoin.coro4j", LOOM, "SpawnJoin.virtualThreads", Map.of(), null),
            new Pairing("SpawnJoin.completableFutures", Map.of(), "SpawnJoin.virtualThreads", Map.of(), null),
            // ChannelPingPongBenchmark
            new Pairing("ChannelPingPong.channels", THREADPOOL, "ChannelPingPong.synchronousQueues", Map.of(), 0.5),
            new Pairing("ChannelPingPong.channels", LOOM, "ChannelPingPong.synchronousQueues", Map.of(), null),
            new Pairing("ChannelPingPong.rawContinuations", Map.of(), "ChannelPingPong.synchronousQueues", Map.of(), null),
            // SleepersWallTimeBenchmark
            new Pairing("SleepersWallTime.sleepers", THREADPOOL, "SleepersWallTime.virtualThreadSleepers", Map.of(), 0.7),
            new Pairing("SleepersWallTime.sleepers", LOOM, "SleepersWallTime.virtualThreadSleepers", Map.of(), 1.1),
            new Pairing("SleepersWallTime.heapPerSleeper", Map.of(),
                    "SleepersWallTime.heapPerVirtualThreadSleeper", Map.of(), null),
            // MetricsOverheadBenchmark
            new Pairing("MetricsOverhead.generator", BOUND, "MetricsOverhead.generator", UNBOUND, 1.05),
            new Pairing("MetricsOverhead.spawnJoin", BOUND, "MetricsOverhead.spawnJoin", UNBOUND, 1.05));

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

    /** The first of {@code pairings} that applies to {@code m}. */
    public static Optional<Pairing> pairingOf(Measurement m, List<Pairing> pairings) {
        return pairings.stream().filter(p -> p.appliesTo(m)).findFirst();
    }
}
