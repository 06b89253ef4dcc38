package io.coro4j.http.testing;

import io.coro4j.Coro;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waiting for a condition or for a thread to block, for tests. */
public final class Polling {

    private static final Duration LOOK_EVERY = Duration.ofMillis(1);

    private Polling() {}

    /**
     * Waits until {@code condition} holds, looking every millisecond: the current task sleeps
     * between looks, or, outside a task, the calling thread parks.
     *
     * @throws AssertionError naming {@code what} if it does not hold within 10 s
     */
    public static void await(String what, BooleanSupplier condition) {
        boolean inTask = Coro.currentTask() != null;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            if (inTask) {
                Coro.sleep(LOOK_EVERY);
            } else {
                LockSupport.parkNanos(LOOK_EVERY.toNanos());
            }
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
}
