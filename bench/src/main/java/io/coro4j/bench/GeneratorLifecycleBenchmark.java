package io.coro4j.bench;

import io.coro4j.Generator;
import io.coro4j.spi.Scheduler;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole life of a short generator, the way loops use them: create it, take its
 * {@value #VALUES} values, and either reach its end or break out after the first and close it.
 * What this adds to {@link GeneratorRoundTripBenchmark}'s per-value cost is the generator's birth
 * and death: the coroutine (a continuation, or a virtual thread started at the first value), and
 * the registration that closes the generator for the user should it be dropped suspended.
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code generatorToTheEnd}</td><td>create, {@value #VALUES} values, end</td>
 *       <td>{@code plainIteratorToTheEnd}</td></tr>
 *   <tr><td>{@code generatorClosedAfterOne}</td><td>create, one value, {@code close()}
 *       (GeneratorExit unwinds the body)</td><td>{@code plainIteratorToTheEnd}</td></tr>
 *   <tr><td>{@code plainIteratorToTheEnd}</td><td>a hand-written {@link Iterator} over the same
 *       values: the floor</td><td>-</td></tr>
 * </table>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class GeneratorLifecycleBenchmark {

    static final int VALUES = 8;

    @State(Scope.Thread)
    public static class GeneratorState extends SchedulerState {
        Scheduler scheduler;

        @Override
        protected void setUp(Scheduler s) {
            scheduler = s;
        }
    }

    /** Counts 0..VALUES-1 as boxed, cached Integers, then ends. */
    static Generator<Integer, Object, Void> counter(Scheduler scheduler) {
        return Generator.of(scheduler, co -> {
            for (int i = 0; i < VALUES; i++) {
                co.yield(i);
            }
            return null;
        });
    }

    @Benchmark
    public int generatorToTheEnd(GeneratorState s) {
        int sum = 0;
        for (Integer i : counter(s.scheduler)) {
            sum += i;
        }
        return sum;
    }

    @Benchmark
    public int generatorClosedAfterOne(GeneratorState s) {
        try (Generator<Integer, Object, Void> g = counter(s.scheduler)) {
            return g.next().value();
        }
    }

    /** The number of values, read from a field so that the JIT cannot fold the plain loop into a constant. */
    @State(Scope.Thread)
    public static class Count {
        int values = VALUES;
    }

    @Benchmark
    public int plainIteratorToTheEnd(Count c) {
        int n = c.values;
        int sum = 0;
        Iterator<Integer> it = new Iterator<>() {
            int i;

            @Override
            public boolean hasNext() {
                return i < n;
            }

            @Override
            public Integer next() {
                if (i >= n) {
                    throw new NoSuchElementException();
                }
                return i++;
            }
        };
        while (it.hasNext()) {
            sum += it.next();
        }
        return sum;
    }
}
