package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;

/**
 * Objects whose monitor threads have contended for: the JVM then keeps it as an object monitor
 * owned by a thread, not on the owner's lock stack, which is the case where code that suspends
 * inside {@code synchronized} (JDK 24+) and the thread it runs on part ways. For the tests of
 * mutual exclusion across a suspension.
 */
final class ContendedMonitors {

    private ContendedMonitors() {}

    /** A new object whose monitor another thread has waited for, blocked, and then taken and released. */
    static Object create() throws InterruptedException {
        Object lock = new Object();
        Thread waiter = new Thread(() -> {
            synchronized (lock) {
                lock.hashCode();
            }
        }, "monitor-waiter");
        synchronized (lock) { // contended once: the other thread waits for it until this one lets go
            waiter.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (waiter.getState() != Thread.State.BLOCKED && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(waiter.getState()).as("the other thread waits for the monitor").isEqualTo(Thread.State.BLOCKED);
        }
        waiter.join(5_000); // it took the monitor and let it go
        return lock;
    }
}
