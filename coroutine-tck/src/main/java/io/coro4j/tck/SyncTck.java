package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.channel.Barrier;
import io.coro4j.channel.BrokenBarrierException;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Semaphore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@link Semaphore}, {@link Lock}, {@link Condition}, {@link Event} and {@link Barrier}: their contracts, FIFO hand-over, every misuse
 * with its message, cancellation of a waiting acquire, lock or await (finally blocks run, no
 * permit or lock leaks), and stress with cancellations racing the hand-overs. Each test is named
 * for the rule it checks.
 *
 * <p>If a test here fails, check that a release/unlock/set completes the waiter under the lock
 * before waking it, and that a cancelled waiter is unlinked only while it is still waiting.
 */
public abstract class SyncTck extends SchedulerTck {

    // ---- helpers (see also SchedulerTck) ----

    /** Spawns {@code body} as a task that returns what it threw, or null (a failed child would fail its parent). */
    private static Task<Throwable> spawnCatching(Runnable body) {
        return Coro.spawn(() -> {
            try {
                body.run();
                return null;
            } catch (CancellationException e) {
                throw e;
            } catch (Throwable e) {
                return e;
            }
        });
    }

    /**
     * One suspension in this many, inside a lock or permit, is a sleep. One in 8 made the lock
     * stress take 122 s at multiplier 10 and run past its test timeout at 20.
     */
    private static final int SLEEP_EVERY = 32;

    /**
     * Suspends briefly: {@link Coro#yieldNow()}, or, one time in {@code every}, a sleep of a
     * microsecond, which always suspends the task (through a timer). The timer rounds it up to
     * its tick, about a millisecond, during which a task holding a lock or permit holds up the
     * others: such sleeps, not the CPU, set how long a lock or semaphore stress round takes.
     */
    private static void suspendBriefly(SplittableRandom random, int every) {
        if (random.nextInt(every) == 0) {
            Coro.sleep(Duration.ofNanos(1_000));
        } else {
            Coro.yieldNow();
        }
    }

    private static Task<Void> spawn(Runnable body) {
        return Coro.spawn(() -> {
            body.run();
            return null;
        });
    }

    // ---- Semaphore ----

    @Test
    void semaphorePermitsBelowOneAreRejectedNamingTheValue() {
        assertThatThrownBy(() -> new Semaphore(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("semaphore permits 0 should be at least 1");
        assertThatThrownBy(() -> new Semaphore(-3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("semaphore permits -3 should be at least 1");
    }

    @Test
    void semaphoreTryAcquireAndReleaseCountPermitsFromAnyThread() {
        Semaphore s = new Semaphore(2);
        assertThat(s.availablePermits()).isEqualTo(2);
        assertThat(s.tryAcquire()).isTrue();
        assertThat(s.tryAcquire()).isTrue();
        assertThat(s.tryAcquire()).isFalse();
        assertThat(s.availablePermits()).isZero();
        s.release();
        assertThat(s.availablePermits()).isOne();
        s.release();
        assertThat(s.availablePermits()).isEqualTo(2);
    }

    @Test
    void semaphoreReleasingMoreThanAcquiredIsRejected() throws Exception {
        Semaphore s = new Semaphore(2);
        assertThatThrownBy(s::release).isInstanceOf(IllegalStateException.class)
                .hasMessage("semaphore released more times than acquired: all 2 permits are already available");
        runTask(() -> {
            s.acquire();
            s.release();
            assertThatThrownBy(s::release).isInstanceOf(IllegalStateException.class)
                    .hasMessage("semaphore released more times than acquired: all 2 permits are already available");
            return null;
        });
        assertThat(s.availablePermits()).isEqualTo(2);
    }

    @Test
    void semaphoreAcquireSuspendsUntilAReleaseHandsItAPermitFirstComeFirstServed() throws Exception {
        runTask(() -> {
            Semaphore s = new Semaphore(1);
            s.acquire();
            List<Integer> order = new CopyOnWriteArrayList<>();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int id = i;
                waiters.add(spawn(() -> {
                    s.acquire();
                    order.add(id);
                    s.release();
                }));
                int n = i + 1;
                until(n + " acquirers wait", () -> s.queueLength() == n);
            }
            assertThat(s.tryAcquire()).as("tryAcquire does not take a permit ahead of waiting tasks").isFalse();
            assertThat(order).isEmpty();
            s.release();
            for (Task<Void> w : waiters) {
                w.join();
            }
            assertThat(order).containsExactly(0, 1, 2, 3);
            assertThat(s.availablePermits()).isOne();
            return null;
        });
    }

    @Test
    void semaphoreCancellingAWaitingAcquireThrowsRunsFinallyAndLosesNoPermit() throws Exception {
        runTask(() -> {
            Semaphore s = new Semaphore(1);
            s.acquire();
            AtomicBoolean finallyRan = new AtomicBoolean();
            AtomicBoolean acquired = new AtomicBoolean();
            Task<Void> victim = spawn(() -> {
                try {
                    s.acquire();
                    acquired.set(true);
                } finally {
                    finallyRan.set(true);
                }
            });
            until("the acquirer waits", () -> s.queueLength() == 1);
            victim.cancel();
            assertCancelled(victim);
            assertThat(finallyRan).isTrue();
            assertThat(acquired).isFalse();
            assertThat(s.queueLength()).isZero();
            s.release();
            assertThat(s.availablePermits()).as("the permit went back, not to the cancelled task").isOne();
            return null;
        });
    }

    /**
     * An acquire whose task has seen the cancellation, and is about to withdraw, when a release
     * hands it the permit (the release holding the semaphore's lock first; {@link GrantWindow}):
     * the acquire returns holding the permit, which its {@code finally} gives back, instead of
     * throwing and losing it.
     */
    @Test
    void semaphoreAPermitHandedToAnAcquireWhileItsCancelledTaskWithdrawsIsKept() throws Exception {
        List<String> log = runTask(() -> {
            Semaphore s = new Semaphore(1);
            s.acquire();
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> acquirer = spawn(() -> {
                s.acquire();
                try {
                    out.add("acquire returned");
                    Coro.yieldNow(); // the cancellation, still pending
                    out.add("not cancelled");
                } finally {
                    s.release();
                }
            });
            until("the acquirer waits", () -> s.queueLength() == 1);
            GrantWindow.cancelAndGrant(s, acquirer, s::release); // the main task's permit, handed on
            out.add("permits available " + s.availablePermits() + ", waiting " + s.queueLength());
            return out;
        });
        assertThat(log).containsExactly("acquire returned", "permits available 1, waiting 0");
    }

    @Test
    void semaphoreAcquireOutsideATaskIsRejected() {
        Semaphore s = new Semaphore(1);
        assertThatThrownBy(s::acquire).isInstanceOf(IllegalStateException.class)
                .hasMessage("Semaphore.acquire" + OUTSIDE);
        assertThat(s.availablePermits()).isOne();
    }

    /**
     * Tasks repeatedly acquire, suspend while holding, and release, while some are cancelled at
     * random moments: never more holders than permits, and every permit is back at the end.
     */
    @Test
    void stressSemaphoreBoundsConcurrencyAndLeaksNoPermitUnderCancellation() throws Exception {
        int rounds = Stress.scaled(100);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        AtomicInteger acquisitions = new AtomicInteger();
        runTask(Duration.ofSeconds(Math.max(60, rounds)), () -> {
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                int permits = 1 + random.nextInt(3);
                Semaphore s = new Semaphore(permits);
                AtomicInteger holders = new AtomicInteger();
                AtomicInteger maxHolders = new AtomicInteger();
                List<Task<Void>> tasks = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    SplittableRandom mine = random.split();
                    tasks.add(spawn(() -> {
                        for (int k = 0; k < 300; k++) {
                            s.acquire();
                            try {
                                acquisitions.incrementAndGet();
                                maxHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                                suspendBriefly(mine, SLEEP_EVERY);
                            } finally {
                                holders.decrementAndGet();
                                s.release();
                            }
                        }
                    }));
                }
                cancelSomeAtRandomMoments(tasks, random);
                joinAll(tasks);
                assertThat(maxHolders.get()).as("%s: most holders at once", what).isLessThanOrEqualTo(permits);
                assertThat(s.availablePermits()).as("%s: permits back", what).isEqualTo(permits);
                assertThat(s.queueLength()).as("%s: waiters left", what).isZero();
            }
            return null;
        });
        assertThat(acquisitions.get()).as("acquisitions in all rounds").isPositive();
    }

    // ---- Lock ----

    @Test
    void lockIsHeldByOneTaskAtATime() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            assertThat(lock.isLocked()).isFalse();
            lock.lock();
            assertThat(lock.isLocked()).isTrue();
            Task<Boolean> other = Coro.spawn(lock::tryLock);
            assertThat(other.join()).as("tryLock by another task while held").isFalse();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.tryLock()).isTrue();
            lock.unlock();
            return null;
        });
    }

    @Test
    void lockWaitersAreServedFirstComeFirstServed() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            lock.lock();
            List<Integer> order = new CopyOnWriteArrayList<>();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int id = i;
                waiters.add(Coro.spawn(() -> lock.withLock(() -> {
                    order.add(id);
                    return null;
                })));
                int n = i + 1;
                until(n + " tasks wait for the lock", () -> lock.queueLength() == n);
            }
            Task<Boolean> barger = Coro.spawn(lock::tryLock);
            assertThat(barger.join()).as("tryLock does not take the lock ahead of waiting tasks").isFalse();
            lock.unlock();
            for (Task<Void> w : waiters) {
                w.join();
            }
            assertThat(order).containsExactly(0, 1, 2, 3);
            assertThat(lock.isLocked()).isFalse();
            return null;
        });
    }

    @Test
    void unlockByATaskThatDoesNotHoldTheLockIsRejected() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            String me = Coro.currentTask().name();
            assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class)
                    .hasMessage("lock is not held by the current task: " + me + " unlocked a lock that is free");
            lock.lock();
            Task<Throwable> other = spawnCatching(lock::unlock);
            assertThat(other.join()).isInstanceOf(IllegalStateException.class)
                    .hasMessage("lock is not held by the current task: " + other.name() + " unlocked a lock held by " + me);
            Task<Void> child = spawn(() -> {});
            child.join();
            assertThat(lock.isLocked()).as("still held by its owner").isTrue();
            lock.unlock();
            return null;
        });
    }

    @Test
    void relockingByTheOwnerIsRejectedInsteadOfDeadlocking() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            String me = Coro.currentTask().name();
            String message = "lock is already held by the current task " + me + ": re-locking would deadlock (Lock is not reentrant)";
            lock.lock();
            assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class).hasMessage(message);
            assertThatThrownBy(lock::tryLock).isInstanceOf(IllegalStateException.class).hasMessage(message);
            assertThatThrownBy(() -> lock.withLock(() -> 1)).isInstanceOf(IllegalStateException.class).hasMessage(message);
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
            return null;
        });
    }

    @Test
    void withLockReturnsTheBodysValueAndUnlocksHoweverTheBodyEnds() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            assertThat(lock.withLock(() -> {
                assertThat(lock.isLocked()).isTrue();
                return 42;
            })).isEqualTo(42);
            assertThat(lock.isLocked()).isFalse();
            IOException failure = new IOException("boom");
            assertThatThrownBy(() -> lock.withLock(() -> {
                throw failure;
            })).isSameAs(failure);
            assertThat(lock.isLocked()).isFalse();
            assertThatThrownBy(() -> lock.withLock(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("body must not be null");
            return null;
        });
    }

    /**
     * A body that fails after misusing the lock (unlocking it itself) makes the final unlock fail
     * too: the body's exception still comes out, unchanged, with the unlock's failure suppressed
     * on it, as try-with-resources does; replaced, the real failure would be lost.
     */
    @Test
    void withLockKeepsTheBodysExceptionWhenTheFinalUnlockFails() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            String me = Coro.currentTask().name();
            IOException failure = new IOException("boom");
            Throwable thrown = catchThrowable(() -> lock.withLock(() -> {
                lock.unlock();
                throw failure;
            }));
            assertThat(thrown).as("what withLock threw").isSameAs(failure);
            assertThat(thrown.getSuppressed()).singleElement().isInstanceOf(IllegalStateException.class)
                    .hasFieldOrPropertyWithValue("message", "lock is not held by the current task: " + me + " unlocked a lock that is free");
            assertThatThrownBy(() -> lock.withLock(() -> {
                lock.unlock();
                return 1;
            })).as("a body that returns: the unlock's failure is the only one").isInstanceOf(IllegalStateException.class)
                    .hasMessage("lock is not held by the current task: " + me + " unlocked a lock that is free");
            assertThat(lock.isLocked()).isFalse();
            return null;
        });
    }

    @Test
    void lockCancellingAWaitingLockThrowsRunsFinallyAndPassesTheLockOn() throws Exception {
        runTask(() -> {
            Lock lock = new Lock();
            lock.lock();
            AtomicBoolean finallyRan = new AtomicBoolean();
            AtomicBoolean entered = new AtomicBoolean();
            Task<Void> victim = Coro.spawn(() -> {
                try {
                    return lock.withLock(() -> {
                        entered.set(true);
                        return null;
                    });
                } finally {
                    finallyRan.set(true);
                }
            });
            until("the victim waits", () -> lock.queueLength() == 1);
            Task<Integer> next = Coro.spawn(() -> lock.withLock(() -> 7));
            until("the next task waits", () -> lock.queueLength() == 2);
            victim.cancel();
            assertCancelled(victim);
            assertThat(finallyRan).isTrue();
            assertThat(entered).isFalse();
            assertThat(lock.queueLength()).isOne();
            lock.unlock();
            assertThat(next.join()).as("the lock went to the next waiter").isEqualTo(7);
            assertThat(lock.isLocked()).isFalse();
            return null;
        });
    }

    @Test
    void lockOperationsOutsideATaskAreRejected() {
        Lock lock = new Lock();
        assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class).hasMessage("Lock.lock" + OUTSIDE);
        assertThatThrownBy(lock::tryLock).isInstanceOf(IllegalStateException.class).hasMessage("Lock.tryLock" + OUTSIDE);
        assertThatThrownBy(lock::unlock).isInstanceOf(IllegalStateException.class).hasMessage("Lock.unlock" + OUTSIDE);
        assertThatThrownBy(() -> lock.withLock(() -> 1)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Lock.withLock" + OUTSIDE);
        assertThat(lock.isLocked()).isFalse();
    }

    /**
     * Tasks increment a plain counter under the lock, suspending inside the critical section,
     * while some are cancelled at random moments: no increment is lost (mutual exclusion), and the
     * lock ends free with nobody waiting.
     */
    @Test
    void stressLockExcludesMutuallyAndIsNeverLeftHeldUnderCancellation() throws Exception {
        int rounds = Stress.scaled(100);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds)), () -> {
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                Lock lock = new Lock();
                int[] counter = {0};
                AtomicInteger increments = new AtomicInteger();
                AtomicInteger inside = new AtomicInteger();
                AtomicInteger overlaps = new AtomicInteger();
                List<Task<Void>> tasks = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    SplittableRandom mine = random.split();
                    tasks.add(spawn(() -> {
                        for (int k = 0; k < 300; k++) {
                            lock.lock();
                            try {
                                if (inside.incrementAndGet() != 1) {
                                    overlaps.incrementAndGet();
                                }
                                int c = counter[0];
                                suspendBriefly(mine, SLEEP_EVERY);
                                counter[0] = c + 1;
                                increments.incrementAndGet();
                            } finally {
                                inside.decrementAndGet();
                                lock.unlock();
                            }
                        }
                    }));
                }
                cancelSomeAtRandomMoments(tasks, random);
                joinAll(tasks);
                assertThat(overlaps.get()).as("%s: tasks inside the lock at once", what).isZero();
                assertThat(counter[0]).as("%s: increments kept", what).isEqualTo(increments.get());
                assertThat(lock.isLocked()).as("%s: lock left held", what).isFalse();
                assertThat(lock.queueLength()).as("%s: waiters left", what).isZero();
            }
            return null;
        });
    }

    // ---- Condition ----

    @Test
    void conditionAwaitReleasesTheLockAndReturnsHoldingItOnceTheSignallerUnlocks() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition ready = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            out.add("signal with nobody waiting returned " + lock.withLock(ready::signal));
            Task<Void> waiter = spawn(() -> {
                lock.lock();
                try {
                    ready.await();
                    out.add("waiter returned from await");
                } finally {
                    lock.unlock(); // throws unless the await left the lock held by this task
                }
            });
            // Queued first, then the lock released (a snapshot between the two sees it queued and the lock held).
            until("the waiter waits, the lock released", () -> ready.queueLength() == 1 && !lock.isLocked());
            out.add("locked while the waiter waits: " + lock.isLocked());
            lock.lock();
            out.add("signal returned " + ready.signal());
            Coro.sleep(Duration.ofMillis(20));
            out.add("waiter done while the signaller holds the lock: " + waiter.isDone());
            lock.unlock();
            waiter.join();
            out.add("locked " + lock.isLocked() + ", waiting " + ready.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal with nobody waiting returned false", "locked while the waiter waits: false",
                "signal returned true", "waiter done while the signaller holds the lock: false", "waiter returned from await",
                "locked false, waiting 0 0");
    }

    @Test
    void conditionSignalWakesTheLongestWaitingTaskAndSignalAllEveryOther() throws Exception {
        List<String> log = runTask(() -> {
            Condition cond = new Condition();
            Lock lock = cond.lock();
            List<String> woken = new CopyOnWriteArrayList<>();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String name = "waiter " + i;
                waiters.add(spawn(() -> {
                    lock.lock();
                    try {
                        cond.await();
                        woken.add(name);
                    } finally {
                        lock.unlock();
                    }
                }));
                int n = i + 1;
                until("waiter " + i + " waits", () -> cond.queueLength() == n);
            }
            List<String> out = new ArrayList<>();
            out.add("signal returned " + lock.withLock(cond::signal));
            waiters.get(0).join();
            out.add("woken " + woken + ", still waiting " + cond.queueLength());
            out.add("signalAll returned " + lock.withLock(cond::signalAll));
            waiters.get(1).join();
            waiters.get(2).join();
            out.add("woken " + new java.util.TreeSet<>(woken) + ", still waiting " + cond.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "woken [waiter 0], still waiting 2", "signalAll returned 2",
                "woken [waiter 0, waiter 1, waiter 2], still waiting 0");
    }

    /** The classic bounded buffer: one lock, "not full" and "not empty" conditions, awaitUntil. */
    @Test
    void conditionsGuardABoundedBufferWithoutLosingOrReorderingItems() throws Exception {
        int items = 2_000;
        List<Integer> got = runTask(() -> {
            Lock lock = new Lock();
            Condition notFull = new Condition(lock);
            Condition notEmpty = new Condition(lock);
            ArrayDeque<Integer> buffer = new ArrayDeque<>();
            Task<List<Integer>> consumer = Coro.spawn(() -> {
                List<Integer> out = new ArrayList<>();
                while (out.size() < items) {
                    lock.lock();
                    try {
                        notEmpty.awaitUntil(() -> !buffer.isEmpty());
                        out.add(buffer.poll());
                        notFull.signal();
                    } finally {
                        lock.unlock();
                    }
                }
                return out;
            });
            for (int i = 0; i < items; i++) {
                lock.lock();
                try {
                    notFull.awaitUntil(() -> buffer.size() < 2);
                    buffer.add(i);
                    notEmpty.signal();
                } finally {
                    lock.unlock();
                }
            }
            return consumer.join();
        });
        assertThat(got).hasSize(items);
        for (int i = 0; i < items; i++) {
            assertThat(got.get(i)).as("item %d", i).isEqualTo(i);
        }
    }

    @Test
    void conditionMisuseIsRefusedWithAMessage() throws Exception {
        assertThatThrownBy(() -> new Condition(null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("lock");
        Condition outside = new Condition();
        assertThatThrownBy(outside::await).isExactlyInstanceOf(IllegalStateException.class).hasMessage("Condition.await" + OUTSIDE);
        assertThatThrownBy(outside::signal).isExactlyInstanceOf(IllegalStateException.class).hasMessage("Condition.signal" + OUTSIDE);
        assertThatThrownBy(outside::signalAll).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("Condition.signalAll" + OUTSIDE);
        assertThatThrownBy(() -> outside.awaitUntil(() -> true)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("Condition.awaitUntil" + OUTSIDE);
        List<String> log = runTask(() -> {
            Condition cond = new Condition();
            Lock lock = cond.lock();
            String me = Coro.currentTask().name();
            List<String> out = new ArrayList<>();
            out.add(catchThrowable(cond::await).getMessage());
            out.add(catchThrowable(cond::signal).getMessage());
            out.add(catchThrowable(cond::signalAll).getMessage());
            out.add(catchThrowable(() -> cond.awaitUntil(() -> false)).getMessage());
            Task<Void> holder = spawn(() -> {
                lock.lock();
            });
            holder.join(); // ends holding the lock: nobody else may use the condition now
            out.add(catchThrowable(cond::signal).getMessage().replace(me, "ME").replace(holder.name(), "HOLDER"));
            out.add(catchThrowable(() -> cond.awaitUntil(null)).getMessage());
            return out;
        });
        assertThat(log).hasSize(6);
        assertThat(log.subList(0, 4)).allSatisfy(m -> assertThat(m).matches(
                "Condition\\.(await|signal|signalAll|awaitUntil) needs its lock held by the current task \\S+: lock it first \\(Lock\\[unlocked\\]\\)"));
        assertThat(log.get(4)).isEqualTo("Condition.signal needs its lock held by the current task ME: lock it first (Lock[held by HOLDER, 0 waiting])");
        assertThat(log.get(5)).isEqualTo("predicate");
    }

    /**
     * A waiter cancelled while it waits takes the lock back before the cancellation propagates
     * (so its {@code finally} unlocks a lock it holds), waiting for it while the canceller holds it,
     * and consumes no signal.
     */
    @Test
    void conditionAwaitCancelledWhileWaitingTakesTheLockBackThenThrows() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> waiter = spawn(() -> {
                lock.lock();
                try {
                    cond.await();
                    out.add("await returned");
                } catch (CancellationException e) {
                    out.add("await threw CancellationException, lock held: " + lock.isLocked());
                    throw e;
                } finally {
                    lock.unlock(); // throws unless the await took the lock back
                    out.add("unlocked");
                }
            });
            until("the waiter waits", () -> cond.queueLength() == 1);
            lock.lock();
            waiter.cancel();
            Coro.sleep(Duration.ofMillis(20));
            out.add("waiter done while the canceller holds the lock: " + waiter.isDone());
            out.add("signal returned " + cond.signal());
            lock.unlock();
            assertCancelled(waiter);
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("waiter done while the canceller holds the lock: false", "signal returned false",
                "await threw CancellationException, lock held: true", "unlocked", "locked false, waiting 0 0");
    }

    /** A timeout around an await: it times out holding the lock again, so a lock-guarded wait can have a deadline. */
    @Test
    void conditionAwaitInsideATimeoutTimesOutHoldingTheLock() throws Exception {
        List<String> log = runTask(() -> {
            Condition cond = new Condition();
            Lock lock = cond.lock();
            List<String> out = new ArrayList<>();
            lock.lock();
            try {
                String r = Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> {
                    cond.awaitUntil(() -> false);
                    return "condition held";
                });
                out.add("withTimeoutOrNull returned " + r + ", locked " + lock.isLocked() + ", waiting " + cond.queueLength());
            } finally {
                lock.unlock(); // throws unless the timed-out await took the lock back
            }
            out.add("unlocked");
            return out;
        });
        assertThat(log).containsExactly("withTimeoutOrNull returned null, locked true, waiting 0", "unlocked");
    }

    /** Signalled, then cancelled before it ran: the await returns normally and the cancellation comes next. */
    @Test
    void conditionAwaitSignalledBeforeItsTaskSawTheCancellationReturnsNormally() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> waiter = spawn(() -> {
                lock.lock();
                try {
                    cond.await();
                    out.add("await returned");
                    Coro.yieldNow();
                    out.add("not cancelled");
                } catch (CancellationException e) {
                    out.add("cancelled at the next suspension point");
                    throw e;
                } finally {
                    lock.unlock();
                }
            });
            until("the waiter waits", () -> cond.queueLength() == 1);
            lock.lock();
            out.add("signal returned " + cond.signal());
            waiter.cancel();
            lock.unlock();
            assertCancelled(waiter);
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "await returned", "cancelled at the next suspension point",
                "locked false, waiting 0 0");
    }

    /**
     * A signal racing the cancellation of the only waiter, a few microseconds apart either way:
     * the waiter's await returned normally exactly when the signal found it waiting, and the lock
     * ends free.
     */
    @Test
    void stressConditionSignalRacingCancellationIsConsumedExactlyWhenItFoundTheWaiter() throws Exception {
        int rounds = Stress.scaled(1_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                Task<String> waiter = Coro.spawn(() -> {
                    lock.lock();
                    try {
                        cond.await();
                        return "signalled";
                    } finally {
                        lock.unlock();
                    }
                });
                until("the waiter waits", () -> cond.queueLength() == 1);
                lock.lock();
                boolean signalled;
                try {
                    signalled = ChannelTck.race(random, waiter, cond::signal);
                } finally {
                    lock.unlock();
                }
                String r;
                try {
                    r = waiter.join();
                } catch (CancellationException e) {
                    r = "cancelled";
                }
                assertThat(r).as("%s: the waiter's outcome (signal returned %s)", what, signalled)
                        .isEqualTo(signalled ? "signalled" : "cancelled");
                assertThat(lock.isLocked()).as("%s: lock left held", what).isFalse();
                assertThat(cond.queueLength() + lock.queueLength()).as("%s: waiting", what).isZero();
            }
            return null;
        });
    }

    /**
     * An await where the task cannot suspend (threadpool: a class initializer) while another task
     * waits for the lock: however it ends (loom: it waits, pinning its carrier, and returns once
     * signalled; threadpool: it is refused, saying why), it ends holding the lock, so that the
     * caller's {@code finally} unlocks a lock it holds instead of replacing the refusal with
     * "lock is not held by the current task"; and the other task gets the lock after it.
     */
    @Test
    void conditionAwaitWhereTheTaskCannotSuspendEndsHoldingTheLock() throws Exception {
        // Where the task can wait there (loom), the task that signals needs a carrier of its own.
        assumeTrue(aPinnedWaitLeavesAnotherCarrier(), PINNED_WAIT_NEEDS_ANOTHER_CARRIER);
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            AtomicBoolean awaitEnded = new AtomicBoolean();
            Task<Void> waiter = spawn(() -> {
                lock.lock();
                try {
                    Task<Void> other = spawn(() -> {
                        lock.lock();
                        try {
                            cond.signal();
                            // Let the waiter end its await first: at once where it cannot wait, or
                            // (where it waits, pinning its carrier) once this task unlocks.
                            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
                            while (!awaitEnded.get() && System.nanoTime() - deadline < 0) {
                                Coro.sleep(Duration.ofMillis(1));
                            }
                        } finally {
                            lock.unlock();
                        }
                    });
                    until("the other task waits for the lock", () -> lock.queueLength() == 1);
                    ClassInitializers.run(() -> {
                        try {
                            cond.await();
                            out.add("await returned");
                        } catch (IllegalStateException e) {
                            out.add(e.getMessage().startsWith("this fiber cannot suspend here (")
                                    ? "await refused: cannot suspend here" : "await threw " + e);
                        } finally {
                            awaitEnded.set(true);
                        }
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    try {
                        lock.unlock();
                        out.add("unlocked");
                    } catch (IllegalStateException e) {
                        out.add("unlock threw: " + e.getMessage().replaceAll("task-\\d+", "T"));
                    }
                }
            });
            waiter.join();
            until("the lock is free", () -> !lock.isLocked());
            out.add("waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).hasSize(3);
        assertThat(log.get(0)).isIn("await returned", "await refused: cannot suspend here");
        assertThat(log.subList(1, 3)).containsExactly("unlocked", "waiting 0 0");
    }

    /**
     * A timeout around an await that expires while the signalled waiter waits to take the lock
     * back: the await returns normally holding the lock (the signal took effect), and the timeout
     * is raised at the next suspension point, not hidden by the shield that takes the lock back.
     */
    @Test
    void conditionAwaitSignalledThenTimedOutWhileTakingTheLockBackReturnsAndTheTimeoutComesNext() throws Exception {
        long timeoutMillis = 300;
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            long[] started = new long[1];
            Task<String> waiter = Coro.spawn(() -> {
                lock.lock();
                try {
                    started[0] = System.nanoTime();
                    return Coro.withTimeout(Duration.ofMillis(timeoutMillis), () -> {
                        cond.await();
                        out.add("await returned, locked " + lock.isLocked());
                        try {
                            Coro.yieldNow();
                            return "not timed out";
                        } catch (CancellationException e) {
                            out.add("the next suspension point threw");
                            throw e;
                        }
                    });
                } catch (io.coro4j.TimeoutExceededException e) {
                    return "timed out";
                } finally {
                    lock.unlock();
                }
            });
            until("the waiter waits", () -> cond.queueLength() == 1);
            lock.lock();
            out.add("signal returned " + cond.signal());
            // Until the waiter's timeout has expired: a timeout of this task's that ends after it has,
            // for the scheduler's timer runs its actions one after the other in deadline order. 50 ms
            // of the clock were not that: on loom, where a sleep is the JDK's timer, a timer thread
            // that stalls longer let the lock go before the expiry ("waiter: not timed out").
            long untilAfter = TimeUnit.MILLISECONDS.toNanos(timeoutMillis + 50) - (System.nanoTime() - started[0]);
            Coro.withTimeoutOrNull(Duration.ofNanos(Math.max(untilAfter, TimeUnit.MILLISECONDS.toNanos(1))), () -> {
                new Event().await();
                return null;
            });
            lock.unlock();
            out.add("waiter: " + waiter.join());
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "await returned, locked true", "the next suspension point threw",
                "waiter: timed out", "locked false, waiting 0 0");
    }

    /** Cancelled while it waits to take the lock back after a signal: it returns, and the next await throws on entry. */
    @Test
    void conditionAwaitCancelledWhileTakingTheLockBackReturnsAndTheNextAwaitThrowsHoldingTheLock() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> waiter = spawn(() -> {
                lock.lock();
                try {
                    cond.await();
                    out.add("await returned");
                    try {
                        cond.await();
                        out.add("second await returned");
                    } catch (CancellationException e) {
                        out.add("second await threw, locked " + lock.isLocked());
                        throw e;
                    }
                } finally {
                    lock.unlock();
                }
            });
            until("the waiter waits", () -> cond.queueLength() == 1);
            lock.lock();
            out.add("signal returned " + cond.signal());
            until("the waiter waits for the lock", () -> lock.queueLength() == 1);
            waiter.cancel();
            Coro.sleep(Duration.ofMillis(20));
            out.add("waiter done while the lock is held: " + waiter.isDone());
            lock.unlock();
            assertCancelled(waiter);
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "waiter done while the lock is held: false", "await returned",
                "second await threw, locked true", "locked false, waiting 0 0");
    }

    /** signalAll counts and wakes only the waiters still waiting: cancelled ones have left, lock in hand. */
    @Test
    void conditionSignalAllWakesOnlyTheWaitersNotCancelled() throws Exception {
        List<String> log = runTask(() -> {
            Condition cond = new Condition();
            Lock lock = cond.lock();
            List<String> out = new CopyOnWriteArrayList<>();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int k = i;
                waiters.add(spawn(() -> {
                    lock.lock();
                    try {
                        cond.await();
                        out.add("woken " + k);
                    } catch (CancellationException e) {
                        out.add("cancelled " + k + ", locked " + lock.isLocked());
                        throw e;
                    } finally {
                        lock.unlock();
                    }
                }));
                until("waiter " + k + " waits", () -> cond.queueLength() == k + 1);
            }
            waiters.get(1).cancel();
            waiters.get(3).cancel();
            assertCancelled(waiters.get(1));
            assertCancelled(waiters.get(3));
            lock.lock();
            try {
                out.add("signalAll returned " + cond.signalAll()); // logged holding the lock: before the woken log
            } finally {
                lock.unlock();
            }
            waiters.get(0).join();
            waiters.get(2).join();
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).hasSize(6);
        assertThat(log.subList(0, 2)).containsExactlyInAnyOrder("cancelled 1, locked true", "cancelled 3, locked true");
        assertThat(log.get(2)).isEqualTo("signalAll returned 2");
        assertThat(log.subList(3, 5)).containsExactlyInAnyOrder("woken 0", "woken 2");
        assertThat(log.get(5)).isEqualTo("locked false, waiting 0 0");
    }

    /** awaitUntil whose predicate throws after a wake: the failure propagates with the lock held. */
    @Test
    void conditionAwaitUntilWhosePredicateThrowsPropagatesItHoldingTheLock() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            int[] tests = {0};
            Task<Throwable> waiter = spawnCatching(() -> {
                lock.lock();
                try {
                    cond.awaitUntil(() -> {
                        if (++tests[0] == 2) {
                            throw new IllegalArgumentException("predicate failed");
                        }
                        return false;
                    });
                } finally {
                    out.add("finally, locked " + lock.isLocked());
                    lock.unlock();
                }
            });
            until("the waiter waits", () -> cond.queueLength() == 1);
            lock.lock();
            try {
                out.add("signal returned " + cond.signal()); // logged holding the lock: before the waiter's finally
            } finally {
                lock.unlock();
            }
            out.add("waiter threw " + waiter.join().getMessage());
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "finally, locked true", "waiter threw predicate failed",
                "locked false, waiting 0 0");
    }

    /** A task group cancelling a waiting await (a sibling failed): it takes the lock back, then the group fails. */
    @Test
    void conditionAwaitCancelledByItsTaskGroupTakesTheLockBack() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            Throwable failure = catchThrowable(() -> Coro.taskGroup(g -> {
                g.spawn(() -> {
                    lock.lock();
                    try {
                        cond.await();
                    } catch (CancellationException e) {
                        out.add("await cancelled, locked " + lock.isLocked());
                        throw e;
                    } finally {
                        lock.unlock();
                    }
                    return null;
                });
                g.spawn(() -> {
                    until("the waiter waits", () -> cond.queueLength() == 1);
                    throw new IllegalStateException("sibling failed");
                });
                return null;
            }));
            out.add("group threw " + failure.getMessage());
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("await cancelled, locked true", "group threw sibling failed", "locked false, waiting 0 0");
    }

    /** Awaits in a generator body suspend the task that iterates it, and are signalled as any other. */
    @Test
    void conditionAwaitInAGeneratorBodySuspendsTheIteratingTask() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            boolean[] ready = {false};
            Task<List<Integer>> consumer = Coro.spawn(() -> {
                io.coro4j.Generator<Integer, Void, String> g = io.coro4j.Generator.of(co -> {
                    for (int i = 0; i < 3; i++) {
                        lock.lock();
                        try {
                            cond.awaitUntil(() -> ready[0]);
                            ready[0] = false;
                        } finally {
                            lock.unlock();
                        }
                        co.yield(i);
                    }
                    return "done";
                });
                List<Integer> got = new ArrayList<>();
                for (Integer x : g) {
                    got.add(x);
                }
                return got;
            });
            for (int i = 0; i < 3; i++) {
                until("the generator body waits", () -> cond.queueLength() == 1);
                lock.lock();
                try {
                    ready[0] = true;
                    out.add("signal returned " + cond.signal());
                } finally {
                    lock.unlock();
                }
            }
            out.add("got " + consumer.join());
            return out;
        });
        assertThat(log).containsExactly("signal returned true", "signal returned true", "signal returned true", "got [0, 1, 2]");
    }

    /** The task iterating a generator whose body awaits is cancelled: the body takes the lock back before it unwinds. */
    @Test
    void conditionAwaitInAGeneratorBodyCancelledTakesTheLockBack() throws Exception {
        List<String> log = runTask(() -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> consumer = spawn(() -> {
                io.coro4j.Generator<Integer, Void, String> g = io.coro4j.Generator.of(co -> {
                    lock.lock();
                    try {
                        cond.await();
                    } catch (CancellationException e) {
                        out.add("body's await cancelled, locked " + lock.isLocked());
                        throw e;
                    } finally {
                        lock.unlock();
                    }
                    return "signalled";
                });
                g.next();
            });
            until("the generator body waits", () -> cond.queueLength() == 1);
            lock.lock();
            consumer.cancel();
            Coro.sleep(Duration.ofMillis(20));
            out.add("consumer done while the lock is held: " + consumer.isDone());
            lock.unlock();
            assertCancelled(consumer);
            out.add("locked " + lock.isLocked() + ", waiting " + cond.queueLength() + " " + lock.queueLength());
            return out;
        });
        assertThat(log).containsExactly("consumer done while the lock is held: false", "body's await cancelled, locked true",
                "locked false, waiting 0 0");
    }

    /** Inside Coro.blocking, whose body runs outside the task, every Condition method is refused saying so. */
    @Test
    void conditionInsideABlockingCallIsRefusedSayingSo() throws Exception {
        List<String> log = runTask(() -> {
            Condition cond = new Condition();
            List<String> out = new ArrayList<>();
            cond.lock().lock();
            try {
                out.add(catchThrowable(() -> Coro.blocking(() -> {
                    cond.await();
                    return null;
                })).getMessage());
                out.add(catchThrowable(() -> Coro.blocking(cond::signal)).getMessage());
                out.add(catchThrowable(() -> Coro.blocking(cond::signalAll)).getMessage());
                out.add(catchThrowable(() -> Coro.blocking(() -> {
                    cond.awaitUntil(() -> true);
                    return null;
                })).getMessage());
                out.add("locked " + cond.lock().isLocked());
            } finally {
                cond.lock().unlock();
            }
            return out;
        });
        String inside = " called inside Coro.blocking(...), whose body runs on a thread of its own, outside the task:"
                + " do task operations before or after the blocking call";
        assertThat(log).containsExactly("Condition.await" + inside, "Condition.signal" + inside, "Condition.signalAll" + inside,
                "Condition.awaitUntil" + inside, "locked true");
    }

    /**
     * Waiters on two conditions of one lock, some in timeouts, cancelled and signalled (one or all)
     * at random: the awaits that returned normally are exactly those the signals counted, every
     * await ended holding the lock, and nothing is left waiting or locked.
     */
    @Test
    void stressConditionSignalsRacingCancellationsAndTimeoutsAreCountedExactly() throws Exception {
        int rounds = Stress.scaled(1_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            Condition other = new Condition(lock);
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                int n = 1 + random.nextInt(5);
                AtomicInteger returned = new AtomicInteger();
                AtomicInteger unlockFailed = new AtomicInteger();
                List<Task<String>> waiters = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    long timeoutNanos = random.nextInt(3) == 0 ? 1 + random.nextInt(2_000_000) : 0;
                    Condition on = random.nextInt(4) == 0 ? other : cond;
                    waiters.add(Coro.spawn(() -> {
                        lock.lock();
                        try {
                            if (timeoutNanos > 0) {
                                Coro.withTimeout(Duration.ofNanos(timeoutNanos), () -> {
                                    on.await();
                                    if (on == cond) {
                                        returned.incrementAndGet();
                                    }
                                    return null;
                                });
                            } else {
                                on.await();
                                if (on == cond) {
                                    returned.incrementAndGet();
                                }
                            }
                            return "returned";
                        } finally {
                            try {
                                lock.unlock();
                            } catch (IllegalStateException e) {
                                unlockFailed.incrementAndGet();
                            }
                        }
                    }));
                }
                until("every waiter waits or has ended", () -> cond.queueLength() + other.queueLength()
                        + waiters.stream().filter(Task::isDone).count() == n);
                int signalled = 0;
                for (int k = 0; k < 3; k++) {
                    int r = random.nextInt(4);
                    if (r == 0) {
                        waiters.get(random.nextInt(n)).cancel();
                    }
                    lock.lock();
                    try {
                        if (r == 1) {
                            signalled += cond.signalAll();
                        } else if (r == 2) {
                            signalled += cond.signal() ? 1 : 0;
                        } else {
                            ChannelTck.spin(random.nextInt(20_000));
                            signalled += cond.signal() ? 1 : 0;
                            waiters.get(random.nextInt(n)).cancel();
                        }
                    } finally {
                        lock.unlock();
                    }
                    if (random.nextBoolean()) {
                        Coro.yieldNow();
                    }
                }
                for (Task<String> w : waiters) {
                    w.cancel();
                }
                for (Task<String> w : waiters) {
                    try {
                        w.join();
                    } catch (CancellationException | io.coro4j.TimeoutExceededException e) {
                        // cancelled or timed out: counted by what its await did
                    }
                }
                assertThat(returned.get()).as("%s: awaits on cond that returned normally", what).isEqualTo(signalled);
                assertThat(unlockFailed.get()).as("%s: awaits that ended without the lock", what).isZero();
                assertThat(lock.isLocked()).as("%s: lock left held", what).isFalse();
                assertThat(cond.queueLength() + other.queueLength() + lock.queueLength()).as("%s: waiting", what).isZero();
            }
            return null;
        });
    }

    // ---- Barrier ----

    @Test
    void barrierReleasesEachRoundOfPartiesAtOnceWithOnePlaceEach() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(3);
            List<String> out = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                List<Task<Integer>> tasks = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    tasks.add(Coro.spawn(barrier::await));
                    int n = i + 1;
                    until("arrival " + n, () -> barrier.waiting() == n);
                }
                Coro.sleep(Duration.ofMillis(10));
                out.add("round " + round + ": two waiting, done " + tasks.get(0).isDone() + " " + tasks.get(1).isDone());
                int last = barrier.await();
                out.add("round " + round + ": places " + tasks.get(0).join() + " " + tasks.get(1).join() + " " + last
                        + ", waiting " + barrier.waiting());
            }
            out.add("one party: " + new Barrier(1).await());
            return out;
        });
        assertThat(log).containsExactly("round 0: two waiting, done false false", "round 0: places 0 1 2, waiting 0",
                "round 1: two waiting, done false false", "round 1: places 0 1 2, waiting 0", "one party: 0");
    }

    /** A waiter cancelled while it waits leaves its round as if it had never come: the round needs another task. */
    @Test
    void barrierWaiterCancelledWhileWaitingDoesNotCountInItsRound() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(3);
            List<String> out = new ArrayList<>();
            Task<Integer> a = Coro.spawn(barrier::await);
            until("a waits", () -> barrier.waiting() == 1);
            Task<Integer> b = Coro.spawn(barrier::await);
            until("b waits", () -> barrier.waiting() == 2);
            a.cancel();
            assertCancelled(a);
            out.add("after a's cancellation: waiting " + barrier.waiting() + ", broken " + barrier.isBroken());
            Task<Integer> c = Coro.spawn(barrier::await);
            until("c waits", () -> barrier.waiting() == 2);
            int mine = barrier.await();
            out.add("places " + b.join() + " " + c.join() + " " + mine + " for b, c and this task");
            return out;
        });
        assertThat(log).containsExactly("after a's cancellation: waiting 1, broken false", "places 0 1 2 for b, c and this task");
    }

    @Test
    void barrierAbortBreaksItUntilResetAndResetEmptiesIt() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(2);
            List<String> out = new ArrayList<>();
            Task<Throwable> waiting = ChannelTck.spawnCatching(barrier::await);
            until("a task waits", () -> barrier.waiting() == 1);
            barrier.abort();
            out.add("waiter: " + waiting.join().getClass().getSimpleName() + ": " + waiting.join().getMessage());
            out.add("broken " + barrier.isBroken() + ", waiting " + barrier.waiting());
            out.add("later await: " + catchThrowable(barrier::await).getMessage());
            barrier.reset();
            out.add("after reset: broken " + barrier.isBroken());
            Task<Throwable> resetWhileWaiting = ChannelTck.spawnCatching(barrier::await);
            until("a task waits", () -> barrier.waiting() == 1);
            barrier.reset();
            out.add("waiter: " + resetWhileWaiting.join().getMessage());
            Task<Integer> next = Coro.spawn(barrier::await);
            until("a task waits", () -> barrier.waiting() == 1);
            int mine = barrier.await();
            out.add("a new round: places " + next.join() + " " + mine + ", " + barrier);
            return out;
        });
        assertThat(log).containsExactly(
                "waiter: BrokenBarrierException: the barrier was aborted while this task waited (2 parties)",
                "broken true, waiting 0",
                "later await: Barrier.await on a broken barrier (2 parties; abort() was called): reset() it, or make a new one",
                "after reset: broken false",
                "waiter: the barrier was reset while this task waited (2 parties)",
                "a new round: places 0 1, Barrier[0 of 2 waiting]");
    }

    @Test
    void barrierMisuseIsRefusedWithAMessage() {
        assertThatThrownBy(() -> new Barrier(0)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("barrier parties 0 should be at least 1");
        Barrier barrier = new Barrier(1);
        assertThatThrownBy(barrier::await).isExactlyInstanceOf(IllegalStateException.class).hasMessage("Barrier.await" + OUTSIDE);
        assertThat(barrier.waiting()).isZero();
    }

    /**
     * The last arrival of a round of two racing the cancellation of the first, a few microseconds
     * apart either way: either the round was released (both have a place, 0 and 1) or the first
     * left it (cancelled) and the second waits alone for the next arrival; never a round released
     * with a task missing, never a task left waiting.
     */
    @Test
    void stressBarrierReleaseRacingAWaitersCancellationLosesNoTask() throws Exception {
        int rounds = Stress.scaled(1_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            Barrier barrier = new Barrier(2);
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                Task<Integer> first = Coro.spawn(barrier::await);
                until("the first waits", () -> barrier.waiting() == 1);
                // The second spins on a carrier of its own (where there is one) until the race lets it
                // arrive: a task started in the race would arrive tens of microseconds later.
                AtomicBoolean go = new AtomicBoolean();
                Task<Integer> second = Coro.spawn(() -> {
                    while (!go.get()) {
                        Thread.onSpinWait();
                    }
                    return barrier.await();
                });
                ChannelTck.race(random, first, () -> {
                    go.set(true);
                    return true;
                });
                Integer firstPlace;
                try {
                    firstPlace = first.join();
                } catch (CancellationException e) {
                    firstPlace = null;
                }
                Integer thirdPlace = null;
                if (firstPlace == null) {
                    until(what + ": the second waits alone", () -> barrier.waiting() == 1);
                    thirdPlace = barrier.await();
                }
                int secondPlace = second.join();
                assertThat(firstPlace == null ? List.of(secondPlace, thirdPlace) : List.of(firstPlace, secondPlace))
                        .as("%s: the places of the round", what).containsExactly(0, 1);
                assertThat(barrier.waiting()).as("%s: waiting", what).isZero();
            }
            return null;
        });
    }

    /**
     * The round's last arrival racing {@code abort()} or {@code reset()} from another task, a few
     * microseconds apart either way: either the round was released (places 0 and 1, whatever the
     * abort or reset did after) or both saw the break (abort: the waiter and the arrival throw; reset:
     * the waiter throws and the arrival starts the next round); never a round half released, never
     * a task left waiting.
     */
    @Test
    void stressBarrierAbortOrResetRacingTheLastArrivalReleasesTheRoundOrBreaksItWhole() throws Exception {
        int rounds = Stress.scaled(300);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        java.util.Map<String, Integer> outcomes = new java.util.concurrent.ConcurrentSkipListMap<>();
        runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            for (int round = 0; round < rounds; round++) {
                boolean abort = round % 2 == 0;
                String what = "seed " + seed + " round " + round;
                Barrier barrier = new Barrier(2);
                Task<Object> first = Coro.spawn(() -> placeOrBroken(barrier));
                until(what + ": the first waits", () -> barrier.waiting() == 1);
                AtomicBoolean started = new AtomicBoolean();
                AtomicBoolean go = new AtomicBoolean();
                Task<Object> second = Coro.spawn(() -> {
                    started.set(true);
                    while (!go.get()) {
                        Thread.onSpinWait();
                    }
                    return placeOrBroken(barrier);
                });
                // Not until(): on threadpool a yield would queue this task behind the spinning one on its carrier.
                while (!started.get()) {
                    Thread.onSpinWait();
                }
                long gap = random.nextInt(20_000);
                if (random.nextBoolean()) {
                    go.set(true);
                    ChannelTck.spin(gap);
                }
                if (abort) {
                    barrier.abort();
                } else {
                    barrier.reset();
                }
                if (!go.get()) {
                    ChannelTck.spin(gap);
                    go.set(true);
                }
                Object firstOutcome = first.join();
                String secondOutcome;
                if (!abort && firstOutcome.equals("broken")) {
                    until(what + ": the second waits alone", () -> barrier.waiting() == 1);
                    int third = barrier.await();
                    secondOutcome = second.join() + " then " + third;
                } else {
                    secondOutcome = String.valueOf(second.join());
                }
                outcomes.merge((abort ? "abort: " : "reset: ") + firstOutcome + " " + secondOutcome + ", broken "
                        + barrier.isBroken() + ", waiting " + barrier.waiting(), 1, Integer::sum);
            }
            return null;
        });
        assertThat(outcomes.keySet()).as("seed %s: %s", seed, outcomes).isSubsetOf(
                "abort: 0 1, broken true, waiting 0", "abort: broken broken, broken true, waiting 0",
                "reset: 0 1, broken false, waiting 0", "reset: broken 0 then 1, broken false, waiting 0");
    }

    private static Object placeOrBroken(Barrier barrier) {
        try {
            return barrier.await();
        } catch (BrokenBarrierException e) {
            return "broken";
        }
    }

    /**
     * Tasks looping over rounds, as many as the parties, on one carrier and on two: each round is
     * released only once all of them have arrived, and hands out each place once.
     */
    @Test
    void stressBarrierTasksLoopingOverRoundsAreReleasedWithTheirWholeRoundOnePlaceEach() throws Exception {
        int parties = 5;
        int rounds = Stress.scaled(300);
        for (int carriers = 1; carriers <= 2; carriers++) {
            scheduler = newScheduler(carriers);
            AtomicIntegerArray arrived = new AtomicIntegerArray(rounds);
            AtomicIntegerArray places = new AtomicIntegerArray(rounds * parties);
            AtomicInteger early = new AtomicInteger();
            int c = carriers;
            runTask(() -> {
                Barrier barrier = new Barrier(parties);
                List<Task<Void>> tasks = new ArrayList<>();
                for (int i = 0; i < parties; i++) {
                    SplittableRandom random = new SplittableRandom(i);
                    tasks.add(spawn(() -> {
                        for (int round = 0; round < rounds; round++) {
                            if (random.nextInt(4) == 0) {
                                Coro.yieldNow();
                            }
                            arrived.incrementAndGet(round);
                            int place = barrier.await();
                            if (arrived.get(round) != parties) {
                                early.incrementAndGet();
                            }
                            places.incrementAndGet(round * parties + place);
                        }
                    }));
                }
                for (Task<Void> t : tasks) {
                    t.join();
                }
                assertThat(barrier.waiting()).as("%s carriers: waiting", c).isZero();
                return null;
            });
            assertThat(early.get()).as("%s carriers: awaits that returned before their round was whole", c).isZero();
            for (int i = 0; i < rounds * parties; i++) {
                assertThat(places.get(i)).as("%s carriers: round %s, place %s", c, i / parties, i % parties).isOne();
            }
        }
    }

    /**
     * More tasks than parties looping over awaits, two in three under a random short timeout,
     * while a plain thread resets the barrier (and now and then aborts it first) at random, on one
     * carrier and on two: however the rounds were cut, each release handed out each place once,
     * so every place was returned as many times as the others; and nobody is left waiting.
     */
    @Test
    void stressBarrierUnderTimeoutsAndResetsFromAPlainThreadHandsOutEachPlaceOncePerRelease() throws Exception {
        int parties = 3;
        long millis = Stress.scaled(300);
        for (int carriers = 1; carriers <= 2; carriers++) {
            scheduler = newScheduler(carriers);
            AtomicIntegerArray counts = new AtomicIntegerArray(parties);
            AtomicBoolean stop = new AtomicBoolean();
            Barrier barrier = new Barrier(parties);
            long seed = System.nanoTime();
            Thread resetter = Thread.ofPlatform().name("barrier-resetter").start(() -> {
                SplittableRandom random = new SplittableRandom(seed);
                while (!stop.get()) {
                    ChannelTck.spin(random.nextInt(300_000));
                    if (random.nextInt(10) == 0) {
                        barrier.abort();
                        ChannelTck.spin(random.nextInt(50_000));
                    }
                    barrier.reset();
                }
            });
            int c = carriers;
            try {
                runTask(() -> {
                    List<Task<Void>> tasks = new ArrayList<>();
                    for (int i = 0; i < 7; i++) {
                        SplittableRandom random = new SplittableRandom(seed + 1 + i);
                        tasks.add(Coro.spawn(() -> {
                            while (!stop.get()) {
                                try {
                                    if (random.nextInt(3) == 0) {
                                        counts.incrementAndGet(barrier.await());
                                    } else {
                                        Coro.withTimeoutOrNull(Duration.ofNanos(random.nextInt(2_000_000)), () -> {
                                            counts.incrementAndGet(barrier.await()); // the place, even if the timeout then expires
                                            return null;
                                        });
                                    }
                                } catch (BrokenBarrierException e) {
                                    // reset or aborted: try again
                                }
                                if (random.nextInt(5) == 0) {
                                    Coro.yieldNow();
                                }
                            }
                            return null;
                        }));
                    }
                    Coro.sleep(Duration.ofMillis(millis));
                    stop.set(true);
                    while (!tasks.stream().allMatch(Task::isDone)) {
                        barrier.abort(); // frees the last round's waiters
                        Coro.sleep(Duration.ofMillis(1));
                    }
                    for (Task<Void> t : tasks) {
                        t.join();
                    }
                    return null;
                });
            } finally {
                stop.set(true);
                resetter.join();
            }
            assertThat(counts.get(0)).as("seed %s, %s carriers: rounds released", seed, c).isPositive();
            for (int place = 1; place < parties; place++) {
                assertThat(counts.get(place)).as("seed %s, %s carriers: place %s returned as often as place 0 (%s)", seed, c, place, counts)
                        .isEqualTo(counts.get(0));
            }
            assertThat(barrier.waiting()).as("%s carriers: waiting", c).isZero();
        }
    }

    /**
     * A task group's failure or a timeout cancels the awaits in it: they leave their round, which
     * then needs other tasks. A zero timeout cancels even the await that would release the round.
     */
    @Test
    void barrierAwaitsInATaskGroupOrUnderATimeoutLeaveTheirRoundWhenCancelled() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(3);
            List<String> out = new ArrayList<>();
            Throwable group = catchThrowable(() -> Coro.taskGroup(g -> {
                g.spawn(barrier::await);
                g.spawn(barrier::await);
                g.spawn(() -> {
                    until("two wait", () -> barrier.waiting() == 2);
                    throw new IOException("sibling failed");
                });
                return null;
            }));
            out.add("group threw " + group.getMessage() + ", waiting " + barrier.waiting());
            Throwable timeout = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(20), barrier::await));
            out.add("withTimeout threw " + timeout.getClass().getSimpleName() + ", waiting " + barrier.waiting());
            out.add("withTimeoutOrNull " + Coro.withTimeoutOrNull(Duration.ofMillis(20), barrier::await) + ", waiting "
                    + barrier.waiting());
            // Places go by arrival, not by spawn: b is spawned once a waits (on two carriers b can
            // arrive first while the carrier that took a stalls).
            Task<Integer> a = Coro.spawn(barrier::await);
            until("a waits", () -> barrier.waiting() == 1);
            Task<Integer> b = Coro.spawn(barrier::await);
            until("two wait", () -> barrier.waiting() == 2);
            Throwable zero = catchThrowable(() -> Coro.withTimeout(Duration.ZERO, barrier::await));
            out.add("the last arrival under a zero timeout threw " + zero.getClass().getSimpleName() + ", waiting "
                    + barrier.waiting());
            int mine = Coro.withTimeout(Duration.ofSeconds(30), barrier::await);
            out.add("places " + a.join() + " " + b.join() + " " + mine + ", " + barrier);
            return out;
        });
        assertThat(log).containsExactly("group threw sibling failed, waiting 0", "withTimeout threw TimeoutExceededException, waiting 0",
                "withTimeoutOrNull null, waiting 0", "the last arrival under a zero timeout threw TimeoutExceededException, waiting 2",
                "places 0 1 2, Barrier[0 of 3 waiting]");
    }

    /**
     * Awaits in generator bodies suspend the tasks that iterate them, round after round; a task
     * cancelled while its generator's body waits leaves the round.
     */
    @Test
    void barrierAwaitInAGeneratorBodySuspendsTheIteratingTask() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(3);
            List<String> out = new ArrayList<>();
            List<Task<List<Integer>>> tasks = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                tasks.add(Coro.spawn(() -> {
                    io.coro4j.Generator<Integer, Void, String> g = io.coro4j.Generator.of(co -> {
                        for (int round = 0; round < 4; round++) {
                            co.yield(barrier.await());
                        }
                        return "done";
                    });
                    List<Integer> got = new ArrayList<>();
                    for (Integer place : g) {
                        got.add(place);
                    }
                    return got;
                }));
            }
            List<List<Integer>> places = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                places.add(new ArrayList<>());
            }
            for (Task<List<Integer>> t : tasks) {
                List<Integer> got = t.join();
                for (int round = 0; round < 4; round++) {
                    places.get(round).add(got.get(round));
                }
            }
            for (List<Integer> round : places) {
                Collections.sort(round);
            }
            out.add("places by round " + places);
            Task<Void> cancelled = spawn(() -> io.coro4j.Generator.<Integer, Void, String>of(co -> {
                co.yield(barrier.await());
                return "done";
            }).next());
            until("the generator body waits", () -> barrier.waiting() == 1);
            cancelled.cancel();
            assertCancelled(cancelled);
            out.add("after the cancellation: waiting " + barrier.waiting());
            return out;
        });
        assertThat(log).containsExactly("places by round [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]]",
                "after the cancellation: waiting 0");
    }

    /** Inside Coro.blocking, whose body runs outside the task, await is refused saying so; the other methods work from any thread. */
    @Test
    void barrierAwaitInsideABlockingCallIsRefusedSayingSo() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(2);
            List<String> out = new ArrayList<>();
            out.add(catchThrowable(() -> Coro.blocking(barrier::await)).getMessage());
            Task<Throwable> waiter = ChannelTck.spawnCatching(barrier::await);
            until("a task waits", () -> barrier.waiting() == 1);
            out.add("waiting, seen from a blocking call: " + Coro.blocking(barrier::waiting));
            Coro.blocking(() -> {
                barrier.reset();
                return null;
            });
            out.add("waiter: " + waiter.join().getMessage());
            out.add(barrier.toString());
            return out;
        });
        String inside = " called inside Coro.blocking(...), whose body runs on a thread of its own, outside the task:"
                + " do task operations before or after the blocking call";
        assertThat(log).containsExactly("Barrier.await" + inside, "waiting, seen from a blocking call: 1",
                "waiter: the barrier was reset while this task waited (2 parties)", "Barrier[0 of 2 waiting]");
    }

    /**
     * On one carrier, a waiter cancelled and then released before it runs again: it returns its
     * place (the round keeps it) and sees the cancellation at its next suspension point.
     */
    @Test
    void barrierWaiterReleasedBeforeItSawItsCancellationReturnsItsPlaceOnOneCarrier() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(2);
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> waiter = spawn(() -> {
                out.add("waiter's place " + barrier.await());
                try {
                    Coro.yieldNow();
                } catch (CancellationException e) {
                    out.add("waiter cancelled at its next suspension point");
                    throw e;
                }
            });
            until("the waiter waits", () -> barrier.waiting() == 1);
            waiter.cancel(); // the waiter cannot run before this task suspends: one carrier
            out.add("last arrival's place " + barrier.await());
            assertCancelled(waiter);
            out.add("waiting " + barrier.waiting());
            return out;
        });
        assertThat(log).containsExactly("last arrival's place 1", "waiter's place 0", "waiter cancelled at its next suspension point",
                "waiting 0");
    }

    /** A task's interrupt status neither wakes nor cancels its await, and survives it. */
    @Test
    void barrierWaiterWithItsInterruptStatusSetWaitsAsAnyOther() throws Exception {
        List<String> log = runTask(() -> {
            Barrier barrier = new Barrier(2);
            List<String> out = new ArrayList<>();
            Task<String> interrupted = Coro.spawn(() -> {
                Thread.currentThread().interrupt();
                int place = barrier.await();
                return "place " + place + ", interrupted " + Thread.currentThread().isInterrupted();
            });
            until("the interrupted task waits", () -> barrier.waiting() == 1);
            Coro.sleep(Duration.ofMillis(20));
            out.add("interrupted waiter done " + interrupted.isDone());
            int mine = barrier.await();
            out.add("interrupted waiter: " + interrupted.join() + "; mine " + mine + ", waiting " + barrier.waiting());
            return out;
        });
        assertThat(log).containsExactly("interrupted waiter done false", "interrupted waiter: place 0, interrupted true; mine 1, waiting 0");
    }

    // ---- Event ----

    @Test
    void eventAwaitReturnsAtOnceWhenSetAndSuspendsUntilSetOtherwise() throws Exception {
        runTask(() -> {
            Event e = new Event();
            assertThat(e.isSet()).isFalse();
            Task<Void> waiter = spawn(e::await);
            until("the waiter waits", () -> e.queueLength() == 1);
            Coro.sleep(Duration.ofMillis(20));
            assertThat(waiter.isDone()).isFalse();
            e.set();
            waiter.join();
            assertThat(e.isSet()).isTrue();
            e.await();
            e.set();
            assertThat(e.isSet()).as("set is idempotent").isTrue();
            return null;
        });
    }

    @Test
    void eventSetWakesEveryWaiterEvenIfClearedAtOnce() throws Exception {
        runTask(() -> {
            Event e = new Event();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                waiters.add(spawn(e::await));
            }
            until("five waiters wait", () -> e.queueLength() == 5);
            e.set();
            e.clear();
            for (Task<Void> w : waiters) {
                w.join();
            }
            assertThat(e.isSet()).isFalse();
            Task<Void> late = spawn(e::await);
            until("a waiter after clear waits", () -> e.queueLength() == 1);
            assertThat(late.isDone()).isFalse();
            e.set();
            late.join();
            return null;
        });
    }

    /**
     * The waiters a {@code set()} releases resume in the order they began to wait (asyncio's
     * {@code Event} wakes its waiters first come, first served; the package promises FIFO
     * waiters). On one carrier the resumption order is the wake-up order.
     */
    @Test
    void eventSetResumesItsWaitersInArrivalOrderOnOneCarrier() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        runTask(() -> {
            Event e = new Event();
            List<Integer> order = new CopyOnWriteArrayList<>();
            List<Task<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                int id = i;
                waiters.add(spawn(() -> {
                    e.await();
                    order.add(id);
                }));
                until("waiter " + id + " waits", () -> e.queueLength() == id + 1);
            }
            e.set();
            for (Task<Void> w : waiters) {
                w.join();
            }
            assertThat(order).as("the order in which the waiters resumed").containsExactly(0, 1, 2, 3, 4);
            return null;
        });
    }

    @Test
    void eventSetFromAPlainThreadWakesATask() throws Exception {
        Event e = new Event();
        Event started = new Event();
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                runTask(() -> {
                    Task<Void> w = spawn(e::await);
                    until("the waiter waits", () -> e.queueLength() == 1);
                    started.set();
                    w.join();
                    return null;
                });
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!started.isSet() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(started.isSet()).isTrue();
        e.set();
        await(done);
    }

    /**
     * An await racing a set from a plain thread returns, whichever wins. The window that matters
     * is an await that read "not set" without the lock while the set ran to its end: it must look
     * again under the lock before it queues, or it waits for a set that has already happened.
     * Both sides start together (the setter taking the event is the signal) and then wait a
     * random few spins each, so that the rounds sweep across that window of a few nanoseconds.
     */
    @Test
    void stressEventAwaitRacingASetFromAPlainThreadAlwaysReturns() throws Exception {
        int rounds = Stress.scaled(5_000);
        long seed = System.nanoTime();
        AtomicReference<Event> next = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread setter = Thread.ofPlatform().daemon().name("tck-setter").start(() -> {
            SplittableRandom random = new SplittableRandom(seed);
            while (true) {
                Event e;
                for (int i = 0; (e = next.getAndSet(null)) == null; i++) {
                    if (stop.get()) {
                        return;
                    }
                    spinOrYield(i);
                }
                spins(random.nextInt(SPIN_SWEEP));
                e.set();
            }
        });
        try {
            runTask(() -> {
                SplittableRandom random = new SplittableRandom(~seed);
                for (int round = 0; round < rounds; round++) {
                    Event e = new Event();
                    // A lost set leaves the await suspended for good: the timeout cancels it, so
                    // that the test fails at once and the scheduler still terminates.
                    Boolean returned = Coro.withTimeoutOrNull(Duration.ofSeconds(5), () -> {
                        next.set(e);
                        for (int i = 0; next.get() != null; i++) {
                            spinOrYield(i);
                        }
                        spins(random.nextInt(SPIN_SWEEP));
                        e.await();
                        return true;
                    });
                    assertThat(returned).as("seed %d round %d: the await returned after the set that raced it", seed, round)
                            .isNotNull();
                }
                return null;
            });
        } finally {
            stop.set(true);
            setter.join();
        }
    }

    /**
     * One turn of a wait for the other side of a race to take its turn: a spin, or, after a while,
     * the processor given up. Each side waits for the other in turn; on one processor, a side that
     * only spins keeps the other from running until the OS takes the processor from it, and 5,000
     * rounds took 40-50 s pinned to one core and more than the 60 s allowed with two busy loops
     * beside them (0.06 s on two idle cores).
     */
    private static void spinOrYield(int turn) {
        if (turn < 1_000) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    /** How many spins each side of a race waits at most before acting. */
    private static final int SPIN_SWEEP = 64;

    private static void spins(int n) {
        for (int i = 0; i < n; i++) {
            Thread.onSpinWait();
        }
    }

    @Test
    void eventCancellingAWaitingAwaitThrowsAndRunsFinally() throws Exception {
        runTask(() -> {
            Event e = new Event();
            AtomicBoolean finallyRan = new AtomicBoolean();
            Task<Void> victim = spawn(() -> {
                try {
                    e.await();
                } finally {
                    finallyRan.set(true);
                }
            });
            until("the waiter waits", () -> e.queueLength() == 1);
            victim.cancel();
            assertCancelled(victim);
            assertThat(finallyRan).isTrue();
            assertThat(e.queueLength()).isZero();
            assertThat(e.isSet()).isFalse();
            return null;
        });
    }

    @Test
    void eventAwaitOutsideATaskIsRejected() {
        Event e = new Event();
        e.set();
        assertThatThrownBy(e::await).isInstanceOf(IllegalStateException.class).hasMessage("Event.await" + OUTSIDE);
    }

    /** Waiters cancelled at random moments while the event is set and cleared: every survivor returns, nobody is left queued. */
    @Test
    void stressEventSetClearRacingCancellation() throws Exception {
        int rounds = Stress.scaled(200);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds)), () -> {
            for (int round = 0; round < rounds; round++) {
                Event e = new Event();
                List<Task<Void>> tasks = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    tasks.add(spawn(() -> {
                        for (int k = 0; k < 20; k++) {
                            e.await();
                            Coro.yieldNow();
                        }
                    }));
                }
                SplittableRandom togglerRandom = random.split();
                Task<Void> toggler = spawn(() -> {
                    while (true) {
                        e.set();
                        suspendBriefly(togglerRandom, 2);
                        e.clear();
                        Coro.sleep(Duration.ofNanos(1_000));
                    }
                });
                cancelSomeAtRandomMoments(tasks, random);
                for (Task<Void> t : tasks) {
                    try {
                        t.join();
                    } catch (CancellationException ex) {
                        // a victim
                    }
                }
                toggler.cancel();
                assertCancelled(toggler);
                assertThat(e.queueLength()).as("seed %d round %d: waiters left", seed, round).isZero();
            }
            return null;
        });
    }

    /**
     * A waiting acquire, lock and await, each cancelled at nearly the moment the release, unlock
     * or set that would complete it happens (in either order, a few microseconds apart): the
     * operation either returned normally, holding the permit or lock, or threw without it, and no
     * permit, lock or waiter is left behind either way.
     */
    @Test
    void stressHandOverRacingCancellationLeaksNothing() throws Exception {
        int rounds = Stress.scaled(3_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;

                Semaphore s = new Semaphore(1);
                assertThat(s.tryAcquire()).isTrue();
                AtomicBoolean acquired = new AtomicBoolean();
                Task<Void> acquirer = spawn(() -> {
                    s.acquire();
                    acquired.set(true);
                    s.release();
                });
                until("the acquirer waits", () -> s.queueLength() == 1);
                ChannelTck.race(random, acquirer, () -> {
                    s.release();
                    return true;
                });
                joinAll(List.of(acquirer));
                assertThat(s.availablePermits()).as("%s: permits (acquired: %s)", what, acquired.get()).isOne();
                assertThat(s.queueLength()).as("%s: acquirers left", what).isZero();

                Lock lock = new Lock();
                lock.lock();
                AtomicBoolean locked = new AtomicBoolean();
                Task<Void> locker = spawn(() -> {
                    lock.lock();
                    locked.set(true);
                    lock.unlock();
                });
                until("the locker waits", () -> lock.queueLength() == 1);
                ChannelTck.race(random, locker, () -> {
                    lock.unlock();
                    return true;
                });
                joinAll(List.of(locker));
                assertThat(lock.isLocked()).as("%s: lock left held (locked: %s)", what, locked.get()).isFalse();
                assertThat(lock.queueLength()).as("%s: lockers left", what).isZero();

                Event e = new Event();
                Task<Void> awaiter = spawn(e::await);
                until("the awaiter waits", () -> e.queueLength() == 1);
                ChannelTck.race(random, awaiter, () -> {
                    e.set();
                    return true;
                });
                joinAll(List.of(awaiter));
                assertThat(e.queueLength()).as("%s: awaiters left", what).isZero();
            }
            return null;
        });
    }

    // ---- shared stress plumbing ----

    private static void cancelSomeAtRandomMoments(List<Task<Void>> tasks, SplittableRandom random) {
        List<Task<Void>> victims = new ArrayList<>(tasks);
        Collections.shuffle(victims, new Random(random.nextLong()));
        int cancels = random.nextInt(victims.size() + 1);
        for (int i = 0; i < cancels; i++) {
            if (random.nextInt(2) == 0) {
                Coro.sleep(Duration.ofNanos(random.nextInt(1_000_000)));
            } else {
                for (int k = random.nextInt(30); k > 0; k--) {
                    Coro.yieldNow();
                }
            }
            victims.get(i).cancel();
        }
    }

    private static void joinAll(List<Task<Void>> tasks) {
        for (Task<Void> t : tasks) {
            try {
                t.join();
            } catch (CancellationException e) {
                // a victim
            }
        }
    }
}
