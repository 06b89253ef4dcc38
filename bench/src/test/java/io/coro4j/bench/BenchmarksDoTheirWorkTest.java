package io.coro4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One invocation of each benchmark, outside JMH, on each scheduler: it must end and return what
 * proves it did the work it claims, the same as its baseline's. A benchmark that silently does
 * less (a batch cut short, a child not joined, an echo that never answers) fails here, not in a
 * report that shows it as fast.
 */
@Timeout(60)
class BenchmarksDoTheirWorkTest {

    /** After {@code n} round trips from 0 through {@link GeneratorRoundTripBenchmark#next}. */
    private static int afterRoundTrips(int start, int n) {
        return (start + n) & 63;
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void generator_round_trips_advance_the_value_by_one_each_like_their_baselines(String scheduler) throws Exception {
        GeneratorRoundTripBenchmark b = new GeneratorRoundTripBenchmark();
        GeneratorRoundTripBenchmark.GeneratorState s = new GeneratorRoundTripBenchmark.GeneratorState();
        s.scheduler = scheduler;
        s.openScheduler();
        try {
            assertThat(b.generator(s)).isEqualTo(2); // the first next() gave 1
            assertThat(b.generator(s)).isEqualTo(3);
            assertThat(b.generatorInVirtualThread(s)).isEqualTo(afterRoundTrips(3, GeneratorRoundTripBenchmark.BATCH));
        } finally {
            s.closeScheduler();
        }
        GeneratorRoundTripBenchmark.RawContinuationState raw = new GeneratorRoundTripBenchmark.RawContinuationState();
        raw.setUp();
        assertThat(b.rawContinuation(raw)).isEqualTo(2);
        assertThat(b.rawContinuation(raw)).isEqualTo(3);
        GeneratorRoundTripBenchmark.HandOverState handOver = new GeneratorRoundTripBenchmark.HandOverState();
        handOver.setUp();
        try {
            assertThat(b.rawVirtualThreadHandOver(handOver)).isEqualTo(afterRoundTrips(0, GeneratorRoundTripBenchmark.BATCH));
        } finally {
            handOver.tearDown();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void spawn_join_runs_and_joins_every_task_like_its_baselines(String scheduler) throws Exception {
        long expected = IntStream.range(0, SpawnJoinBenchmark.TASKS).map(i -> i & 63).asLongStream().sum();
        SpawnJoinBenchmark b = new SpawnJoinBenchmark();
        SpawnJoinBenchmark.TaskState s = new SpawnJoinBenchmark.TaskState();
        s.scheduler = scheduler;
        s.openScheduler();
        try {
            assertThat(b.coro4j(s)).isEqualTo(expected);
        } finally {
            s.closeScheduler();
        }
        assertThat(b.virtualThreads()).isEqualTo(expected);
        assertThat(b.completableFutures()).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void channel_ping_pong_and_select_do_every_round_trip_like_their_baselines(String scheduler) throws Exception {
        int expected = afterRoundTrips(0, ChannelPingPongBenchmark.BATCH);
        ChannelPingPongBenchmark b = new ChannelPingPongBenchmark();
        ChannelPingPongBenchmark.ChannelState s = new ChannelPingPongBenchmark.ChannelState();
        s.scheduler = scheduler;
        s.openScheduler();
        try {
            assertThat(b.channels(s)).isEqualTo(expected);
            assertThat(new SelectBenchmark().selectOfTwo(s)).isEqualTo(expected);
            assertThat(new SelectBenchmark().receive(s)).isEqualTo(expected);
        } finally {
            s.closeScheduler();
        }
        assertThat(b.rawContinuations()).isEqualTo(expected);
        assertThat(b.rawNestedContinuations()).isEqualTo(expected);
        assertThat(b.synchronousQueues()).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void a_sleepers_shot_lasts_at_least_one_nap_and_ends(String scheduler) throws Exception {
        SleepersWallTimeBenchmark b = new SleepersWallTimeBenchmark();
        SleepersWallTimeBenchmark.WallCrowd crowd = new SleepersWallTimeBenchmark.WallCrowd();
        crowd.sleepers = 2_000;
        SleepersWallTimeBenchmark.SleeperState s = new SleepersWallTimeBenchmark.SleeperState();
        s.scheduler = scheduler;
        s.openScheduler();
        try {
            long t0 = System.nanoTime();
            assertThat(b.sleepers(s, crowd)).isEqualTo(2_000);
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(SleepersWallTimeBenchmark.NAP.toNanos());
        } finally {
            s.closeScheduler();
        }
        long t0 = System.nanoTime();
        assertThat(b.virtualThreadSleepers(crowd)).isEqualTo(2_000);
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(SleepersWallTimeBenchmark.NAP.toNanos());
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void a_generator_lifecycle_takes_every_value_like_the_plain_iterator(String scheduler) throws Exception {
        GeneratorLifecycleBenchmark b = new GeneratorLifecycleBenchmark();
        GeneratorLifecycleBenchmark.GeneratorState s = new GeneratorLifecycleBenchmark.GeneratorState();
        ((SchedulerState) s).scheduler = scheduler; // its own field of that name is the Scheduler
        s.openScheduler();
        try {
            int expected = b.plainIteratorToTheEnd(new GeneratorLifecycleBenchmark.Count());
            assertThat(expected).isEqualTo(28);
            assertThat(b.generatorToTheEnd(s)).isEqualTo(expected);
            assertThat(b.generatorClosedAfterOne(s)).isZero();
        } finally {
            s.closeScheduler();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void metrics_overhead_runs_its_workloads_bound_and_scrapes_them(String scheduler) throws Exception {
        MetricsOverheadBenchmark b = new MetricsOverheadBenchmark();
        for (String metrics : MetricsOverheadBenchmark.METRICS) {
            MetricsOverheadBenchmark.GeneratorState g = new MetricsOverheadBenchmark.GeneratorState();
            g.scheduler = scheduler;
            g.metrics = metrics;
            g.openScheduler();
            try {
                assertThat(b.generator(g)).isEqualTo(2);
                g.scrape();
            } finally {
                g.closeScheduler();
            }
            MetricsOverheadBenchmark.TaskState t = new MetricsOverheadBenchmark.TaskState();
            t.scheduler = scheduler;
            t.metrics = metrics;
            t.openScheduler();
            try {
                assertThat(b.spawnJoin(t))
                        .isEqualTo(IntStream.range(0, SpawnJoinBenchmark.TASKS).map(i -> i & 63).asLongStream().sum());
                t.scrape();
            } finally {
                t.closeScheduler();
            }
        }
    }
}
