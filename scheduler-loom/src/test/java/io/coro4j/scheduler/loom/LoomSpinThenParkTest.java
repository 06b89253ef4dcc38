package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.channel.Channel;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.Stress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Waits that spin before they park on this scheduler: the hand-over between a generator's resumer
 * and its body (two threads here) and a fiber's untimed park. Each spins only briefly, then parks,
 * and no turn or wake-up is lost when a waiter starts to park just as it is handed over.
 */
class LoomSpinThenParkTest {

    private final Scheduler scheduler = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("hand-over").build());

    @AfterEach
    void close() {
        scheduler.close();
    }

    @Test
    void aResumerWaitsParkedWhileTheBodyRuns() {
        Thread.State whileBodyRan = Coro.run(scheduler, () -> {
            Thread resumer = Thread.currentThread();
            Generator<Thread.State, Void, Void> g = Generator.of(scheduler, co -> {
                co.yield(ThreadStates.onceParked(resumer));
                return null;
            });
            Thread.State s = ((Step.Yielded<Thread.State, Void>) g.next()).value();
            g.close();
            return s;
        });
        assertThat(whileBodyRan).isEqualTo(Thread.State.WAITING);
    }

    @Test
    void aBodyWaitsParkedWhileItsResumerRuns() {
        Thread.State whileResumerRan = Coro.run(scheduler, () -> {
            Generator<Thread, Void, Void> g = Generator.of(scheduler, co -> {
                co.yield(Thread.currentThread());
                return null;
            });
            Thread body = ((Step.Yielded<Thread, Void>) g.next()).value();
            Thread.State s = ThreadStates.onceParked(body);
            g.close();
            return s;
        });
        assertThat(whileResumerRan).isEqualTo(Thread.State.WAITING);
    }

    /** After enough parks that its fiber spins for the permit, a task that gets nothing still parks. */
    @Test
    void aFiberThatSpinsForItsPermitParksWhenNoneComes() {
        int roundTrips = 2 * AdaptiveSpin.RETRY_SPINNING_AFTER + 100;
        Thread.State whileNothingCame = Coro.run(scheduler, () -> {
            Channel<Integer> requests = Channel.rendezvous();
            Channel<Integer> replies = Channel.rendezvous();
            CompletableFuture<Thread> echoThread = new CompletableFuture<>();
            Task<Void> echo = Coro.spawn(() -> {
                echoThread.complete(Thread.currentThread());
                for (Integer x : requests) {
                    replies.send(x + 1);
                }
                return null;
            });
            long wrong = 0;
            for (int i = 0; i < roundTrips; i++) {
                requests.send(i);
                wrong += replies.receive() == i + 1 ? 0 : 1;
            }
            assertThat(wrong).isZero();
            Thread.State s = ThreadStates.onceParked(echoThread.join()); // echo waits for a request
            requests.close();
            echo.join();
            return s;
        });
        assertThat(whileNothingCame).isEqualTo(Thread.State.WAITING);
    }

    /**
     * Round trips where each side works for a varying while before it hands over, so that the other
     * side's spin sometimes ends in time and sometimes not, and its park races the hand-over. A lost
     * turn hangs (the timeout fails it); a value handed twice or skipped changes the sum.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void noTurnIsLostWhenTheWaiterSwitchesBetweenSpinningAndParking() throws Exception {
        int n = Stress.scaled(100_000);
        long expected = (long) n * (n - 1) / 2;
        // from a task, a plain virtual thread and a platform thread: three kinds of resumer
        assertThat(Coro.run(scheduler, () -> roundTrips(n))).isEqualTo(expected);
        AtomicLong fromVirtual = new AtomicLong();
        Thread.ofVirtual().start(() -> fromVirtual.set(roundTrips(n))).join();
        assertThat(fromVirtual.get()).isEqualTo(expected);
        AtomicLong fromPlatform = new AtomicLong();
        Thread.ofPlatform().start(() -> fromPlatform.set(roundTrips(n))).join();
        assertThat(fromPlatform.get()).isEqualTo(expected);
    }

    /** Sends 0..n-1 into a body that echoes each; returns the sum of what came back. */
    private long roundTrips(int n) {
        Generator<Integer, Integer, Void> echo = Generator.of(scheduler, co -> {
            Integer x = co.yield(null);
            while (true) {
                work(x);
                x = co.yield(x);
            }
        });
        echo.next();
        long sum = 0;
        for (int i = 0; i < n; i++) {
            sum += echo.send(i).value();
            work(i >>> 3);
        }
        echo.close();
        return sum;
    }

    /** Nothing, or a busy wait of up to about 10 us: longer than a waiter spins, now and then. */
    private static void work(int seed) {
        int h = seed * 0x9E3779B9;
        int kind = (h >>> 28) & 7;
        if (kind == 0) {
            long until = System.nanoTime() + ((h >>> 8) & 8191);
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        } else if (kind == 1) {
            LockSupport.parkNanos(1); // a real park of this side
        }
    }
}
