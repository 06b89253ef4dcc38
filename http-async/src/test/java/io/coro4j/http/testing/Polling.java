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
     * not), until {@code t} is blocked on a monitor in code of {@code in} (its top frame is a method
     * of that class or of a class nested in it). The state alone is not enough: a thread that was
     * blocked on another monitor a moment ago reads BLOCKED until it is scheduled again, which on a
     * loaded machine can be long after that monitor was released.
     *
     * @return false if it was not within {@code limit}
     */
    public static boolean blockedWithin(Thread t, Class<?> in, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!blockedIn(t, in)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    private static boolean blockedIn(Thread t, Class<?> in) {
        if (t.getState() != Thread.State.BLOCKED) {
            return false;
        }
        StackTraceElement[] frames = t.getStackTrace();
        if (frames.length == 0) {
            return false;
        }
        String top = frames[0].getClassName();
        // The state again after the stack: a thread that ran on between the two reads and
        // blocked elsewhere would show that frame, not a stale one.
        return (top.equals(in.getName()) || top.startsWith(in.getName() + "$")) && t.getState() == Thread.State.BLOCKED;
    }
}
