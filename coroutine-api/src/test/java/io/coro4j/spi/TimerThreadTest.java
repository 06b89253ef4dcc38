package io.coro4j.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TimerThread}: order, never early, cancellation that unlinks, many timers from many
 * threads, the level boundaries of the wheel, and termination. Nothing here asserts how late a
 * timer may be (a busy machine makes any bound flaky), only that it fires within a generous limit.
 */
class TimerThreadTest {

    private static final long LIMIT_SECONDS = 30;
    private final List<TimerThread> timers = new ArrayList<>();

    private TimerThread timer(String name) {
        TimerThread t = new TimerThread(name, true);
        timers.add(t);
        return t;
    }

    @AfterEach
    void terminate() {
        timers.forEach(TimerThread::terminate);
    }

    private static long ms(long millis) {
        return TimeUnit.MILLISECONDS.toNanos(millis);
    }

    @Test
    void timersNeverFireEarlyAndFireInDeadlineOrder() throws Exception {
        TimerThread timer = timer("order");
        int n = 60;
        // Delays 3 ms apart (more than two ticks) in shuffled order, scheduled one after the other.
        List<Integer> delays = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            delays.add(i * 3);
        }
        Collections.shuffle(delays, new Random(42));
        long[] delayMillis = delays.stream().mapToLong(Integer::longValue).toArray();
        List<Integer> fired = scheduleAllAndCheckNoneEarly(timer, delayMillis, TimeUnit.MILLISECONDS);
        // A timer scheduled before another, with a delay at least two ticks shorter, has a
        // deadline in an earlier tick, so it must fire first.
        assertThat(fired).hasSize(n).doesNotHaveDuplicates();
        for (int a = 0; a < n; a++) {
            for (int b = a + 1; b < n; b++) {
                if (delays.get(a) < delays.get(b)) {
                    assertThat(fired.indexOf(a)).as("timer %d (%d ms) before timer %d (%d ms)", a, delays.get(a),
                            b, delays.get(b)).isLessThan(fired.indexOf(b));
                }
            }
        }
    }

    /**
     * Timers due in one tick, scheduled in deadline order (as tasks that sleep the same time one
     * after the other schedule theirs), fire in that order, as asyncio's loop and the JDK's timer
     * run them, however the thread took them in: here each is scheduled once the thread has linked
     * the one before (none arrive together), with deadlines 80 us apart in one tick about 50 ms ahead.
     * Before, a tick's slot was a stack: they fired newest first, so that on a one-carrier
     * scheduler tasks that slept the same time one after the other woke in reverse order. A round
     * that could not link all ten before their tick (a stalled machine) checks nothing; five
     * rounds, at least one of which must check.
     */
    @Test
    void timersOfOneTickScheduledInDeadlineOrderFireInThatOrderHoweverTheyWereTakenIn() throws Exception {
        int n = 10;
        int checked = 0;
        for (int round = 0; round < 5; round++) {
            long origin = System.nanoTime();
            TimerThread timer = new TimerThread("one-tick-" + round, true, origin);
            timers.add(timer);
            CountDownLatch started = new CountDownLatch(1);
            timer.schedule(started::countDown, 0, TimeUnit.NANOSECONDS); // the thread runs, warm
            assertThat(started.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            // In the first block of 1024 ticks, so linked in the near level.
            long tickStart = System.nanoTime() + 50 * TimerThread.TICK_NANOS;
            tickStart = origin + ((tickStart - origin) >> 20 << 20);
            ConcurrentLinkedQueue<Integer> fired = new ConcurrentLinkedQueue<>();
            CountDownLatch all = new CountDownLatch(n);
            long[] earliest = new long[n];
            long[] latest = new long[n];
            boolean intime = true;
            for (int i = 0; i < n && intime; i++) {
                int k = i;
                long deadline = tickStart - TimeUnit.MICROSECONDS.toNanos(900) + k * TimeUnit.MICROSECONDS.toNanos(80);
                scheduleAt(timer, deadline, () -> {
                    fired.add(k);
                    all.countDown();
                }, earliest, latest, k);
                while (timer.linkedTimers() != k + 1 && intime) {
                    intime = System.nanoTime() - (tickStart - 10 * TimerThread.TICK_NANOS) < 0;
                    Thread.onSpinWait();
                }
            }
            if (!intime) {
                continue;
            }
            assertThat(all.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            assertThat(fired).as("round %d", round).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            assertInDeadlineOrder(new ArrayList<>(fired), earliest, latest);
            checked++;
        }
        assertThat(checked).as("rounds that linked every timer in time").isPositive();
    }

    /**
     * Timers of equal delay fire in the order they were scheduled, also when the thread took them
     * in batch after batch (a zero-delay timer after each group of 20 wakes it, and is waited for),
     * several batches to a tick; those cancelled once linked (the first, the last of each group,
     * often the last of its slot then, and every seventh) do not fire. Before, each batch came out reversed against
     * those before it in its tick.
     */
    @Test
    void timersOfEqualDelayFireInTheOrderScheduledAcrossBatchesAndCancelledOnesDoNot() throws Exception {
        TimerThread timer = timer("batches");
        int n = 600;
        ConcurrentLinkedQueue<Integer> fired = new ConcurrentLinkedQueue<>();
        List<Timeout> handles = new ArrayList<>();
        boolean[] cancelled = new boolean[n];
        for (int k = 0; k < n; k++) {
            int id = k;
            handles.add(timer.schedule(() -> fired.add(id), 100, TimeUnit.MILLISECONDS));
            if (k % 20 == 19 || k == n - 1) {
                CountDownLatch takenIn = new CountDownLatch(1);
                timer.schedule(takenIn::countDown, 0, TimeUnit.NANOSECONDS);
                assertThat(takenIn.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
                // Linked now: cancelling unlinks them (a slot's last node among them, often).
                for (int c = k - k % 20; c <= k; c++) {
                    if (c % 7 == 3 || c % 20 == 19 || c == 0) {
                        cancelled[c] = handles.get(c).cancel(); // false only if it fired already
                    }
                }
            }
        }
        List<Integer> expected = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            if (!cancelled[k]) {
                expected.add(k);
            }
        }
        CountDownLatch last = new CountDownLatch(1);
        timer.schedule(last::countDown, 150, TimeUnit.MILLISECONDS);
        assertThat(last.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(new ArrayList<>(fired)).isEqualTo(expected);
    }

    /**
     * Schedules {@code action} for about {@code deadline}: the timer reads the clock itself, so its
     * deadline lies between {@code earliest[k]} and {@code latest[k]}, recorded here.
     */
    private static Timeout scheduleAt(TimerThread timer, long deadline, Runnable action, long[] earliest,
                                      long[] latest, int k) {
        long before = System.nanoTime();
        Timeout t = timer.schedule(action, Math.max(0, deadline - before), TimeUnit.NANOSECONDS);
        earliest[k] = deadline;
        latest[k] = deadline + (System.nanoTime() - before);
        return t;
    }

    /**
     * The delay until {@code deadline}, or 0 once it has passed: a test thread or timer action held
     * up by a loaded machine past a deadline would otherwise pass a negative delay, which
     * {@code schedule} refuses, and the timer it meant to schedule would never fire.
     */
    private static long until(long deadline) {
        return Math.max(0, deadline - System.nanoTime());
    }

    /** Fails if a timer fired after one whose deadline was surely later than its own. */
    private static void assertInDeadlineOrder(List<Integer> fired, long[] earliest, long[] latest) {
        for (int i = 0; i < fired.size(); i++) {
            for (int j = i + 1; j < fired.size(); j++) {
                int a = fired.get(i);
                int b = fired.get(j);
                assertThat(latest[b] - earliest[a]).as("timer %d fired after timer %d, which was due later", b, a)
                        .isGreaterThanOrEqualTo(0);
            }
        }
    }

    @Test
    void aZeroDelayRunsPromptlyAndAThrowingActionDoesNotStopTheThread() throws Exception {
        TimerThread timer = timer("zero");
        CountDownLatch ran = new CountDownLatch(2);
        timer.schedule(() -> {
            ran.countDown();
            throw new IllegalStateException("expected by the test");
        }, 0, TimeUnit.NANOSECONDS);
        timer.schedule(ran::countDown, 1, TimeUnit.MILLISECONDS);
        assertThat(ran.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void cancelPreventsTheActionOnceAndReportsIt() throws Exception {
        TimerThread timer = timer("cancel");
        int n = 200;
        AtomicIntegerArray ran = new AtomicIntegerArray(n);
        List<Timeout> timeouts = new ArrayList<>();
        // The timers are due in 20 ms, which a test thread descheduled on a loaded machine can
        // outlast before it cancels them. A first action, due ten ticks before any of them (so
        // it runs first), holds the timer thread until the cancels are done: no timer can fire
        // before its cancel, however slow this thread is. On an idle machine the timers are
        // linked in the wheel by then, as they were without it.
        CountDownLatch cancelsDone = new CountDownLatch(1);
        timer.schedule(() -> {
            try {
                cancelsDone.await(LIMIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, 10, TimeUnit.MILLISECONDS);
        try {
            for (int i = 0; i < n; i++) {
                int k = i;
                timeouts.add(timer.schedule(() -> ran.incrementAndGet(k), 20 + i % 7, TimeUnit.MILLISECONDS));
            }
            for (int i = 0; i < n; i += 2) {
                assertThat(timeouts.get(i).cancel()).isTrue();
                assertThat(timeouts.get(i).cancel()).isFalse();
            }
        } finally {
            cancelsDone.countDown();
        }
        CountDownLatch sentinel = new CountDownLatch(1);
        timer.schedule(sentinel::countDown, 60, TimeUnit.MILLISECONDS); // a later tick than every other
        assertThat(sentinel.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < n; i++) {
            assertThat(ran.get(i)).as("runs of timer %d", i).isEqualTo(i % 2 == 0 ? 0 : 1);
        }
        for (int i = 1; i < n; i += 2) {
            assertThat(timeouts.get(i).cancel()).as("cancel after firing").isFalse();
        }
    }

    /** A million cancelled long timeouts do not pile up: they are unlinked, not kept until their deadline. */
    @Test
    void aMillionCancelledTimeoutsAreUnlinked() throws Exception {
        TimerThread timer = timer("cancelled");
        Runnable never = () -> {
            throw new AssertionError("a cancelled timer ran");
        };
        long[] delays = {ms(30_000), TimeUnit.MINUTES.toNanos(10), TimeUnit.HOURS.toNanos(5), Long.MAX_VALUE};
        for (int i = 0; i < 1_000_000; i++) {
            Timeout t = timer.schedule(never, delays[i & 3], TimeUnit.NANOSECONDS);
            assertThat(t.cancel()).isTrue();
        }
        CountDownLatch sentinel = new CountDownLatch(1);
        Timeout kept = timer.schedule(() -> { }, 1, TimeUnit.HOURS);
        timer.schedule(sentinel::countDown, 5, TimeUnit.MILLISECONDS);
        assertThat(sentinel.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
        while (timer.linkedTimers() != 1 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(timer.linkedTimers()).as("timers still linked (the kept one only)").isEqualTo(1);
        assertThat(kept.cancel()).isTrue();
    }

    @Test
    void manyTimersFromManyThreadsEachFireExactlyOnce() throws Exception {
        TimerThread timer = timer("many");
        int threads = 4;
        int perThread = 50_000;
        AtomicIntegerArray runs = new AtomicIntegerArray(threads * perThread);
        AtomicInteger early = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(threads * perThread);
        List<Thread> producers = new ArrayList<>();
        for (int p = 0; p < threads; p++) {
            int base = p * perThread;
            producers.add(Thread.ofPlatform().start(() -> {
                Random random = new Random(base);
                for (int i = 0; i < perThread; i++) {
                    int k = base + i;
                    long delay = random.nextInt((int) ms(40));
                    long at = System.nanoTime();
                    timer.schedule(() -> {
                        if (System.nanoTime() - at < delay) {
                            early.incrementAndGet();
                        }
                        runs.incrementAndGet(k);
                        all.countDown();
                    }, delay, TimeUnit.NANOSECONDS);
                }
            }));
        }
        for (Thread t : producers) {
            t.join();
        }
        assertThat(all.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(early.get()).isZero();
        for (int i = 0; i < runs.length(); i++) {
            assertThat(runs.get(i)).as("runs of timer %d", i).isEqualTo(1);
        }
        assertThat(timer.linkedTimers()).isZero();
    }

    /**
     * Tick 0 is put just before a super-block boundary (and so a block boundary), so that timers
     * that start in the far and mid levels are moved down and fire, in order and never early.
     */
    @Test
    void timersCrossingTheLevelBoundariesFireInOrder() throws Exception {
        long superBlock = TimerThread.TICK_NANOS << 20;
        TimerThread timer = new TimerThread("levels", true, System.nanoTime() - superBlock + ms(30));
        timers.add(timer);
        long[] delays = {ms(5), ms(25), ms(45), ms(70), ms(1_200)};
        assertThat(scheduleAllAndCheckNoneEarly(timer, delays, TimeUnit.NANOSECONDS)).containsExactly(0, 1, 2, 3, 4);
    }

    /**
     * An action schedules a timer due later in the tick the thread is running: that tick has been
     * run, so the new timer belongs to the next one and must not be taken for due at once. Twenty
     * rounds, each in a tick of its own; a round whose action runs a tick late checks nothing.
     */
    @Test
    void aTimerDueLaterInTheTickBeingRunDoesNotFireEarly() throws Exception {
        long origin = System.nanoTime();
        TimerThread timer = new TimerThread("same-tick", true, origin);
        timers.add(timer);
        int rounds = 20;
        AtomicInteger early = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(rounds);
        for (int i = 0; i < rounds; i++) {
            timer.schedule(() -> {
                long now = System.nanoTime();
                long tickEnd = origin + ((now - origin) / TimerThread.TICK_NANOS + 1) * TimerThread.TICK_NANOS;
                long delay = (tickEnd - now) / 2;
                timer.schedule(() -> {
                    if (System.nanoTime() - now < delay) {
                        early.incrementAndGet();
                    }
                    all.countDown();
                }, delay, TimeUnit.NANOSECONDS);
            }, 2 + 3L * i, TimeUnit.MILLISECONDS);
        }
        assertThat(all.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(early.get()).as("timers that fired before their delay had passed").isZero();
    }

    /**
     * Zero-delay timers scheduled while an action holds the timer thread for several ticks are
     * overdue once it returns, and all of them fire then, before a timer due in a later tick.
     * Scheduled every 20 us through the hold and on for a few ticks after it, some are due in the
     * tick just before the one the thread has reached when it takes them in: a deadline that has
     * only just passed (a wheel that linked those in that past tick's slot ran them about a second
     * late). A zero-delay marker scheduled after them has fired once they have all been taken in;
     * a timer due 10 ms after that must fire after every one of them: checked by order alone, no
     * bound on lateness. Twenty rounds, each on a timer of its own so that its wheel holds nothing
     * else (a round hits that tick in about four runs in ten).
     */
    @Test
    void timersThatBecameOverdueWhileAnActionHeldTheThreadFireBeforeALaterOne() throws Exception {
        for (int round = 0; round < 20; round++) {
            TimerThread timer = timer("overdue-" + round);
            CountDownLatch holding = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            timer.schedule(() -> {
                holding.countDown();
                try {
                    release.await(LIMIT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, 0, TimeUnit.NANOSECONDS);
            assertThat(holding.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
            int overdue;
            try {
                overdue = scheduleZeroDelayTimersFor(timer, ms(6), order, 0); // held for six ticks
            } finally {
                release.countDown();
            }
            overdue = scheduleZeroDelayTimersFor(timer, ms(4), order, overdue);
            CountDownLatch marker = new CountDownLatch(1);
            timer.schedule(marker::countDown, 0, TimeUnit.NANOSECONDS);
            assertThat(marker.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            CountDownLatch later = new CountDownLatch(1);
            timer.schedule(() -> {
                order.add(-1);
                later.countDown();
            }, 10, TimeUnit.MILLISECONDS);
            assertThat(later.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            List<Integer> fired = new ArrayList<>(order);
            assertThat(fired.indexOf(-1)).as("round %d: zero-delay timers that fired before the later one, of %d",
                    round, overdue).isEqualTo(overdue);
        }
    }

    /** Schedules a zero-delay timer that adds its number to {@code order} every 20 us for {@code nanos}; the next number. */
    private static int scheduleZeroDelayTimersFor(TimerThread timer, long nanos, ConcurrentLinkedQueue<Integer> order,
                                                  int first) {
        int next = first;
        long start = System.nanoTime();
        do {
            int k = next++;
            timer.schedule(() -> order.add(k), 0, TimeUnit.NANOSECONDS);
            long at = System.nanoTime();
            while (System.nanoTime() - at < 20_000) {
                Thread.onSpinWait();
            }
        } while (System.nanoTime() - start < nanos);
        return next;
    }

    /**
     * Schedules one timer per delay, one after the other, waits until all have fired, checks that
     * none fired before its delay had passed, and returns their indices in the order they fired.
     */
    private static List<Integer> scheduleAllAndCheckNoneEarly(TimerThread timer, long[] delays, TimeUnit unit)
            throws InterruptedException {
        int n = delays.length;
        long[] scheduledAt = new long[n];
        AtomicLongArray firedAt = new AtomicLongArray(n);
        ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
        CountDownLatch all = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            int k = i;
            scheduledAt[k] = System.nanoTime();
            timer.schedule(() -> {
                firedAt.set(k, System.nanoTime());
                order.add(k);
                all.countDown();
            }, delays[k], unit);
        }
        assertThat(all.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < n; i++) {
            assertThat(firedAt.get(i) - scheduledAt[i]).as("timer %d fired early", i)
                    .isGreaterThanOrEqualTo(unit.toNanos(delays[i]));
        }
        return new ArrayList<>(order);
    }

    @Test
    void negativeDelaysAreRejected() {
        TimerThread timer = timer("negative");
        assertThatThrownBy(() -> timer.schedule(() -> { }, -1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("delay -1 MILLISECONDS should not be negative");
    }

    @Test
    void afterTerminateTimersAreRefusedPendingOnesDroppedAndTheThreadEnds() throws Exception {
        TimerThread timer = timer("ended");
        AtomicInteger ran = new AtomicInteger();
        CountDownLatch first = new CountDownLatch(1);
        timer.schedule(first::countDown, 0, TimeUnit.MILLISECONDS);
        assertThat(first.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        timer.schedule(ran::incrementAndGet, 50, TimeUnit.MILLISECONDS);
        timer.terminate();
        assertThat(timer.awaitEnd(TimeUnit.SECONDS.toNanos(LIMIT_SECONDS))).isTrue();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("coro4j-ended-timer"));
        assertThatThrownBy(() -> timer.schedule(() -> { }, 1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessage("scheduler \"ended\" has terminated: it runs no timers");
        Thread.sleep(100);
        assertThat(ran.get()).isZero();
        timer.terminate(); // idempotent
    }

    @Test
    void terminateDropsTheRestOfTheTickItWasCalledIn() throws Exception {
        // Fifty timers of one tick. Once from an action of that tick (terminate() then returns at
        // once), once from outside while an action of that tick is slow.
        for (boolean fromAction : new boolean[] {true, false}) {
            String name = fromAction ? "ends-itself" : "ends-mid-tick";
            TimerThread timer = timer(name);
            AtomicInteger first = new AtomicInteger();
            AtomicInteger ranAfter = new AtomicInteger();
            CountDownLatch started = new CountDownLatch(1);
            AtomicBoolean terminating = new AtomicBoolean();
            for (int i = 0; i < 50; i++) {
                timer.schedule(() -> {
                    if (first.getAndIncrement() == 0) {
                        started.countDown();
                        if (fromAction) {
                            terminating.set(true);
                            timer.terminate();
                        } else {
                            sleepQuietly(200);
                        }
                    } else if (terminating.get()) {
                        ranAfter.incrementAndGet();
                    }
                }, 30, TimeUnit.MILLISECONDS);
            }
            assertThat(started.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            if (!fromAction) {
                terminating.set(true);
                timer.terminate();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
            while (Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("coro4j-" + name + "-timer"))
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(ranAfter.get()).as("%s: actions run after terminate()", name).isZero();
        }
    }

    /**
     * An action that leaves the timer thread interrupted (the usual "catch InterruptedException,
     * re-interrupt" idiom) must not make it spin: an interrupt is no wake-up for the timer, as it
     * is none for an idle carrier.
     */
    @Test
    void anActionThatInterruptsTheTimerThreadDoesNotMakeItSpin() throws Exception {
        TimerThread timer = timer("interrupted");
        CountDownLatch ran = new CountDownLatch(2);
        timer.schedule(() -> {
            Thread.currentThread().interrupt();
            ran.countDown();
        }, 0, TimeUnit.MILLISECONDS);
        timer.schedule(ran::countDown, 5, TimeUnit.MILLISECONDS);
        assertThat(ran.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
        Thread thread = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("coro4j-interrupted-timer")).findFirst().orElseThrow();
        // With no timer pending the thread parks until a producer wakes it: seen running in at most
        // a few of 200 samples (a spinning one is seen running in most of them).
        Thread.sleep(20);
        int running = 0;
        for (int i = 0; i < 200; i++) {
            if (thread.getState() == Thread.State.RUNNABLE) {
                running++;
            }
            Thread.sleep(1);
        }
        assertThat(running).as("samples of 200 in which the idle timer thread was running").isLessThanOrEqualTo(10);
        CountDownLatch later = new CountDownLatch(1);
        timer.schedule(later::countDown, 1, TimeUnit.MILLISECONDS);
        assertThat(later.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void terminatingATimerThatNeverStartedStartsNothing() {
        TimerThread timer = timer("never-started");
        timer.terminate();
        assertThatThrownBy(() -> timer.schedule(() -> { }, 1, TimeUnit.MILLISECONDS))
                .isExactlyInstanceOf(RejectedExecutionException.class);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("coro4j-never-started-timer"));
    }

    /** A timer never fires early: a delay of ten years is kept (delays are capped only at about 73 years). */
    @Test
    void aTenYearDelayIsNotCutShort() throws Exception {
        TimerThread t = timer("ten-years");
        long before = System.nanoTime();
        Timeout node = t.schedule(() -> { }, 3_650, TimeUnit.DAYS);
        java.lang.reflect.Field deadline = node.getClass().getDeclaredField("deadline");
        deadline.setAccessible(true);
        long days = TimeUnit.NANOSECONDS.toDays((long) deadline.get(node) - before);
        node.cancel();
        assertThat(days).as("days until the 3,650-day timer is due").isGreaterThanOrEqualTo(3_650);
        assertThat(TimeUnit.NANOSECONDS.toDays(TimerThread.MAX_DELAY_NANOS) / 365).isEqualTo(73);
    }

    /**
     * Two timers of one tick, 5 ticks into a block: A is scheduled first, while the thread is in
     * the block before (so A waits in the mid level), B by an action run in that block's last
     * tick (the thread has run that tick and not yet the block's first: B is placed straight in
     * the near level). A was scheduled first and must fire first, as the class comment promises
     * ("the later scheduled fires later"). Twenty rounds, each on a timer of its own whose block
     * boundary is 40 ms ahead; a round whose action runs a tick late (after the boundary) checks
     * nothing, and at least one round must check.
     */
    @Test
    void aTimerScheduledInTheLastTickOfABlockFiresAfterAnOlderOneOfItsTickWaitingInTheMidLevel()
            throws Exception {
        long tick = TimerThread.TICK_NANOS;
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (int round = 0; round < 20; round++) {
            long boundary = System.nanoTime() + ms(40); // the start of tick 1024, the second block
            long origin = boundary - 1024 * tick;
            TimerThread timer = new TimerThread("mid-then-near-" + round, true, origin);
            timers.add(timer);
            timer.schedule(() -> { }, 0, TimeUnit.NANOSECONDS); // started: A's deadline is not pushed off by the start
            long due = origin + 1029 * tick - tick / 2; // in tick 1029
            ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
            CountDownLatch both = new CountDownLatch(2);
            AtomicBoolean inTime = new AtomicBoolean();
            timer.schedule(() -> {
                order.add("A");
                both.countDown();
            }, until(due), TimeUnit.NANOSECONDS);
            long last = origin + 1023 * tick - tick / 2; // in tick 1023, the first block's last
            timer.schedule(() -> {
                inTime.set(System.nanoTime() < boundary);
                timer.schedule(() -> {
                    order.add("B");
                    both.countDown();
                }, until(due), TimeUnit.NANOSECONDS);
            }, until(last), TimeUnit.NANOSECONDS);
            assertThat(both.await(LIMIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            if (inTime.get()) {
                checked++;
                if (!List.copyOf(order).equals(List.of("A", "B"))) {
                    wrong.add("round " + round + ": " + order);
                }
            }
        }
        assertThat(checked).as("rounds whose action ran in time").isPositive();
        assertThat(wrong).as("rounds of %d checked where B fired first", checked).isEmpty();
    }
}
