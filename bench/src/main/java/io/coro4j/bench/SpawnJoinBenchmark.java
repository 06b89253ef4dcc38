package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one task: spawning it, running it (it returns a small value) and joining it, measured
 * {@value #TASKS} tasks at a time and reported per task ({@code @OperationsPerInvocation}).
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code coro4j}</td><td>{@code Coro.spawn} &times; {@value #TASKS}, then {@code join()} of
 *       each, inside one task</td><td>{@code virtualThreads}</td></tr>
 *   <tr><td>{@code virtualThreads}</td><td>{@code Thread.ofVirtual().start} &times; {@value #TASKS},
 *       then {@code join()} of each, inside one virtual thread</td><td>-</td></tr>
 *   <tr><td>{@code completableFutures}</td><td>{@code CompletableFuture.supplyAsync} &times;
 *       {@value #TASKS} on the common pool, then {@code allOf(...).join()}, from the benchmark
 *       thread</td><td>-</td></tr>
 * </table>
 *
 * <p><b>Why one {@code Coro.run} per invocation.</b> Tasks can only be spawned from inside a task,
 * and JMH calls the benchmark method on a platform thread, so each invocation enters coro4j once:
 * {@code Coro.run} starts a main task, which spawns and joins the {@value #TASKS} children, and
 * blocks the benchmark thread until it ends. That entry (one task start, one platform-thread park
 * and wake-up: tens of microseconds) is spread over {@value #TASKS} tasks, a few nanoseconds each.
 * A main task kept alive for the trial and driven per invocation would pay the same platform-thread
 * hand-over per invocation, so it would measure nothing else, only with more machinery. The
 * virtual-thread baseline has the same shape: each invocation starts one driving virtual thread that
 * starts and joins the children (so children are started from a carrier, as coro4j's are), and the
 * benchmark thread joins it.
 *
 * <p>Each child returns {@code i & 63}, a cached {@code Integer}, so boxing allocates nothing;
 * whatever {@code -prof gc} shows is the cost of a task.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class SpawnJoinBenchmark {

    /** Tasks spawned and joined per invocation. */
    static final int TASKS = 10_000;

    @State(Scope.Thread)
    public static class TaskState extends CarrierSchedulerState {}

    /** Spawns {@value #TASKS} children of the current task, joins each in turn, sums their results. */
    static long spawnAndJoin() {
        List<Task<Integer>> tasks = new ArrayList<>(TASKS);
        for (int i = 0; i < TASKS; i++) {
            Integer v = i & 63;
            tasks.add(Coro.spawn(() -> v));
        }
        long sum = 0;
        for (Task<Integer> t : tasks) {
            sum += t.join();
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(TASKS)
    public long coro4j(TaskState s) {
        return Coro.run(s.instance, SpawnJoinBenchmark::spawnAndJoin);
    }

    // ---- baselines ----

    /** Baseline of {@code coro4j}: {@value #TASKS} virtual threads started and joined from a virtual thread. */
    @Benchmark
    @OperationsPerInvocation(TASKS)
    public long virtualThreads() throws Exception {
        return GeneratorRoundTripBenchmark.inVirtualThread(() -> {
            Thread[] threads = new Thread[TASKS];
            int[] results = new int[TASKS];
            for (int i = 0; i < TASKS; i++) {
                int k = i;
                threads[i] = Thread.ofVirtual().start(() -> results[k] = k & 63);
            }
            long sum = 0;
            for (int i = 0; i < TASKS; i++) {
                threads[i].join();
                sum += results[i];
            }
            return sum;
        });
    }

    /**
     * {@value #TASKS} {@code supplyAsync} on the common pool (its parallelism is processors - 1) and
     * one {@code allOf(...).join()}, from the benchmark thread.
     */
    @Benchmark
    @OperationsPerInvocation(TASKS)
    public long completableFutures() {
        @SuppressWarnings("unchecked")
        CompletableFuture<Integer>[] futures = new CompletableFuture[TASKS];
        for (int i = 0; i < TASKS; i++) {
            Integer v = i & 63;
            futures[i] = CompletableFuture.supplyAsync(() -> v);
        }
        CompletableFuture.allOf(futures).join();
        long sum = 0;
        for (CompletableFuture<Integer> f : futures) {
            sum += f.join();
        }
        return sum;
    }
}
