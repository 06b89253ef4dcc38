package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.channel.Event;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerStats;
import io.coro4j.spi.SchedulingDelays;
import io.coro4j.spi.TaskCounters;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;

/**
 * The metrics hooks a scheduler keeps for binders ({@link io.coro4j.spi.Scheduler#taskCounters()},
 * {@link io.coro4j.spi.Scheduler#schedulingDelays()}): exact task totals by outcome, and scheduling
 * delays sampled only while a listener is set.
 */
public abstract class MetricsHookTck extends SchedulerTck {

    @Test
    void theHooksAreOneInstanceEach() {
        assertThat(scheduler.taskCounters()).isSameAs(scheduler.taskCounters());
        assertThat(scheduler.schedulingDelays()).isSameAs(scheduler.schedulingDelays());
    }

    @Test
    void everyTaskIsCountedOnceByHowItEnded() {
        TaskCounters counters = scheduler.taskCounters();
        int ok = 2_000;
        int failing = 50;
        int cancelled = 40;

        List<Outcome<Integer>> outcomes = Coro.run(scheduler, () -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            for (int i = 0; i < ok; i++) {
                int v = i;
                tasks.add(Coro.spawn(() -> {
                    Coro.yieldNow();
                    return v;
                }));
            }
            for (int i = 0; i < failing; i++) {
                tasks.add(Coro.spawn(() -> {
                    throw new IllegalArgumentException("planned");
                }));
            }
            for (int i = 0; i < cancelled; i++) {
                Task<Integer> t = Coro.spawn(() -> {
                    Coro.sleep(Duration.ofDays(1));
                    return -1;
                });
                tasks.add(t);
                t.cancel();
            }
            return Coro.gatherSettled(tasks);
        });

        assertThat(outcomes.stream().filter(Outcome::isSuccess)).hasSize(ok);
        assertThat(counters.spawned()).isEqualTo(ok + failing + cancelled + 1);
        assertThat(counters.completed()).isEqualTo(ok + 1);
        assertThat(counters.failed()).isEqualTo(failing);
        assertThat(counters.cancelled()).isEqualTo(cancelled);
        assertThat(counters.spawned()).isEqualTo(counters.completed() + counters.failed() + counters.cancelled());
    }

    @Test
    void aMainTaskThatFailsIsCountedFailed() {
        assertThatThrownBy(() -> Coro.run(scheduler, () -> {
            throw new IllegalStateException("main fails");
        })).hasMessage("main fails");
        assertThat(scheduler.taskCounters().failed()).isEqualTo(1);
        assertThat(scheduler.taskCounters().completed()).isZero();
    }

    @Test
    void schedulingDelaysAreSampledOnlyWhileAListenerIsSet() throws Exception {
        SchedulingDelays delays = scheduler.schedulingDelays();
        LongAdder samples = new LongAdder();
        AtomicLong negative = new AtomicLong();
        LongConsumer listener = nanos -> {
            samples.increment();
            if (nanos < 0) {
                negative.incrementAndGet();
            }
        };
        int n = 1_000;
        assertThat(delays.isObserved()).isFalse();
        assertThat(delays.sampleNow()).isFalse();

        delays.listen(listener, 1);
        spawnAndGather(n, true);
        // The start of the main task, and the start and the wake-up (from go.await) of each child.
        assertThat(samples.sum()).isGreaterThanOrEqualTo(2L * n + 1);
        assertThat(negative.get()).isZero();

        delays.unlisten(listener);
        long after = samples.sum();
        spawnAndGather(n, true);
        assertThat(samples.sum()).isEqualTo(after);
        assertThat(delays.isObserved()).isFalse();
    }

    /**
     * An unpark that finds the fiber running is taken by its next park at once: nothing waited, so
     * nothing is measured, then or at a later park. A later sleep is not a scheduling delay.
     */
    @Test
    void anUnparkTakenWithoutParkingIsNotMeasuredLater() throws Exception {
        SchedulingDelays delays = scheduler.schedulingDelays();
        AtomicLong longest = new AtomicLong();
        LongConsumer listener = nanos -> longest.accumulateAndGet(nanos, Math::max);
        delays.listen(listener, 1);
        Duration sleep = Duration.ofMillis(500);
        try {
            Coro.run(scheduler, () -> {
                Fiber self = scheduler.currentFiber();
                self.unpark(); // while it runs
                self.park(); // returns at once, with the permit
                Coro.sleep(sleep);
                return null;
            });
        } finally {
            delays.unlisten(listener);
        }
        assertThat(longest.get()).isBetween(0L, sleep.toNanos() - 1);
    }

    /**
     * A fiber woken by the end of its sleep is runnable until a carrier runs it, as one woken by an
     * unpark is: with sampleEvery 1, every such wake-up is a sample (its lateness, not the sleep).
     */
    @Test
    void everyWakeUpFromASleepIsSampled() throws Exception {
        SchedulingDelays delays = scheduler.schedulingDelays();
        LongAdder samples = new LongAdder();
        AtomicLong longest = new AtomicLong();
        LongConsumer listener = nanos -> {
            samples.increment();
            longest.accumulateAndGet(nanos, Math::max);
        };
        int sleeps = 50;
        Duration sleep = Duration.ofMillis(2);
        long resumedBefore = scheduler.stats().resumptions();
        delays.listen(listener, 1);
        try {
            Coro.run(scheduler, () -> {
                for (int i = 0; i < sleeps; i++) {
                    Coro.sleep(sleep);
                }
                return null;
            });
        } finally {
            delays.unlisten(listener);
        }
        // The main task's start, and its wake-up after each sleep that parked (a sleep whose time
        // is up before its park, on a slow machine, neither parks nor wakes up).
        long wakeUps = scheduler.stats().resumptions() - resumedBefore;
        assertThat(wakeUps).isGreaterThanOrEqualTo(sleeps / 2);
        assertThat(samples.sum()).isGreaterThanOrEqualTo(wakeUps + 1);
        assertThat(longest.get()).isBetween(0L, TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void sparseSamplingTakesAboutOneEventInSampleEvery() {
        SchedulingDelays delays = scheduler.schedulingDelays();
        LongAdder samples = new LongAdder();
        LongConsumer listener = nanos -> samples.increment();
        delays.listen(listener, 16);
        try {
            assertThat(delays.sampleEvery()).isEqualTo(16);
            spawnAndGather(16_000, false);
        } finally {
            delays.unlisten(listener);
        }
        // 16,001 starts (and some wake-ups of the main task): about 1,000 samples; a binomial
        // count this far from its mean does not happen.
        assertThat(samples.sum()).isBetween(500L, 3_000L);
    }

    @Test
    void listenerMisuseIsRefusedWithAMessage() {
        SchedulingDelays delays = scheduler.schedulingDelays();
        LongConsumer first = nanos -> {};
        assertThatThrownBy(() -> delays.listen(first, 48))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sampleEvery is 48: it must be a power of two from 1 to 1048576 (1 = every event)");
        assertThatThrownBy(() -> delays.listen(first, 1 << 21)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("sampleEvery is 2097152: it must be a power of two from 1 to 1048576 (1 = every event)");
        assertThatThrownBy(() -> delays.listen(null, 1)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("listener");
        delays.listen(first, 64);
        try {
            assertThatThrownBy(() -> delays.listen(nanos -> {}, 64))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("a scheduling-delay listener is already set");
            delays.unlisten(nanos -> {}); // not the current one: ignored
            assertThat(delays.isObserved()).isTrue();
        } finally {
            delays.unlisten(first);
        }
    }

    private void spawnAndGather(int n, boolean suspendOnce) {
        Event go = new Event();
        Coro.run(scheduler, () -> {
            List<Task<Object>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                tasks.add(Coro.spawn(() -> {
                    if (suspendOnce) {
                        go.await();
                    }
                    return null;
                }));
            }
            if (suspendOnce) {
                while (scheduler.stats().parkedFibers() < n) {
                    Coro.sleep(Duration.ofMillis(1));
                }
            }
            go.set();
            return Coro.gather(tasks);
        });
    }

    @Test
    void suspensionAndResumptionTotalsNeverDecrease() throws Exception {
        // Generators resumed from a fiber and from plain threads, sampled all the while: each
        // total must only grow, and a body that runs has not been counted as suspended.
        SchedulerStats stats = scheduler.stats();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong drops = new AtomicLong();
        Thread sampler = Thread.ofPlatform().daemon().name("tck-stats-sampler").start(() -> {
            long s = 0;
            long r = 0;
            while (!stop.get()) {
                long s2 = stats.suspensions();
                long r2 = stats.resumptions();
                if (s2 < s || r2 < r) {
                    drops.incrementAndGet();
                }
                s = s2;
                r = r2;
            }
        });
        int rounds = Stress.scaled(3_000);
        CompletableFuture<Void> inFiber = startFiber(scheduler, () -> {
            runGeneratorsToTheirEnd(rounds);
            return null;
        });
        runGeneratorsToTheirEnd(rounds);
        await(inFiber);
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Generator<Integer, Object, Void> running = Generator.of(scheduler, co -> {
            inBody.countDown();
            release.await();
            return null;
        });
        long before = stats.suspensions();
        Thread resumer = Thread.ofPlatform().daemon().name("tck-resumer").start(running::next);
        assertThat(inBody.await(30, TimeUnit.SECONDS)).isTrue();
        long whileRunning = stats.suspensions();
        release.countDown();
        resumer.join(30_000);
        stop.set(true);
        sampler.join(30_000);
        assertThat(whileRunning).as("suspensions while a generator body runs").isEqualTo(before);
        assertThat(stats.suspensions()).as("a body that returned was never suspended").isEqualTo(before);
        assertThat(drops.get()).as("times a total went down").isZero();
    }

    /** {@code rounds} generators that yield once, each run to its end. */
    private void runGeneratorsToTheirEnd(int rounds) {
        for (int i = 0; i < rounds; i++) {
            Generator<Integer, Object, Void> g = Generator.of(scheduler, co -> {
                co.yield(1);
                return null;
            });
            g.next();
            g.next();
        }
    }

    @Test
    void yieldNowIsNeitherASuspensionNorAResumption() throws Exception {
        Scheduler s = newScheduler(1);
        SchedulerStats stats = s.stats();
        await(startFiber(s, () -> null)); // started and ended: nothing else runs on s
        long suspensions = stats.suspensions();
        long resumptions = stats.resumptions();
        await(startFiber(s, () -> {
            for (int i = 0; i < 100; i++) {
                s.currentFiber().yieldNow();
            }
            return null;
        }));
        assertThat(stats.suspensions() - suspensions).isZero();
        assertThat(stats.resumptions() - resumptions).isZero();
        assertThat(stats.parkedFibers()).isZero();
    }
}
