package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import javax.management.ObjectName;

/**
 * What one sleeping task is made of, class by class: spawns a crowd of tasks that sleep in
 * {@code Coro.sleep}, waits until all are parked, and prints the JVM's class histogram (the
 * {@code GC.class_histogram} diagnostic command, taken after a full GC) restricted to the classes
 * with at least one instance per sleeper, as bytes per sleeper, and their sum. The crowd is spawned
 * and cancelled a few times first, so that the suspended frames are the compiled ones of a warm
 * JVM (interpreted or C1 frames make a suspended stack several times larger). Kind
 * {@code virtual-threads} measures the baseline: virtual threads in {@code Thread.sleep}, no coro4j.
 * Then it prints how many bytes of frames the sleepers' suspended stacks hold ({@link SuspendedStacks};
 * it needs the two {@code --add-opens} below, and says so without them).
 *
 * <p>This complements {@code SleepersWallTimeBenchmark.heapPerSleeper}, whose used-heap difference
 * moves by hundreds of bytes between forks: the histogram counts objects, not heap occupancy.
 *
 * <pre>
 * java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED \
 *     --add-opens java.base/jdk.internal.vm=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
 *     -cp bench/target/benchmarks.jar \
 *     io.coro4j.bench.SleeperHeapHistogram [threadpool|loom|virtual-threads] [sleepers, default 200000] [rounds, default 4]
 * </pre>
 */
public final class SleeperHeapHistogram {

    private SleeperHeapHistogram() {}

    public static void main(String[] args) throws Exception {
        String kind = args.length > 0 ? args[0] : "threadpool";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        if (kind.equals(VIRTUAL_THREADS)) {
            print("virtual threads sleeping in Thread.sleep", n, snapshotOfVirtualThreads(n, rounds));
        } else {
            try (Scheduler s = Schedulers.create(kind, SchedulerConfig.builder().name("histogram").build())) {
                print("tasks sleeping in Coro.sleep on " + kind, n, snapshotOfTasks(s, n, rounds));
            }
        }
    }

    /** What the last round measured: the class histogram and the {@link SuspendedStacks} report. */
    private record Snapshot(String histogram, String stacks) {}

    /** The baseline's kind: plain virtual threads in {@code Thread.sleep}, no coro4j. */
    static final String VIRTUAL_THREADS = "virtual-threads";

    private static Snapshot snapshotOfTasks(Scheduler s, int n, int rounds) throws Exception {
        Snapshot snapshot = null;
        for (int round = 1; round <= rounds; round++) {
            long parkedBefore = s.stats().parkedFibers();
            SuspendedStacks.expect(n);
            Thread runner = Thread.ofPlatform().start(() -> {
                try {
                    Coro.run(s, () -> {
                        for (int i = 0; i < n; i++) {
                            Coro.spawn(() -> { // not capturing: no object per sleeper beyond the task's own
                                SuspendedStacks.recordCurrent();
                                Coro.sleep(Duration.ofMinutes(10));
                                return null;
                            });
                        }
                        return null;
                    });
                } catch (CancellationException expected) {
                    // the interrupt below
                }
            });
            while (s.stats().parkedFibers() - parkedBefore < n) {
                Thread.sleep(10);
            }
            if (round == rounds) {
                snapshot = new Snapshot(classHistogram(), SuspendedStacks.report(SuspendedStacks.recorded()));
            }
            runner.interrupt(); // Coro.run cancels the main task, which cancels the sleepers
            runner.join();
        }
        return snapshot;
    }

    private static Snapshot snapshotOfVirtualThreads(int n, int rounds) throws Exception {
        Snapshot snapshot = null;
        for (int round = 1; round <= rounds; round++) {
            Thread[] sleepers = new Thread[n];
            for (int i = 0; i < n; i++) {
                sleepers[i] = Thread.ofVirtual().start(SleeperHeapHistogram::sleepLong);
            }
            for (Thread t : sleepers) {
                while (t.getState() != Thread.State.TIMED_WAITING) {
                    Thread.sleep(1);
                }
            }
            if (round == rounds) {
                snapshot = new Snapshot(classHistogram(), SuspendedStacks.report(sleepers));
            }
            for (Thread t : sleepers) {
                t.interrupt();
            }
            for (Thread t : sleepers) {
                t.join();
            }
        }
        return snapshot;
    }

    private static void sleepLong() {
        try {
            Thread.sleep(Duration.ofMinutes(10));
        } catch (InterruptedException expected) {
            // woken by the measurement
        }
    }

    /** The {@code GC.class_histogram} diagnostic command's output, taken after a full GC. */
    private static String classHistogram() throws Exception {
        return (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                new Object[] {new String[0]}, new String[] {String[].class.getName()});
    }

    /** Prints the classes with at least {@code n} instances, in bytes per sleeper, then the suspended frames. */
    private static void print(String what, int n, Snapshot snapshot) {
        System.out.printf("%,d %s; classes with at least one instance each:%n", n, what);
        System.out.printf("%10s  %s%n", "bytes", "class");
        double total = 0;
        for (String line : snapshot.histogram().lines().toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 4 || !f[0].endsWith(":")) {
                continue;
            }
            long instances = Long.parseLong(f[1]);
            long bytes = Long.parseLong(f[2]);
            if (instances >= n) {
                double per = (double) bytes / n;
                total += per;
                System.out.printf("%10.1f  %s (%,d instances)%n", per, f[3], instances);
            }
        }
        System.out.printf("%10.1f  total per sleeping task%n", total);
        System.out.println(snapshot.stacks());
    }
}
