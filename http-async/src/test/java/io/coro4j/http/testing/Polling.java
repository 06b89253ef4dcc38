package io.coro4j.http.testing;

import io.coro4j.Coro;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting for a condition inside a task, for tests. */
public final class Polling {

    private Polling() {}

    /**
     * Waits in the current task, sleeping 1 ms between looks, until {@code condition} holds.
     *
     * @throws AssertionError naming {@code what} if it does not hold within 10 s
     */
    public static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Coro.sleep(Duration.ofMillis(1));
        }
    }

    /**
     * Spins, without suspending or sleeping (so it may run while holding a monitor, in a task or
     * not), until {@code t} is blocked on a monitor.
     *
     * @return false if it was not within {@code limit}
     */
    public static boolean blockedWithin(Thread t, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (t.getState() != Thread.State.BLOCKED) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    /**
     * Waits on a plain thread (not in a task), sleeping 1 ms between looks, until {@code condition} holds.
     *
     * @throws AssertionError naming {@code what} if it does not hold within 10 s
     */
    public static void awaitOnThread(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(1);
        }
    }
}
