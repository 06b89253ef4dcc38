package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.spi.Coroutine;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.Timeout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The scheduler mechanism itself: fibers, park/unpark, timers, lifecycle and statistics. A lost
 * wake-up shows up as a fiber that never finishes, which the bounded waits turn into a failure.
 */
public abstract class FiberTck extends SchedulerTck {

    @Test
    void aFiberRunsItsBodyAndKnowsItself() throws Exception {
        assertThat(scheduler.currentFiber()).isNull();
        assertThat(Schedulers.currentFiber()).isNull();
        AtomicReference<Fiber> inside = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        Fiber f = scheduler.start(() -> {
            inside.set(scheduler.currentFiber());
            done.countDown();
        });
        assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(inside.get()).isSameAs(f);
        assertThat(f.scheduler()).isSameAs(scheduler);
        assertThat(inFiber(() -> Schedulers.currentFiber() == scheduler.currentFiber()
                && Schedulers.current() == scheduler)).isTrue();
    }

    @Test
    void anUnparkBeforeTheParkIsNotLost() throws Exception {
        AtomicInteger phase = new AtomicInteger();
        AtomicReference<Fiber> ref = new AtomicReference<>();
        CompletableFuture<String> result = startFiber(scheduler, () -> {
            Fiber self = scheduler.currentFiber();
            ref.set(self);
            self.unpark();
            self.unpark();
            self.park(); // consumes the permit: returns at once
            phase.set(1);
            parkUntil(self, () -> phase.get() == 2);
            return "woken";
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (phase.get() != 1 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(phase.get()).as("park after unpark returned").isEqualTo(1);
        scheduler.start(() -> { }); // unrelated traffic does not complete it
        Thread.sleep(20);
        assertThat(result.isDone()).isFalse();
        phase.set(2);
        ref.get().unpark();
        assertThat(await(result)).isEqualTo("woken");
    }

    @Test
    void yieldNowLetsAnotherFiberRunAndKeepsThePermit() throws Exception {
        Scheduler loop = honoursParallelism() ? newScheduler(1) : scheduler;
        AtomicInteger other = new AtomicInteger();
        CompletableFuture<Boolean> result = startFiber(loop, () -> {
            Fiber self = loop.currentFiber();
            CountDownLatch started = new CountDownLatch(1);
            loop.start(() -> {
                other.incrementAndGet();
                started.countDown();
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (other.get() == 0 && System.nanoTime() < deadline) {
                self.yieldNow();
            }
            self.unpark();
            self.yieldNow();
            self.park(); // the permit survived the yield: returns at once
            return other.get() == 1;
        });
        assertThat(await(result)).isTrue();
        assertThatThrownBy(() -> loop.start(() -> { }).yieldNow())
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("yieldNow() called by code that is not running in this fiber");
    }

    @Test
    void parkOutsideTheFiberIsRejected() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger go = new AtomicInteger();
        AtomicReference<Fiber> ref = new AtomicReference<>();
        CompletableFuture<Void> f = startFiber(scheduler, () -> {
            ref.set(scheduler.currentFiber());
            started.countDown();
            parkUntil(ref.get(), () -> go.get() == 1);
            return null;
        });
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
        String message = "park() called by code that is not running in this fiber: a fiber can only park itself";
        assertThatThrownBy(() -> ref.get().park()).isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);
        String nanosMessage = "parkNanos() called by code that is not running in this fiber: a fiber can only park itself";
        assertThatThrownBy(() -> ref.get().parkNanos(1_000_000)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage(nanosMessage);
        assertThatThrownBy(() -> ref.get().parkNanos(0)).as("also for a time already passed")
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage(nanosMessage);
        assertThat(inFiber(() -> {
            try {
                ref.get().park();
                return "parked?";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        })).isEqualTo(message);
        go.set(1);
        ref.get().unpark();
        await(f);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ref.get().isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(ref.get().isAlive()).as("fiber ended after its body returned").isFalse();
    }

    /**
     * Pairs of fibers pass a token back and forth with park/unpark (fiber to fiber, and fiber to
     * platform thread); a lost wake-up leaves a pair stuck. 1,000,000 hand-overs in all by default.
     */
    @Test
    void oneMillionParkUnparkHandOversLoseNoWakeUp() throws Exception {
        int total = Stress.scaled(1_000_000);
        int pairs = 4;
        int perPair = total / pairs;
        List<CompletableFuture<Long>> results = new ArrayList<>();
        List<Thread> platform = new ArrayList<>();
        for (int p = 0; p < pairs; p++) {
            AtomicLong turn = new AtomicLong(); // even: A's turn, odd: B's turn
            AtomicReference<Fiber> a = new AtomicReference<>();
            AtomicReference<Fiber> bFiber = new AtomicReference<>();
            AtomicReference<Thread> bThread = new AtomicReference<>();
            CountDownLatch ready = new CountDownLatch(2);
            boolean platformPartner = p % 2 == 1;
            results.add(startFiber(scheduler, () -> {
                Fiber self = scheduler.currentFiber();
                a.set(self);
                ready.countDown();
                ready.await();
                long handed = 0;
                for (long i = 0; i < perPair; i += 2) {
                    long mine = i;
                    parkUntil(self, () -> turn.get() == mine);
                    turn.set(mine + 1);
                    handed++;
                    if (platformPartner) {
                        java.util.concurrent.locks.LockSupport.unpark(bThread.get());
                    } else {
                        bFiber.get().unpark();
                    }
                }
                return handed;
            }));
            if (platformPartner) {
                Thread t = new Thread(() -> {
                    ready.countDown();
                    try {
                        ready.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (long i = 1; i < perPair; i += 2) {
                        long mine = i;
                        while (turn.get() != mine) {
                            java.util.concurrent.locks.LockSupport.park();
                        }
                        turn.set(mine + 1);
                        a.get().unpark();
                    }
                }, "tck-platform-partner-" + p);
                bThread.set(t);
                platform.add(t);
                t.start();
            } else {
                results.add(startFiber(scheduler, () -> {
                    Fiber self = scheduler.currentFiber();
                    bFiber.set(self);
                    ready.countDown();
                    ready.await();
                    long handed = 0;
                    for (long i = 1; i < perPair; i += 2) {
                        long mine = i;
                        parkUntil(self, () -> turn.get() == mine);
                        turn.set(mine + 1);
                        handed++;
                        a.get().unpark();
                    }
                    return handed;
                }));
            }
        }
        long handed = 0;
        for (CompletableFuture<Long> r : results) {
            handed += await(r);
        }
        for (Thread t : platform) {
            t.join(60_000);
            assertThat(t.isAlive()).as("platform partner finished").isFalse();
        }
        int fiberFiberPairs = (pairs + 1) / 2;
        int fiberPlatformPairs = pairs / 2;
        assertThat(handed).isEqualTo((long) fiberFiberPairs * perPair + (long) fiberPlatformPairs * (perPair / 2));
    }

    /** Many threads unpark a set of fibers at random moments while the fibers park and run. */
    @Test
    void concurrentUnparksFromManyThreadsWakeEveryWaiter() throws Exception {
        int fibers = 8;
        int unparkers = 3;
        int postsPerFiber = Stress.scaled(50_000);
        AtomicLongArray posted = new AtomicLongArray(fibers);
        Fiber[] handles = new Fiber[fibers];
        CountDownLatch ready = new CountDownLatch(fibers);
        List<CompletableFuture<Long>> results = new ArrayList<>();
        for (int i = 0; i < fibers; i++) {
            int id = i;
            results.add(startFiber(scheduler, () -> {
                Fiber self = scheduler.currentFiber();
                handles[id] = self;
                ready.countDown();
                long seen = 0;
                long wakeups = 0;
                while (seen < (long) postsPerFiber * unparkers) {
                    long p = posted.get(id);
                    if (p > seen) {
                        seen = p;
                    } else {
                        self.park();
                        wakeups++;
                    }
                }
                return wakeups;
            }));
        }
        assertThat(ready.await(30, TimeUnit.SECONDS)).isTrue();
        List<Thread> threads = new ArrayList<>();
        for (int u = 0; u < unparkers; u++) {
            Thread t = new Thread(() -> {
                for (int k = 0; k < postsPerFiber; k++) {
                    for (int i = 0; i < fibers; i++) {
                        posted.incrementAndGet(i);
                        handles[i].unpark();
                    }
                }
            }, "tck-unparker-" + u);
            threads.add(t);
            t.start();
        }
        for (CompletableFuture<Long> r : results) {
            await(r);
        }
        for (Thread t : threads) {
            t.join(60_000);
            assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
        }
        // Parks coalesce wake-ups, so only the last unpark of each fiber is certain to be needed:
        // each fiber returning (above) is the check that it was not lost.
    }

    @Test
    void manyFibersMigrateAcrossParksAndKeepTheirIdentity() throws Exception {
        int fibers = 64;
        int parks = Stress.scaled(2_000);
        Map<Fiber, Boolean> mismatches = new ConcurrentHashMap<>();
        List<CompletableFuture<Integer>> results = new ArrayList<>();
        long suspensionsBefore = scheduler.stats().suspensions();
        for (int i = 0; i < fibers; i++) {
            results.add(startFiber(scheduler, () -> {
                Fiber self = scheduler.currentFiber();
                int local = 0;
                for (int k = 0; k < parks; k++) {
                    // Woken by the timer thread, so that the park suspends (unless the timer is
                    // faster) and the fiber may go on on another carrier.
                    scheduler.schedule(self::unpark, 0, TimeUnit.NANOSECONDS);
                    self.park();
                    if (scheduler.currentFiber() != self) {
                        mismatches.put(self, true);
                    }
                    local++;
                }
                return local;
            }));
        }
        for (CompletableFuture<Integer> r : results) {
            assertThat(await(r)).isEqualTo(parks);
        }
        assertThat(mismatches).isEmpty();
        assertThat(scheduler.stats().suspensions()).as("parks that suspended").isGreaterThan(suspensionsBefore);
    }

    @Test
    void timersRunAfterTheirDelayAndCanBeCancelled() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        long start = System.nanoTime();
        AtomicLong ranAt = new AtomicLong();
        scheduler.schedule(() -> {
            ranAt.set(System.nanoTime());
            ran.countDown();
        }, 50, TimeUnit.MILLISECONDS);
        // Cancelled at once, but not due before the later timer below: a test thread descheduled
        // for a while between the two calls must not see its timer run before it can cancel it.
        AtomicInteger cancelledRan = new AtomicInteger();
        Timeout cancelled = scheduler.schedule(cancelledRan::incrementAndGet, 1, TimeUnit.SECONDS);
        assertThat(cancelled.cancel()).isTrue();
        assertThat(cancelled.cancel()).isFalse();
        CountDownLatch later = new CountDownLatch(1);
        scheduler.schedule(later::countDown, 1_100, TimeUnit.MILLISECONDS);
        assertThat(ran.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(ranAt.get() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
        assertThat(later.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(cancelledRan.get()).as("runs of the cancelled timer, due before the later one ran").isZero();
        assertThatThrownBy(() -> scheduler.schedule(() -> { }, -1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("delay -1 MILLISECONDS should not be negative");
    }

    /**
     * Terminated means every thread of the scheduler has ended, the timer's too: a timer action
     * that shuts down a scheduler with no fiber live still runs on the timer thread, so the
     * scheduler is not terminated yet, and it is once the action has returned.
     */
    @Test
    void aShutdownFromATimerActionIsNotTerminationWhileTheActionRuns() throws Exception {
        Scheduler s = newScheduler(2);
        CompletableFuture<String> seen = new CompletableFuture<>();
        s.schedule(() -> {
            s.shutdown();
            boolean awaited;
            try {
                awaited = s.awaitTermination(Duration.ofMillis(10));
            } catch (InterruptedException e) {
                awaited = false;
            }
            seen.complete("isTerminated " + s.isTerminated() + ", awaitTermination " + awaited);
        }, 1, TimeUnit.MILLISECONDS);
        assertThat(seen.get(30, TimeUnit.SECONDS)).isEqualTo("isTerminated false, awaitTermination false");
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        assertThat(s.isTerminated()).isTrue();
    }

    /**
     * A timer action still running when the scheduler is shut down from outside keeps it from
     * counting as terminated, however long the action runs; once the action returns, it has.
     */
    @Test
    void aTimerActionStillRunningKeepsTheSchedulerFromTerminating() throws Exception {
        Scheduler s = newScheduler(2);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        s.schedule(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, 0, TimeUnit.MILLISECONDS);
        assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
        s.shutdown();
        try {
            assertThat(s.awaitTermination(Duration.ofMillis(50))).isFalse();
            assertThat(s.isTerminated()).isFalse();
        } finally {
            release.countDown();
        }
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        assertThat(s.isTerminated()).isTrue();
    }

    @Test
    void aTimerWakesAParkedFiber() throws Exception {
        long elapsed = inFiber(() -> {
            Fiber self = scheduler.currentFiber();
            AtomicInteger fired = new AtomicInteger();
            long t0 = System.nanoTime();
            scheduler.schedule(() -> {
                fired.set(1);
                self.unpark();
            }, 20, TimeUnit.MILLISECONDS);
            parkUntil(self, () -> fired.get() == 1);
            return System.nanoTime() - t0;
        });
        assertThat(elapsed).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(20));
    }

    /** A timed park returns once its time has passed, never before, or earlier for an unpark. */
    @Test
    void parkNanosReturnsAfterItsTimeOrOnUnpark() throws Exception {
        long elapsed = inFiber(() -> {
            Fiber self = scheduler.currentFiber();
            long t0 = System.nanoTime();
            long deadline = t0 + TimeUnit.MILLISECONDS.toNanos(20);
            for (long left = deadline - t0; left > 0; left = deadline - System.nanoTime()) {
                self.parkNanos(left);
            }
            return System.nanoTime() - t0;
        });
        assertThat(elapsed).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(20));
        long woken = inFiber(() -> {
            Fiber self = scheduler.currentFiber();
            AtomicInteger go = new AtomicInteger();
            long t0 = System.nanoTime();
            scheduler.schedule(() -> {
                go.set(1);
                self.unpark();
            }, 10, TimeUnit.MILLISECONDS);
            while (go.get() == 0) {
                self.parkNanos(TimeUnit.SECONDS.toNanos(30));
            }
            return System.nanoTime() - t0;
        });
        assertThat(woken).isLessThan(TimeUnit.SECONDS.toNanos(30));
    }

    @Test
    void shutdownRefusesNewFibersAndTerminatesOnceTheLiveOnesEnd() throws Exception {
        Scheduler s = newScheduler(2);
        AtomicInteger go = new AtomicInteger();
        AtomicReference<Fiber> waiting = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<String> live = startFiber(s, () -> {
            waiting.set(s.currentFiber());
            started.countDown();
            parkUntil(waiting.get(), () -> go.get() == 1);
            return "finished after shutdown";
        });
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
        s.shutdown();
        assertThat(s.isShutdown()).isTrue();
        assertThatThrownBy(() -> s.start(() -> { }))
                .isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessage("scheduler \"" + s.name() + "\" is shut down: it accepts no new fibers");
        assertThat(s.awaitTermination(Duration.ofMillis(100))).isFalse();
        assertThat(s.isTerminated()).isFalse();
        go.set(1);
        waiting.get().unpark();
        assertThat(await(live)).isEqualTo("finished after shutdown");
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        assertThat(s.isTerminated()).isTrue();
        assertNoThreadsOf(s.name());
        assertThatThrownBy(() -> s.schedule(() -> { }, 1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessage("scheduler \"" + s.name() + "\" has terminated: it runs no timers");
    }

    @Test
    void anExceptionEscapingAFiberGoesToTheUncaughtExceptionHandlerAndTheSchedulerGoesOn() throws Exception {
        Scheduler s = newScheduler(2);
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        RuntimeException boom = new IllegalStateException("boom");
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
        try {
            Fiber failed = s.start(() -> {
                throw boom;
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((reported.isEmpty() || failed.isAlive()) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(reported).containsExactly(boom);
            assertThat(failed.isAlive()).isFalse();
            CompletableFuture<String> next = startFiber(s, () -> "still running");
            assertThat(await(next)).isEqualTo("still running");
            assertThat(reported).containsExactly(boom);
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
        s.close();
        assertThat(s.stats().fibersCompleted()).isEqualTo(2);
    }

    @Test
    void shutdownRacingStartsAndEndsTerminatesOnlyAfterTheLastAcceptedFiber() throws Exception {
        for (int round = 0; round < 20; round++) {
            Scheduler s = newScheduler(2);
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger finished = new AtomicInteger();
            AtomicInteger ranAfterTermination = new AtomicInteger();
            CountDownLatch someStarted = new CountDownLatch(100);
            Thread starter = Thread.ofPlatform().start(() -> {
                while (true) {
                    try {
                        s.start(() -> {
                            if (s.isTerminated()) {
                                ranAfterTermination.incrementAndGet();
                            }
                            long until = System.nanoTime() + 2_000;
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                            finished.incrementAndGet();
                        });
                    } catch (RejectedExecutionException e) {
                        return;
                    }
                    accepted.incrementAndGet();
                    someStarted.countDown();
                }
            });
            assertThat(someStarted.await(30, TimeUnit.SECONDS)).isTrue();
            s.shutdown();
            starter.join(30_000);
            assertThat(starter.isAlive()).isFalse();
            assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
            assertThat(finished.get()).as("fibers finished when the scheduler terminated (round %d)", round)
                    .isEqualTo(accepted.get());
            assertThat(ranAfterTermination.get()).isZero();
            assertThat(s.stats().fibersStarted()).isEqualTo(accepted.get());
            assertThat(s.stats().liveFibers()).isZero();
        }
    }

    @Test
    void closeWaitsForLiveFibersAndEndsEveryThread() throws Exception {
        Scheduler s = newScheduler(3);
        AtomicInteger finished = new AtomicInteger();
        for (int i = 0; i < 100; i++) {
            s.start(() -> {
                Fiber self = s.currentFiber();
                AtomicInteger fired = new AtomicInteger();
                s.schedule(() -> {
                    fired.set(1);
                    self.unpark();
                }, 5, TimeUnit.MILLISECONDS);
                parkUntil(self, () -> fired.get() == 1);
                finished.incrementAndGet();
            });
        }
        s.close();
        assertThat(finished.get()).isEqualTo(100);
        assertThat(s.isTerminated()).isTrue();
        assertNoThreadsOf(s.name());
    }

    @Test
    void closeFromInsideAFiberIsRejected() throws Exception {
        String msg = inFiber(() -> {
            try {
                scheduler.close();
                return "closed?";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(msg).startsWith("close() called from fiber code of scheduler \"" + scheduler.name() + "\"")
                .endsWith("; call shutdown() instead");
    }

    /**
     * {@code awaitTermination} from a fiber of the scheduler cannot see it terminate (the caller
     * is a live fiber), but, unlike {@code close()}, it is not refused: it gives its answer,
     * {@code false}, once its timeout has passed, as {@code ThreadPoolExecutor.awaitTermination}
     * called in one of its own workers does; a zero timeout answers at once. The scheduler
     * terminates once the fiber has ended.
     */
    @Test
    void awaitTerminationFromAFiberOfTheSchedulerAnswersFalseAfterItsTimeout() throws Exception {
        Scheduler s = newScheduler(2);
        String seen = await(startFiber(s, () -> {
            s.shutdown();
            long start = System.nanoTime();
            boolean now = s.awaitTermination(Duration.ZERO);
            boolean later = s.awaitTermination(Duration.ofMillis(20));
            long waited = System.nanoTime() - start;
            return "now " + now + ", later " + later + ", waited 20 ms: "
                    + (waited >= TimeUnit.MILLISECONDS.toNanos(20));
        }));
        assertThat(seen).isEqualTo("now false, later false, waited 20 ms: true");
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
    }

    @Test
    void statisticsCountExactlyForAKnownWorkload() throws Exception {
        Scheduler s = newScheduler(2);
        int fibers = 50;
        int sends = 1_000;
        List<CompletableFuture<Integer>> all = new ArrayList<>();
        for (int i = 0; i < fibers; i++) {
            all.add(startFiber(s, () -> 1));
        }
        for (CompletableFuture<Integer> f : all) {
            await(f);
        }
        long resumptionsBefore = s.stats().resumptions();
        long suspensionsBefore = s.stats().suspensions();
        Generator<Integer, Integer, Void> g = Generator.of(s, co -> {
            while (true) {
                co.yield(1);
            }
        });
        for (int i = 0; i < sends; i++) {
            g.next();
        }
        g.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (s.stats().fibersCompleted() < fibers && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(s.stats().fibersStarted()).isEqualTo(fibers);
        assertThat(s.stats().fibersCompleted()).isEqualTo(fibers);
        assertThat(s.stats().liveFibers()).isZero();
        // sends resumptions, plus the one close() makes
        assertThat(s.stats().resumptions() - resumptionsBefore).isEqualTo(sends + 1);
        assertThat(s.stats().suspensions() - suspensionsBefore).isEqualTo(sends);
        assertThat(s.stats().parkedFibers()).isZero();
    }

    @Test
    void withOneCarrierFibersRunOneAtATimeInFifoOrder() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        Scheduler loop = newScheduler(1);
        List<Integer> order = new CopyOnWriteArrayList<>();
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger maxConcurrent = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(100);
        CompletableFuture<Void> spawner = startFiber(loop, () -> {
            for (int i = 0; i < 100; i++) {
                int id = i;
                loop.start(() -> {
                    int now = concurrent.incrementAndGet();
                    maxConcurrent.accumulateAndGet(now, Math::max);
                    order.add(id);
                    concurrent.decrementAndGet();
                    all.countDown();
                });
            }
            return null;
        });
        await(spawner);
        assertThat(all.await(30, TimeUnit.SECONDS)).isTrue();
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            expected.add(i);
        }
        assertThat(order).isEqualTo(expected);
        assertThat(maxConcurrent.get()).isEqualTo(1);
        long carriers = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("coro4j-" + loop.name() + "-carrier-")).count();
        assertThat(carriers).isEqualTo(1);
    }

    /**
     * A plain thread starts fibers one after another, each as soon as the one before has run, so
     * that each start races the carrier going idle after running the one before: a carrier that
     * looked at the queues before counting itself idle, or left one out of its last look, parks
     * with the new fiber queued and nobody to wake it. The thread spins for each fiber instead of
     * blocking, to start the next one at once; a fiber that has not run within 10 s is the lost
     * wake-up. On one carrier where the scheduler honours parallelism.
     */
    @Test
    void fibersStartedFromAPlainThreadWhileTheCarrierGoesIdleAllRun() throws Exception {
        Scheduler s = honoursParallelism() ? newScheduler(1) : scheduler;
        int n = Stress.scaled(20_000);
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            s.start(ran::incrementAndGet);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ran.get() == i) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("fiber " + i + " of " + n + " has not run within 10 s: a lost wake-up");
                }
                Thread.onSpinWait();
            }
        }
    }

    /**
     * A duration beyond what a long counts in nanoseconds (about 292 years) is a wait without a
     * practical end, as {@code ExecutorService.awaitTermination(Long.MAX_VALUE, NANOSECONDS)} is:
     * not an {@link ArithmeticException} from {@link Duration#toNanos()}.
     */
    @Test
    void awaitTerminationWithAnEndlessDurationWaitsInsteadOfOverflowing() throws Exception {
        Scheduler s = newScheduler(2);
        AtomicInteger go = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Fiber> waiting = new AtomicReference<>();
        startFiber(s, () -> {
            waiting.set(s.currentFiber());
            started.countDown();
            parkUntil(waiting.get(), () -> go.get() == 1);
            return null;
        });
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
        s.shutdown();
        CompletableFuture<Boolean> awaited = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                awaited.complete(s.awaitTermination(java.time.temporal.ChronoUnit.FOREVER.getDuration()));
            } catch (Throwable e) {
                awaited.completeExceptionally(e);
            }
        });
        go.set(1);
        waiting.get().unpark();
        assertThat(await(awaited)).isTrue();
        assertThat(s.awaitTermination(Duration.ofSeconds(Long.MAX_VALUE))).isTrue();
        assertThat(s.isTerminated()).isTrue();
    }

    /**
     * {@code close()} in a timer action would wait for the timer thread, its own, to end, and keep
     * every other timer (those the live fibers sleep on) from running meanwhile: it is refused with
     * a message, as from fiber code, not a hang.
     */
    @Test
    void closeFromATimerActionIsRejected() throws Exception {
        Scheduler s = newScheduler(2);
        CompletableFuture<String> seen = new CompletableFuture<>();
        s.schedule(() -> {
            try {
                s.close();
                seen.complete("closed?");
            } catch (Throwable e) {
                seen.complete(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }, 1, TimeUnit.MILLISECONDS);
        assertCloseRefusedAsTimerCode(s, seen);
        s.shutdown();
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
    }

    /** Checks that {@code seen}, what a close() in a timer action's code ended with, is its refusal. */
    private static void assertCloseRefusedAsTimerCode(Scheduler s, CompletableFuture<String> seen) throws Exception {
        String outcome;
        try {
            outcome = seen.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            outcome = "still in close() after 10 s";
        }
        assertThat(outcome).isEqualTo("IllegalStateException: close() called from a timer action of scheduler \""
                + s.name() + "\": it would wait for the timer thread, which runs it, to end; call shutdown() instead");
    }

    /**
     * A generator body that a timer action resumed is that action's code: the action waits for
     * it, so {@code close()} there would wait for the timer thread, which waits for the body. On
     * a scheduler whose bodies run on the resumer's thread that is plain; on one whose bodies run
     * on threads of their own (loom) it hung, the timer thread with it.
     */
    @Test
    void closeFromAGeneratorBodyThatATimerActionResumedIsRejected() throws Exception {
        Scheduler s = newScheduler(2);
        CompletableFuture<String> seen = new CompletableFuture<>();
        Coroutine inner = s.newCoroutine(() -> {
            try {
                s.close();
                seen.complete("closed?");
            } catch (Throwable e) {
                seen.complete(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        });
        Coroutine outer = s.newCoroutine(inner::resume); // nested: the timer resumes one that resumes it
        CountDownLatch resumed = new CountDownLatch(1);
        s.schedule(() -> {
            outer.resume();
            resumed.countDown();
        }, 1, TimeUnit.MILLISECONDS);
        assertCloseRefusedAsTimerCode(s, seen);
        assertThat(resumed.await(10, TimeUnit.SECONDS)).as("the timer action returned").isTrue();
        assertThat(inner.isDone()).isTrue();
    }

    /**
     * {@link Coroutine#resume()} of a coroutine whose body has ended, by returning or by throwing,
     * is refused with the {@link IllegalStateException} its javadoc names, on every scheduler; the
     * body does not run again.
     */
    @Test
    void resumingACoroutineWhoseBodyEndedIsRefused() throws Exception {
        Scheduler s = newScheduler(1);
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        Coroutine returned = s.newCoroutine(runs::incrementAndGet);
        assertThat(returned.resume()).isTrue();
        assertThatThrownBy(returned::resume).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("coroutine has ended");
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        Coroutine failed = s.newCoroutine(() -> {
            runs.incrementAndGet();
            throw boom;
        });
        assertThatThrownBy(failed::resume).isSameAs(boom);
        assertThat(failed.isDone()).isTrue();
        assertThatThrownBy(failed::resume).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("coroutine has ended");
        assertThat(runs).hasValue(2);
        s.close();
    }

    /**
     * A wrong argument of {@code schedule} is reported as such whatever the scheduler's state, not
     * as the refusal of a terminated scheduler: the refusal would hide the caller's bug, and the
     * schedulers would disagree (one checked the arguments first, the other the state).
     */
    @Test
    void aTimerWithAWrongArgumentIsReportedAsSuchAlsoAfterTermination() throws Exception {
        Scheduler s = newScheduler(2);
        s.close();
        assertThatThrownBy(() -> s.schedule(() -> { }, -1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("delay -1 MILLISECONDS should not be negative");
        assertThatThrownBy(() -> s.schedule(() -> { }, 1, null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("unit");
        assertThatThrownBy(() -> s.schedule(null, 1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("action");
        assertThatThrownBy(() -> s.schedule(() -> { }, 1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessage("scheduler \"" + s.name() + "\" has terminated: it runs no timers");
    }

    /**
     * A null timeout for {@link Scheduler#awaitTermination} is refused with a
     * {@link NullPointerException} that names the parameter, as {@code start}, {@code newCoroutine}
     * and {@code schedule} name theirs: not one from inside the implementation that names a local
     * variable of it. Before the scheduler has terminated and after.
     */
    @Test
    void awaitTerminationWithANullTimeoutNamesTheParameter() throws Exception {
        Scheduler s = newScheduler(2);
        assertThatThrownBy(() -> s.awaitTermination(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("timeout");
        assertThatThrownBy(() -> s.start(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("body");
        assertThatThrownBy(() -> s.newCoroutine(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("body");
        s.close();
        assertThatThrownBy(() -> s.awaitTermination(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("timeout");
    }

    /**
     * The JDK ignores an exception thrown by a thread's uncaught-exception handler; a carrier (or
     * the timer thread) that passed it on would end, and the fibers whose home it was with it.
     * Reported, the scheduler goes on, as after an exception the handler took.
     */
    @Test
    void anUncaughtExceptionHandlerThatThrowsEndsNoThreadOfTheScheduler() throws Exception {
        Scheduler s = newScheduler(1);
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        List<Thread> reporters = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            reported.add(e);
            reporters.add(t);
            throw new IllegalStateException("the handler failed too");
        });
        try {
            RuntimeException boom = new IllegalStateException("boom");
            Fiber failed = s.start(() -> {
                throw boom;
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((reported.isEmpty() || failed.isAlive()) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(failed.isAlive()).as("the failed fiber ended").isFalse();
            if (reporters.get(0).isVirtual()) {
                reporters.get(0).join(Duration.ofSeconds(30)); // the fiber's own thread: nothing more comes from it
            }
            assertThat(reported).as("reported once; what the handler threw is not reported in turn").containsExactly(boom);
            CompletableFuture<String> next = startFiber(s, () -> "still running");
            assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo("still running");
            CountDownLatch timerFailed = new CountDownLatch(1);
            s.schedule(() -> {
                timerFailed.countDown();
                throw new IllegalStateException("timer boom");
            }, 0, TimeUnit.MILLISECONDS);
            assertThat(timerFailed.await(30, TimeUnit.SECONDS)).isTrue();
            CountDownLatch timerRan = new CountDownLatch(1);
            s.schedule(timerRan::countDown, 1, TimeUnit.MILLISECONDS);
            assertThat(timerRan.await(10, TimeUnit.SECONDS)).as("a timer after the throwing one ran").isTrue();
            assertThat(s.isTerminated()).isFalse();
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    /**
     * A timer scheduled after {@code shutdown()} with no fiber live would never run: no fiber can
     * wait for it, and the timer thread ends with the scheduler's termination, already under way.
     * It is refused, not accepted and dropped. (Rounds, since on a scheduler that accepted it the
     * termination could also win the race and refuse it.)
     */
    @Test
    void aTimerScheduledAfterShutdownWithNoFiberLiveIsRefusedNotDropped() throws Exception {
        for (int round = 0; round < 10; round++) {
            Scheduler s = newScheduler(2);
            CountDownLatch timerStarted = new CountDownLatch(1);
            s.schedule(timerStarted::countDown, 0, TimeUnit.MILLISECONDS);
            assertThat(timerStarted.await(30, TimeUnit.SECONDS)).isTrue();
            s.shutdown();
            CountDownLatch ran = new CountDownLatch(1);
            String outcome;
            try {
                s.schedule(ran::countDown, 200, TimeUnit.MILLISECONDS);
                outcome = ran.await(5, TimeUnit.SECONDS) ? "accepted, and ran" : "accepted, and never ran";
            } catch (RejectedExecutionException e) {
                outcome = e.getMessage();
            }
            assertThat(outcome).as("round %d", round)
                    .isEqualTo("scheduler \"" + s.name() + "\" has terminated: it runs no timers");
            assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        }
    }

    /**
     * A scheduler's own threads (carriers, timer) are made by whichever thread happens to create
     * the scheduler or schedule its first timer: for the default scheduler, the first request of a
     * web application, say. They must not take that thread's inheritable thread locals or context
     * class loader: kept for the scheduler's life (the JVM's, for the default one), that pins the
     * loader (an undeployed application's) and hands one request's values to every fiber of every
     * later caller. A fiber started from a thread that set no value, or by a timer action, sees
     * none; a fiber started by a timer action does not run with the creator's loader.
     */
    @Test
    void theSchedulersThreadsTakeNothingFromTheThreadThatHappenedToCreateThem() throws Exception {
        InheritableThreadLocal<String> inherited = new InheritableThreadLocal<>();
        ClassLoader creatorsLoader = new java.net.URLClassLoader("creator's loader", new java.net.URL[0],
                getClass().getClassLoader());
        AtomicReference<Scheduler> created = new AtomicReference<>();
        Thread creator = Thread.ofPlatform().name("tck-creator").unstarted(() -> {
            inherited.set("creator's value");
            Scheduler s = newScheduler(2);
            s.schedule(() -> { }, 0, TimeUnit.MILLISECONDS); // the timer thread starts here too
            created.set(s);
        });
        creator.setContextClassLoader(creatorsLoader);
        creator.start();
        creator.join(30_000);
        Scheduler s = created.get();
        assertThat(s).isNotNull();
        String fromHere = await(startFiber(s, () -> String.valueOf(inherited.get())));
        CompletableFuture<String> fromTimer = new CompletableFuture<>();
        s.schedule(() -> s.start(() -> fromTimer.complete(inherited.get() + ", "
                + (Thread.currentThread().getContextClassLoader() == creatorsLoader ? "creator's loader" : "another loader"))),
                0, TimeUnit.MILLISECONDS);
        List<String> threadsWithTheLoader = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("coro4j-" + s.name() + "-"))
                .filter(t -> t.getContextClassLoader() == creatorsLoader)
                .map(Thread::getName).sorted().toList();
        assertThat(List.of(fromHere, await(fromTimer), threadsWithTheLoader.toString()))
                .isEqualTo(List.of("null", "null, another loader", "[]"));
    }

    /**
     * The same for the creator's thread group: a thread made without a group joins its creator's,
     * which then gets the uncaught exceptions of the scheduler's threads (a timer action's that
     * throws) through its {@code uncaughtException}, and is pinned, with the loader of its class
     * (an application's group subclass, say), for the scheduler's life. No thread of the scheduler
     * is in the creator's group, and a throwing timer action does not reach it.
     */
    @Test
    void theSchedulersThreadsAreNotInTheThreadGroupOfTheThreadThatHappenedToCreateThem() throws Exception {
        List<String> reachedTheGroup = new CopyOnWriteArrayList<>();
        ThreadGroup creatorsGroup = new ThreadGroup("tck-creators-group") {
            @Override
            public void uncaughtException(Thread t, Throwable e) {
                reachedTheGroup.add(e.getMessage());
            }
        };
        AtomicReference<Scheduler> created = new AtomicReference<>();
        Thread creator = Thread.ofPlatform().group(creatorsGroup).name("tck-creator").unstarted(() -> {
            Scheduler s = newScheduler(2);
            s.schedule(() -> { }, 0, TimeUnit.MILLISECONDS); // the timer thread starts here too
            created.set(s);
        });
        creator.start();
        creator.join(30_000);
        Scheduler s = created.get();
        assertThat(s).isNotNull();
        CountDownLatch thrown = new CountDownLatch(1);
        s.schedule(() -> {
            thrown.countDown();
            throw new IllegalStateException("a timer action's failure");
        }, 0, TimeUnit.MILLISECONDS);
        assertThat(thrown.await(30, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<String> after = new CompletableFuture<>();
        s.schedule(() -> after.complete("next action ran"), 0, TimeUnit.MILLISECONDS); // the failure was reported before it
        assertThat(await(after)).isEqualTo("next action ran");
        List<String> threadsInTheGroup = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().contains("coro4j-" + s.name() + "-"))
                .filter(t -> t.getThreadGroup() == creatorsGroup)
                .map(Thread::getName).sorted().toList();
        assertThat(List.of(threadsInTheGroup.toString(), reachedTheGroup.toString())).isEqualTo(List.of("[]", "[]"));
    }

    /**
     * A scheduler made with {@code daemon(false)} keeps the JVM alive from its creation until it
     * terminates, as a non-daemon executor does, on every scheduler: a non-daemon thread of its own
     * is alive from its creation on, before any timer is scheduled too (loom's fibers are daemon
     * virtual threads: its timer thread, otherwise started by the first timer, is that thread), so
     * that whether a program's JVM waits for it does not depend on whether it ever used a timer.
     * None is left once it has terminated; a daemon scheduler has none.
     */
    @Test
    void aNonDaemonSchedulerKeepsANonDaemonThreadOfItsOwnAliveUntilItTerminates() throws Exception {
        String name = "tck-non-daemon-" + Long.toHexString(System.nanoTime());
        Scheduler s = createScheduler(SchedulerConfig.builder().name(name).parallelism(1).daemon(false).build());
        List<String> seen = new ArrayList<>();
        try {
            seen.add("created: " + !nonDaemonThreadsOf(s).isEmpty());
            seen.add(await(startFiber(s, () -> "a fiber ran")) + ": " + !nonDaemonThreadsOf(s).isEmpty());
        } finally {
            s.close();
        }
        seen.add("closed: " + !nonDaemonThreadsOf(s).isEmpty());
        Scheduler daemon = newScheduler(1);
        await(startFiber(daemon, () -> "a fiber ran"));
        CompletableFuture<String> timer = new CompletableFuture<>();
        daemon.schedule(() -> timer.complete("a timer ran"), 0, TimeUnit.MILLISECONDS);
        await(timer);
        seen.add("daemon: " + nonDaemonThreadsOf(daemon));
        assertThat(seen).containsExactly("created: true", "a fiber ran: true", "closed: false", "daemon: []");
    }

    private static List<String> nonDaemonThreadsOf(Scheduler s) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("coro4j-" + s.name() + "-"))
                .filter(t -> t.isAlive() && !t.isDaemon())
                .map(Thread::getName).sorted().toList();
    }
}
