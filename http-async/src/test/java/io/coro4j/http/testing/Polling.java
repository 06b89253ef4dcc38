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
}
