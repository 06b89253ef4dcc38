package io.coro4j.bench;

import io.coro4j.Generator;
import io.coro4j.Yielder;
import io.coro4j.spi.Scheduler;
import java.util.Iterator;
import java.util.concurrent.Callable;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one generator round trip: one {@code send} into a paused body plus the {@code yield}
 * that pauses it again, with the body ({@code x = co.yield(next(x))}) kept alive for the whole
 * trial. Each coro4j measurement has its baseline in this same class, so one run gives both:
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code generator}, scheduler=threadpool</td><td>send + yield, resumed from the benchmark
 *       thread</td><td>{@code rawContinuation}</td></tr>
 *   <tr><td>{@code generator}, scheduler=loom</td><td>the same; the caller is a platform thread, the
 *       body a virtual thread</td><td>(user-facing number; no exact baseline)</td></tr>
 *   <tr><td>{@code generatorInVirtualThread}, scheduler=loom</td><td>send + yield, resumed from a
 *       virtual thread, {@value #BATCH} per invocation</td><td>{@code rawVirtualThreadHandOver}</td></tr>
 *   <tr><td>{@code generatorInVirtualThread}, scheduler=threadpool</td><td>a continuation nested in
 *       a virtual thread (informative)</td><td>{@code generator}, scheduler=threadpool</td></tr>
 *   <tr><td>{@code rawContinuation}</td><td>{@code Continuation.run()} + {@code Continuation.yield()},
 *       value handed through a field</td><td>-</td></tr>
 *   <tr><td>{@code rawVirtualThreadHandOver}</td><td>a round trip between two virtual threads over
 *       {@link SynchronousQueue}s, {@value #BATCH} per invocation</td><td>-</td></tr>
 *   <tr><td>{@code plainIterator}</td><td>{@code Iterator.next()} producing the same values: the
 *       floor</td><td>-</td></tr>
 * </table>
 *
 * <p>Values stay in {@code Integer}'s cache ({@link #next}), so no variant allocates for boxing
 * and whatever a variant allocates is its own overhead ({@code -prof gc} shows it).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class GeneratorRoundTripBenchmark {

    /**
     * Round trips per invocation of the virtual-thread benchmarks: enough that starting and joining
     * the driving virtual thread (a few microseconds) costs well under 1% per round trip.
     */
    static final int BATCH = 10_000;

    /** The value after {@code x}: cycles through 0..63, all cached boxes. */
    static Integer next(Integer x) {
        return (x + 1) & 63;
    }

    /** The generator body of every coro4j variant: yields {@code next} of what was sent, forever. */
    static Void echoBody(Yielder<Integer, Integer> co) {
        Integer x = 0;
        while (true) {
            x = co.yield(next(x));
        }
    }

    // ---- coro4j ----

    @State(Scope.Thread)
    public static class GeneratorState extends SchedulerState {
        Generator<Integer, Integer, Void> generator;
        Integer last;

        @Override
        protected void setUp(Scheduler scheduler) {
            generator = Generator.of(scheduler, GeneratorRoundTripBenchmark::echoBody);
            last = generator.next().value();
        }

        @Override
        protected void tearDown() {
            generator.close();
        }

        /** One round trip: send the last value in, take the next one out. */
        Integer roundTrip() {
            Integer y = generator.send(last).value();
            last = y;
            return y;
        }
    }

    /** One send + yield, resumed from the benchmark thread (a platform thread). */
    @Benchmark
    public Integer generator(GeneratorState s) {
        return s.roundTrip();
    }

    /**
     * {@value #BATCH} sends + yields, resumed from a virtual thread started for the batch: on loom,
     * both sides of each hand-over are virtual threads, the same shape as
     * {@link #rawVirtualThreadHandOver}.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer generatorInVirtualThread(GeneratorState s) throws Exception {
        return inVirtualThread(() -> {
            Integer y = null;
            for (int i = 0; i < BATCH; i++) {
                y = s.roundTrip();
            }
            return y;
        });
    }

    // ---- baselines ----

    @State(Scope.Thread)
    public static class RawContinuationState {
        Object continuation;
        Integer value;

        @Setup(Level.Trial)
        public void setUp() {
            value = 0;
            continuation = RawContinuation.create(() -> {
                while (true) {
                    value = next(value);
                    RawContinuation.yield();
                }
            });
            RawContinuation.run(continuation); // to the first yield, as generator's next()
        }
    }

    /**
     * Baseline of {@code generator} on threadpool: {@code Continuation.run()} and the body's
     * {@code Continuation.yield()}, the value handed in and out through a field.
     */
    @Benchmark
    public Integer rawContinuation(RawContinuationState s) {
        RawContinuation.run(s.continuation);
        return s.value;
    }

    /**
     * A virtual thread that answers each value on {@code requests} with its {@code next} on
     * {@code replies}, for the whole trial.
     */
    @State(Scope.Thread)
    public static class HandOverState {
        final SynchronousQueue<Integer> requests = new SynchronousQueue<>();
        final SynchronousQueue<Integer> replies = new SynchronousQueue<>();
        Thread echo;

        @Setup(Level.Trial)
        public void setUp() {
            echo = Thread.ofVirtual().name("bench-echo").start(() -> {
                try {
                    while (true) {
                        replies.put(next(requests.take()));
                    }
                } catch (InterruptedException stop) {
                    // tearDown
                }
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            echo.interrupt();
            echo.join();
        }
    }

    /**
     * Baseline of {@code generatorInVirtualThread} on loom: a round trip (two hand-overs) between
     * two virtual threads over {@link SynchronousQueue}s.
     *
     * <p>Why batched: JMH calls a benchmark method on a platform thread, so a round trip per
     * invocation would be a platform-to-virtual hand-over, which parks and unparks an OS thread
     * and says nothing about two virtual threads handing over on carriers. Instead each
     * invocation starts one driving virtual thread that does {@value #BATCH} round trips with the
     * echo thread; the loom generator is measured the same way ({@code generatorInVirtualThread}),
     * so both pay the same start/join, amortised to almost nothing.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer rawVirtualThreadHandOver(HandOverState s) throws Exception {
        return inVirtualThread(() -> {
            Integer x = 0;
            for (int i = 0; i < BATCH; i++) {
                s.requests.put(x);
                x = s.replies.take();
            }
            return x;
        });
    }

    @State(Scope.Thread)
    public static class IteratorState {
        final Iterator<Integer> iterator = new Iterator<>() {
            private Integer x = 0;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public Integer next() {
                Integer y = GeneratorRoundTripBenchmark.next(x);
                x = y;
                return y;
            }
        };
    }

    /** The floor: a hand-written iterator producing the same values, no suspension at all. */
    @Benchmark
    public Integer plainIterator(IteratorState s) {
        return s.iterator.next();
    }

    // ---- helpers ----

    /**
     * Runs {@code task} in a new virtual thread and returns its result, or throws its failure, an
     * {@link Error} included: an invocation whose work failed must fail the benchmark, not be
     * measured as one that returned.
     */
    static <T> T inVirtualThread(Callable<T> task) throws Exception {
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                result[0] = task.call();
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        t.join();
        if (failure[0] instanceof Exception e) {
            throw e;
        } else if (failure[0] instanceof Error e) {
            throw e;
        } else if (failure[0] != null) {
            throw new IllegalStateException(failure[0]);
        }
        @SuppressWarnings("unchecked")
        T r = (T) result[0];
        return r;
    }
}
