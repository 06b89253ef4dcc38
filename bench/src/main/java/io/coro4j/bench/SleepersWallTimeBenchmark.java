package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.spi.Scheduler;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Many concurrent sleepers: {@value #SLEEPERS} tasks that each sleep {@value #NAP_MILLIS} ms, and
 * the heap each costs while it sleeps. Single shots: one invocation is the whole crowd.
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code sleepers}</td><td>wall time from the first {@code Coro.spawn} until all
 *       {@value #SLEEPERS} tasks, each {@code Coro.sleep(10 ms)}, have ended (one
 *       {@code Coro.run} whose main task spawns them; its implicit group waits for
 *       them)</td><td>{@code virtualThreadSleepers}</td></tr>
 *   <tr><td>{@code virtualThreadSleepers}</td><td>the same with {@value #SLEEPERS} virtual threads,
 *       each {@code Thread.sleep(10)}, started and joined from one virtual thread</td><td>-</td></tr>
 *   <tr><td>{@code heapPerSleeper}</td><td>score: time of the shot (not a result); secondary
 *       {@code bytesPerSleeper}: heap used after a full GC while all {@value #SLEEPERS} tasks sleep
 *       in {@code Coro.sleep}, minus the heap used after a full GC before they were spawned, divided
 *       by {@value #SLEEPERS}</td><td>{@code heapPerVirtualThreadSleeper}</td></tr>
 *   <tr><td>{@code heapPerVirtualThreadSleeper}</td><td>the same for virtual threads in
 *       {@code Thread.sleep}</td><td>-</td></tr>
 * </table>
 *
 * <p>The heap measurement waits until every sleeper is parked (the scheduler's
 * {@code parkedFibers()} gauge; a virtual thread's state {@code TIMED_WAITING}) before it collects,
 * so it counts exactly the sleeping state: the task and its bookkeeping, the suspended stack, the
 * timer entry. All of them sleep until the same instant, {@code -p heapNapMillis} (default 6000) after
 * the shot starts, so spawning the crowd (seconds on a small machine, much more on a busy one) and
 * collecting must fit in that; if the wake-up comes first, the shot fails saying so. The forks get a fixed 4 GiB heap, so
 * that heap sizing does not move between shots.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class SleepersWallTimeBenchmark {

    /** Concurrent sleepers per shot. */
    static final int SLEEPERS = 1_000_000;
    static final int NAP_MILLIS = 10;
    static final Duration NAP = Duration.ofMillis(NAP_MILLIS);

    @State(Scope.Thread)
    public static class SleeperState extends CarrierSchedulerState {}

    /** A sleeper task: one {@code Coro.sleep}. */
    static Void nap() {
        Coro.sleep(NAP);
        return null;
    }

    /** Wall time for {@value #SLEEPERS} tasks sleeping {@value #NAP_MILLIS} ms at once. */
    @Benchmark
    public int sleepers(SleeperState s) {
        return Coro.run(s.instance, () -> {
            for (int i = 0; i < SLEEPERS; i++) {
                Coro.spawn(SleepersWallTimeBenchmark::nap);
            }
            return SLEEPERS; // the main task's group waits for every sleeper before Coro.run returns
        });
    }

    /** Baseline of {@code sleepers}: {@value #SLEEPERS} virtual threads sleeping {@value #NAP_MILLIS} ms at once. */
    @Benchmark
    public int virtualThreadSleepers() throws Exception {
        return GeneratorRoundTripBenchmark.inVirtualThread(() -> {
            Thread[] threads = new Thread[SLEEPERS];
            for (int i = 0; i < SLEEPERS; i++) {
                threads[i] = Thread.ofVirtual().start(SleepersWallTimeBenchmark::threadNap);
            }
            for (Thread t : threads) {
                t.join();
            }
            return SLEEPERS;
        });
    }

    private static void threadNap() {
        try {
            Thread.sleep(NAP_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- heap per sleeper ----

    /**
     * When the sleepers of the heap measurement wake up, in milliseconds after the shot starts: all of
     * them at once, so that spawning the crowd, waiting for all to park and collecting must fit in it.
     */
    @State(Scope.Thread)
    public static class HeapNap {
        @Param({"6000"})
        public long heapNapMillis;
    }

    /** The secondary result of the heap benchmarks: bytes of heap per sleeping task, one value per shot. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class HeapCounters {
        public double bytesPerSleeper;

        @Setup(Level.Iteration)
        public void reset() {
            bytesPerSleeper = 0;
        }
    }

    /** Heap per task sleeping in {@code Coro.sleep}; see the class comment. */
    @Benchmark
    @Warmup(iterations = 0)
    @Measurement(iterations = 3)
    public int heapPerSleeper(SleeperState s, HeapNap nap, HeapCounters counters) throws Exception {
        Scheduler scheduler = s.instance;
        long parkedBefore = scheduler.stats().parkedFibers();
        long before = usedHeapAfterGc();
        long wakeUp = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(nap.heapNapMillis);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread runner = Thread.ofPlatform().name("bench-heap-runner").start(() -> {
            try {
                Coro.run(scheduler, () -> {
                    for (int i = 0; i < SLEEPERS; i++) {
                        Coro.spawn(() -> {
                            Coro.sleep(Duration.ofNanos(Math.max(1, wakeUp - System.nanoTime())));
                            return null;
                        });
                    }
                    return null;
                });
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        // Every sleeper parked (the main task parks too, waiting for them, but may be counted late).
        long asleep;
        while ((asleep = scheduler.stats().parkedFibers() - parkedBefore) < SLEEPERS) {
            checkStillAsleep(wakeUp, failure, asleep);
            Thread.sleep(10);
        }
        long during = usedHeapAfterGc();
        if ((asleep = scheduler.stats().parkedFibers() - parkedBefore) < SLEEPERS) {
            throw new IllegalStateException("sleepers woke up during the measurement (" + asleep + " still asleep):"
                    + " raise -p heapNapMillis");
        }
        counters.bytesPerSleeper = (double) (during - before) / SLEEPERS;
        runner.join();
        if (failure.get() != null) {
            throw new IllegalStateException("the sleepers failed", failure.get());
        }
        return SLEEPERS;
    }

    /** Baseline of {@code heapPerSleeper}: heap per virtual thread sleeping in {@code Thread.sleep}. */
    @Benchmark
    @Warmup(iterations = 0)
    @Measurement(iterations = 3)
    public int heapPerVirtualThreadSleeper(HeapNap nap, HeapCounters counters) throws Exception {
        long before = usedHeapAfterGc();
        long wakeUp = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(nap.heapNapMillis);
        Thread[] threads = new Thread[SLEEPERS];
        for (int i = 0; i < SLEEPERS; i++) {
            threads[i] = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(Duration.ofNanos(Math.max(1, wakeUp - System.nanoTime())));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        AtomicReference<Throwable> none = new AtomicReference<>();
        for (int i = 0; i < SLEEPERS; i++) {
            while (threads[i].getState() != Thread.State.TIMED_WAITING) {
                checkStillAsleep(wakeUp, none, i);
                Thread.sleep(1);
            }
        }
        long during = usedHeapAfterGc();
        for (Thread t : threads) {
            if (t.getState() != Thread.State.TIMED_WAITING) {
                throw new IllegalStateException("sleepers woke up during the measurement: raise -p heapNapMillis");
            }
        }
        counters.bytesPerSleeper = (double) (during - before) / SLEEPERS;
        for (Thread t : threads) {
            t.join();
        }
        return SLEEPERS;
    }

    /** Fails the shot if the sleepers failed, or if the first of them may be waking up already. */
    private static void checkStillAsleep(long wakeUp, AtomicReference<Throwable> failure, long asleep) {
        if (failure.get() != null) {
            throw new IllegalStateException("the sleepers failed", failure.get());
        }
        if (System.nanoTime() - wakeUp >= 0) {
            throw new IllegalStateException("the first sleepers may have woken before all " + SLEEPERS
                    + " were asleep (" + asleep + " were): raise -p heapNapMillis");
        }
    }

    /** Heap in use after two full collections. */
    static long usedHeapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }
}
