package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.spi.Scheduler;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.time.Duration;
import java.util.concurrent.CancellationException;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Many concurrent sleepers: {@value #SLEEPERS} tasks that each sleep {@value #NAP_MILLIS} ms, and
 * the heap each costs while it sleeps. Single shots: one invocation is the whole crowd, and each
 * takes seconds, so the defaults are few shots (wall time: four warm-up, three measured; heap: one
 * and one): repeat a run, or give the wall-time benchmarks {@code -i 5 -f 2}, before trusting a
 * ratio (the heap benchmarks refuse more than one measured shot: see {@link HeapCounters}). Four warm-up shots because the JIT settles only after about three: each shot's main task
 * runs a body of another class than its sleepers', and until C2 stops speculating on one class
 * there, that deoptimizes the compiled task frame, so the sleepers spawned next run in C1 frames.
 * {@code -p sleepers=N} changes the wall-time crowd ({@link WallCrowd}), {@code -p heapSleepers=N}
 * the heap one ({@link HeapCrowd}).
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code sleepers}</td><td>wall time from the first {@code Coro.spawn} until all
 *       {@value #SLEEPERS} tasks, each {@code Coro.sleep(10 ms)}, have ended (one
 *       {@code Coro.run} whose main task spawns them; its implicit group waits for
 *       them)</td><td>{@code virtualThreadSleepers}</td></tr>
 *   <tr><td>{@code virtualThreadSleepers}</td><td>the same with {@value #SLEEPERS} virtual threads,
 *       each {@code Thread.sleep(10)}, started and joined from one virtual thread</td><td>-</td></tr>
 *   <tr><td>{@code virtualThreadSleepersHoldingBytes}</td><td>a diagnostic: the same, each virtual
 *       thread holding {@code ballastBytes} (default 320) of heap while it sleeps</td>
 *       <td>{@code virtualThreadSleepers}</td></tr>
 *   <tr><td>{@code heapPerSleeper}</td><td>score: time of the shot (not a result); secondary
 *       {@code bytesPerSleeper}: heap used after a full GC while {@code heapSleepers} tasks (default
 *       200,000) sleep in {@code Coro.sleep}, minus the heap used after a full GC before they were
 *       spawned, divided by their number</td><td>{@code heapPerVirtualThreadSleeper}</td></tr>
 *   <tr><td>{@code heapPerVirtualThreadSleeper}</td><td>the same for virtual threads in
 *       {@code Thread.sleep}</td><td>-</td></tr>
 * </table>
 *
 * <p>The heap measurement spawns sleepers that sleep for {@link #HEAP_NAP} (ten minutes), waits until
 * every one is parked (the scheduler's {@code parkedFibers()} gauge; a virtual thread's state
 * {@code TIMED_WAITING}), collects, and then wakes them early by cancelling the main task (coro4j) or
 * interrupting them (virtual threads). So it counts exactly the sleeping state: the task and its
 * bookkeeping, the suspended stack, the timer entry, however long spawning takes. The forks get a
 * fixed 4 GiB heap, so that heap sizing does not move between shots.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class SleepersWallTimeBenchmark {

    /** Concurrent sleepers per wall-time shot by default ({@link WallCrowd}). */
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

    /**
     * How many sleepers a wall-time shot spawns: {@value #SLEEPERS} unless {@code -p sleepers=N} says
     * otherwise (the benchmark report uses a smaller crowd to fit its time box).
     */
    @State(Scope.Thread)
    public static class WallCrowd {
        @Param({"1000000"})
        public int sleepers;
    }

    /** Wall time for {@code sleepers} (default {@value #SLEEPERS}) tasks sleeping {@value #NAP_MILLIS} ms at once. */
    @Benchmark
    public int sleepers(SleeperState s, WallCrowd crowd) {
        int n = crowd.sleepers;
        return Coro.run(s.instance, () -> {
            for (int i = 0; i < n; i++) {
                Coro.spawn(SleepersWallTimeBenchmark::nap);
            }
            return n; // the main task's group waits for every sleeper before Coro.run returns
        });
    }

    /** Baseline of {@code sleepers}: as many virtual threads sleeping {@value #NAP_MILLIS} ms at once. */
    @Benchmark
    public int virtualThreadSleepers(WallCrowd crowd) throws Exception {
        return virtualThreadCrowd(crowd.sleepers, SleepersWallTimeBenchmark::threadNap);
    }

    /**
     * Starts {@code n} virtual threads running {@code nap} from one virtual thread and joins them.
     * {@code nap} is a method reference without captures, one object for all the threads, as a
     * {@code Coro.spawn} of {@code nap()} is.
     */
    private static int virtualThreadCrowd(int n, Runnable nap) throws Exception {
        return GeneratorRoundTripBenchmark.inVirtualThread(() -> {
            Thread[] threads = new Thread[n];
            for (int i = 0; i < n; i++) {
                threads[i] = Thread.ofVirtual().start(nap);
            }
            for (Thread t : threads) {
                t.join();
            }
            return n;
        });
    }

    private static void threadNap() {
        try {
            Thread.sleep(NAP_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * How many bytes of heap each sleeper of {@code virtualThreadSleepersHoldingBytes} holds while it
     * sleeps, in one {@code Object[]}: by default 320, what a loom task in {@code Coro.sleep} holds
     * more than a bare virtual thread in {@code Thread.sleep} (about 976 bytes against 656, class
     * histogram: see bench/README.md).
     */
    @State(Scope.Thread)
    public static class Ballast {
        @Param({"320"})
        public int ballastBytes;
    }

    /**
     * A diagnostic, not a baseline: {@code virtualThreadSleepers} with each virtual thread holding
     * {@code ballastBytes} of heap while it sleeps. Beside {@code sleepers} (loom) and
     * {@code virtualThreadSleepers} it shows how much of loom's gap is the garbage collector handling
     * more bytes per sleeper, and how much the work loom's tasks do.
     */
    @Benchmark
    public int virtualThreadSleepersHoldingBytes(WallCrowd crowd, Ballast ballast) throws Exception {
        ballastSlots = Math.max(0, (ballast.ballastBytes - 16) / 4); // 16-byte array header, 4-byte references
        return virtualThreadCrowd(crowd.sleepers, SleepersWallTimeBenchmark::ballastNap);
    }

    /**
     * {@code Object[]} length for {@link #ballastNap}; written before the sleepers start (their start
     * orders it). A static, not a captured value: a capturing lambda would add an object per thread.
     */
    private static int ballastSlots;

    private static void ballastNap() {
        Object[] held = new Object[ballastSlots];
        threadNap();
        Reference.reachabilityFence(held);
    }

    // ---- heap per sleeper ----

    /**
     * How long the sleepers of the heap measurement sleep: far longer than spawning them and collecting
     * takes, even on a busy machine; they are woken by cancellation (coro4j) or interruption (virtual
     * threads) as soon as the heap has been measured.
     */
    static final Duration HEAP_NAP = Duration.ofMinutes(10);

    /** Longer than the timer thread of {@code TimerThread} takes to unlink cancelled timers (a block, about a second). */
    static final long TIMER_DRAIN_MILLIS = 1_500;

    /**
     * How many sleepers the heap measurement spawns. Bytes per sleeper do not depend on it (a full GC
     * leaves a few kilobytes of noise); 200,000 keeps a shot short, {@code -p heapSleepers=1000000}
     * measures the whole crowd of the wall-time benchmarks.
     */
    @State(Scope.Thread)
    public static class HeapCrowd {
        @Param({"200000"})
        public int heapSleepers;
    }

    /**
     * The secondary result of the heap benchmarks: bytes of heap per sleeping task. JMH sums a
     * secondary result of this kind over the measured shots, so the heap benchmarks measure one shot
     * (after one warm-up shot, so that the suspended frames are compiled ones, as in a running
     * server; interpreted frames make a suspended stack several hundred bytes larger), and a run that
     * asks for more ({@code -i 3} over the whole class) is refused rather than summed: more samples
     * come from more forks ({@code -f 3}).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class HeapCounters {
        public double bytesPerSleeper;

        @Setup(Level.Trial)
        public void requireOneShot(BenchmarkParams params) {
            int shots = params.getMeasurement().getCount();
            if (shots != 1) {
                throw new IllegalArgumentException(params.getBenchmark() + " measures " + shots
                        + " shots: JMH would print bytesPerSleeper summed over them, " + shots + " times the"
                        + " bytes per sleeper. Run the heap benchmarks with -i 1 (their default), and -f N"
                        + " for more samples; exclude them (e.g. 'SleepersWallTimeBenchmark.(sleepers|virtual.*)$')"
                        + " when giving the wall-time benchmarks more shots.");
            }
        }

        @Setup(Level.Iteration)
        public void reset() {
            bytesPerSleeper = 0;
        }
    }

    /** Heap per task sleeping in {@code Coro.sleep}; see the class comment. */
    @Benchmark
    @Warmup(iterations = 1)
    @Measurement(iterations = 1)
    public int heapPerSleeper(SleeperState s, HeapCrowd crowd, HeapCounters counters) throws Exception {
        Scheduler scheduler = s.instance;
        int n = crowd.heapSleepers;
        long parkedBefore = scheduler.stats().parkedFibers();
        // The previous shot's sleepers were cancelled: the threadpool scheduler's timer unlinks
        // their timers at its next wake-up, within about a second. Measured before that, they
        // would count in "before" and not in "during" (up to 56 bytes per sleeper less).
        Thread.sleep(TIMER_DRAIN_MILLIS);
        long before = usedHeapAfterGc();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread runner = Thread.ofPlatform().name("bench-heap-runner").start(() -> {
            try {
                Coro.run(scheduler, () -> {
                    for (int i = 0; i < n; i++) {
                        Coro.spawn(() -> {
                            Coro.sleep(HEAP_NAP);
                            return null;
                        });
                    }
                    return null;
                });
            } catch (CancellationException expected) {
                // the interrupt below
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        // Every sleeper parked (the main task parks too, waiting for them, but may be counted late).
        while (scheduler.stats().parkedFibers() - parkedBefore < n) {
            if (failure.get() != null || !runner.isAlive()) {
                throw new IllegalStateException("the sleepers failed", failure.get());
            }
            Thread.sleep(10);
        }
        long during = usedHeapAfterGc();
        long asleep = scheduler.stats().parkedFibers() - parkedBefore;
        runner.interrupt(); // Coro.run cancels the main task, which cancels the sleepers
        runner.join();
        if (asleep < n) {
            throw new IllegalStateException("sleepers woke up during the measurement (" + asleep + " still asleep)");
        }
        if (failure.get() != null) {
            throw new IllegalStateException("the sleepers failed", failure.get());
        }
        counters.bytesPerSleeper = (double) (during - before) / n;
        return n;
    }

    /** Baseline of {@code heapPerSleeper}: heap per virtual thread sleeping in {@code Thread.sleep}. */
    @Benchmark
    @Warmup(iterations = 1)
    @Measurement(iterations = 1)
    public int heapPerVirtualThreadSleeper(HeapCrowd crowd, HeapCounters counters) throws Exception {
        int n = crowd.heapSleepers;
        long before = usedHeapAfterGc();
        Thread[] threads = new Thread[n];
        for (int i = 0; i < n; i++) {
            threads[i] = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(HEAP_NAP);
                } catch (InterruptedException expected) {
                    // the interrupt below
                }
            });
        }
        for (Thread t : threads) {
            for (Thread.State st; (st = t.getState()) != Thread.State.TIMED_WAITING; ) {
                if (st == Thread.State.TERMINATED) { // it cannot fall asleep any more: stop, not wait for ever
                    for (Thread u : threads) {
                        u.interrupt();
                    }
                    throw new IllegalStateException("a sleeper ended before the heap was measured (" + t + ")");
                }
                Thread.sleep(1);
            }
        }
        long during = usedHeapAfterGc();
        boolean allAsleep = true;
        for (Thread t : threads) {
            allAsleep &= t.getState() == Thread.State.TIMED_WAITING;
            t.interrupt();
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!allAsleep) {
            throw new IllegalStateException("sleepers woke up during the measurement");
        }
        counters.bytesPerSleeper = (double) (during - before) / n;
        return n;
    }

    /** Heap in use after two full collections. */
    static long usedHeapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }
}
