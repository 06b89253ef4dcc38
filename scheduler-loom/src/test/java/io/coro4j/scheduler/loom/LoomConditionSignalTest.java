package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Lock;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A signal is never lost to a waiter that fails after it was signalled. The failure here is an
 * {@link Error} from the waiter's park once it was woken: on loom a woken fiber reports its
 * scheduling delay to the scheduler's listener from inside that park, so a listener that throws
 * once, in that task, provokes it deterministically (on threadpool the listener runs on the
 * carrier, outside the fiber, so this way of provoking it is loom's alone; the behaviour is the
 * API's, shared).
 */
class LoomConditionSignalTest {

    private final Scheduler scheduler = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("condition-signal").build());

    @AfterEach
    void close() {
        scheduler.close();
    }

    /** Thrown by the listener, once, in the first waiter's park after the signal. */
    private static final class ParkError extends Error {
        ParkError() {
            super("thrown from the park after the signal", null, false, false);
        }
    }

    @Test
    void aWaiterThatFailsWithAnErrorAfterASignalPassesTheSignalToTheNextWaiter() {
        AtomicReference<Task<?>> first = new AtomicReference<>();
        AtomicBoolean armed = new AtomicBoolean();
        scheduler.schedulingDelays().listen(delay -> {
            if (first.get() != null && Coro.currentTask() == first.get() && armed.compareAndSet(true, false)) {
                throw new ParkError();
            }
        }, 1);
        String outcome = Coro.run(scheduler, () -> {
            Condition condition = new Condition();
            Lock lock = condition.lock();
            Task<String> a = Coro.spawn(() -> {
                first.set(Coro.currentTask());
                lock.lock();
                try {
                    condition.await();
                    return "first returned";
                } catch (ParkError e) {
                    return "first failed with the Error, the lock locked: " + lock.isLocked();
                } finally {
                    lock.unlock();
                }
            });
            waitForWaiters(condition, 1);
            Task<String> b = Coro.spawn(() -> {
                lock.lock();
                try {
                    condition.await();
                    return "second woken";
                } finally {
                    lock.unlock();
                }
            });
            waitForWaiters(condition, 2);
            armed.set(true);
            boolean signalled;
            lock.lock();
            try {
                signalled = condition.signal();
            } finally {
                lock.unlock();
            }
            String ra = a.join();
            String rb = Coro.withTimeoutOrNull(Duration.ofSeconds(2), b::join);
            if (rb == null) {
                rb = "second still waiting after 2 s";
                lock.lock();
                try {
                    condition.signal(); // let it end
                } finally {
                    lock.unlock();
                }
                b.join();
            }
            return "signalled " + signalled + "; " + ra + "; " + rb + "; armed " + armed.get()
                    + "; waiting " + condition.queueLength();
        });
        assertThat(outcome).isEqualTo("signalled true; first failed with the Error, the lock locked: true;"
                + " second woken; armed false; waiting 0");
    }

    private static void waitForWaiters(Condition condition, int n) {
        for (int i = 0; i < 10_000 && condition.queueLength() < n; i++) {
            Coro.sleep(Duration.ofMillis(1));
        }
    }
}
