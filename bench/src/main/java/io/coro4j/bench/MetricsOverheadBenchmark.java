package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.metrics.CoroutineMetrics;
import io.coro4j.spi.Scheduler;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What binding {@link CoroutineMetrics} costs the hot path: the workloads of
 * {@link GeneratorRoundTripBenchmark#generator} and {@link SpawnJoinBenchmark#coro4j}, on each
 * scheduler, with the scheduler's meters bound to a {@link PrometheusMeterRegistry}
 * ({@code metrics=prometheus}) and with nothing bound ({@code metrics=none}), in the same run.
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code generator}, metrics=prometheus</td><td>one generator round trip, as
 *       {@code GeneratorRoundTripBenchmark.generator}, with the binder bound</td>
 *       <td>{@code generator}, metrics=none, same scheduler</td></tr>
 *   <tr><td>{@code spawnJoin}, metrics=prometheus</td><td>one task spawned, run and joined, as
 *       {@code SpawnJoinBenchmark.coro4j}, with the binder bound</td>
 *       <td>{@code spawnJoin}, metrics=none, same scheduler</td></tr>
 * </table>
 *
 * <p>Bound, the binder samples scheduling delays into a {@code Timer} with a percentile histogram
 * from carrier threads (the only part of it on the hot path), and its function counters and gauges
 * read the scheduler's statistics on scrape. So that they really are read, the registry is scraped
 * once per iteration, after it ({@code @TearDown(Level.Iteration)}, outside the measured time), and
 * the scrape must contain the scheduler's meters. Unbound, nothing is created or scraped.
 *
 * <p>Budget (issue 5): bound at most 1.05x unbound. Each {@code metrics} value is its own fork, so
 * a ratio also carries fork-to-fork noise (a few percent on a quiet machine): use {@code -f 3} or
 * more before judging a ratio near the budget.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class MetricsOverheadBenchmark {

    /** The values of the {@code metrics} parameter: nothing bound, or a Prometheus registry. */
    static final String[] METRICS = {"none", "prometheus"};

    /** A {@link CoroutineMetrics} bound to a Prometheus registry, or nothing: the {@code metrics} parameter. */
    static final class Binding implements AutoCloseable {
        private final CoroutineMetrics metrics;
        private final PrometheusMeterRegistry registry;

        private Binding(CoroutineMetrics metrics, PrometheusMeterRegistry registry) {
            this.metrics = metrics;
            this.registry = registry;
        }

        /**
         * Binds {@code scheduler}'s meters as {@code kind} says.
         *
         * @throws IllegalArgumentException if {@code kind} is not one of {@link #METRICS}
         */
        static Binding of(String kind, Scheduler scheduler) {
            switch (kind) {
                case "none":
                    return new Binding(null, null);
                case "prometheus":
                    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
                    CoroutineMetrics metrics = new CoroutineMetrics(scheduler);
                    metrics.bindTo(registry);
                    return new Binding(metrics, registry);
                default:
                    throw new IllegalArgumentException("unknown metrics \"" + kind + "\" in -p metrics=...:"
                            + " expected one of " + String.join(", ", METRICS));
            }
        }

        /** Scrapes the registry, if any, and checks that the scheduler's meters were in it. */
        void scrape() {
            if (registry == null) {
                return;
            }
            String text = registry.scrape();
            if (!text.contains("coro4j_resumptions_total")) {
                throw new IllegalStateException("the scrape has no coro4j meters:\n" + text);
            }
        }

        @Override
        public void close() {
            if (metrics != null) {
                metrics.close();
                registry.close();
            }
        }
    }

    @State(Scope.Thread)
    public static class GeneratorState extends SchedulerState {
        @Param({"none", "prometheus"})
        public String metrics;

        Binding binding;
        Generator<Integer, Integer, Void> generator;
        Integer last;

        @Override
        protected void setUp(Scheduler scheduler) {
            binding = Binding.of(metrics, scheduler);
            generator = Generator.of(scheduler, GeneratorRoundTripBenchmark::echoBody);
            last = generator.next().value();
        }

        @TearDown(Level.Iteration)
        public void scrape() {
            binding.scrape();
        }

        @Override
        protected void tearDown() {
            try {
                generator.close();
            } finally {
                binding.close();
            }
        }
    }

    /** One send + yield from the benchmark thread, as {@code GeneratorRoundTripBenchmark.generator}. */
    @Benchmark
    public Integer generator(GeneratorState s) {
        Integer y = s.generator.send(s.last).value();
        s.last = y;
        return y;
    }

    @State(Scope.Thread)
    public static class TaskState extends CarrierSchedulerState {
        @Param({"none", "prometheus"})
        public String metrics;

        Binding binding;

        @Override
        protected void setUp(Scheduler scheduler) {
            binding = Binding.of(metrics, scheduler);
        }

        @TearDown(Level.Iteration)
        public void scrape() {
            binding.scrape();
        }

        @Override
        protected void tearDown() {
            binding.close();
        }
    }

    /** {@value SpawnJoinBenchmark#TASKS} tasks spawned and joined per invocation, as {@code SpawnJoinBenchmark.coro4j}. */
    @Benchmark
    @OperationsPerInvocation(SpawnJoinBenchmark.TASKS)
    public long spawnJoin(TaskState s) {
        return Coro.run(s.instance, SpawnJoinBenchmark::spawnAndJoin);
    }
}
