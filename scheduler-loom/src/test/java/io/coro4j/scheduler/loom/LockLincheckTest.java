package io.coro4j.scheduler.loom;

import io.coro4j.Coro;
import io.coro4j.channel.Lock;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of a counter guarded by {@link Lock}: each Lincheck operation runs as a task
 * ({@link Coro#run}) on a loom scheduler, so the lock's owner is a real task. {@code increment}
 * reads the counter, suspends while holding the lock (so that the other threads' tasks queue up
 * in {@code lock()}), writes it back and returns the old value; a lost or doubled increment, or a
 * stale read, is a non-linearizable history. Stress mode only: the model checker cannot drive the
 * scheduler's threads.
 */
public class LockLincheckTest {

    private static final Scheduler SCHEDULER = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("lincheck-lock").parallelism(2).build());

    private final Lock lock = new Lock();
    private volatile int counter;

    @Operation
    public int increment() {
        return Coro.run(SCHEDULER, () -> lock.withLock(() -> {
            int c = counter;
            Coro.sleep(Duration.ofNanos(1_000));
            counter = c + 1;
            return c;
        }));
    }

    @Operation
    public int incrementWithoutSuspending() {
        return Coro.run(SCHEDULER, () -> {
            lock.lock();
            try {
                int c = counter;
                counter = c + 1;
                return c;
            } finally {
                lock.unlock();
            }
        });
    }

    @Operation
    public int get() {
        return counter;
    }

    @Test
    void stress() {
        new StressOptions().iterations(15).invocationsPerIteration(200).threads(3).actorsPerThread(2)
                .check(LockLincheckTest.class);
    }

    @AfterAll
    static void closeScheduler() {
        SCHEDULER.close();
    }
}
