package io.coro4j.scheduler.loom;

import io.coro4j.channel.Semaphore;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of {@link Semaphore}'s non-suspending operations ({@code tryAcquire},
 * {@code release} including the over-release check, {@code availablePermits}) with 2 permits,
 * checked by Lincheck against the semaphore itself run sequentially. The suspending
 * {@code acquire} is covered by {@code SyncTck}'s stress tests.
 */
public class SemaphoreLincheckTest {

    private final Semaphore semaphore = new Semaphore(2);

    @Operation
    public boolean tryAcquire() {
        return semaphore.tryAcquire();
    }

    @Operation
    public String release() {
        try {
            semaphore.release();
            return "released";
        } catch (IllegalStateException e) {
            return "over-release";
        }
    }

    @Operation
    public int availablePermits() {
        return semaphore.availablePermits();
    }

    @Test
    void stress() {
        new StressOptions().iterations(10).invocationsPerIteration(1_000).threads(3).actorsPerThread(3)
                .check(SemaphoreLincheckTest.class);
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions().iterations(4).invocationsPerIteration(150).threads(3).actorsPerThread(3)
                .check(SemaphoreLincheckTest.class);
    }
}
