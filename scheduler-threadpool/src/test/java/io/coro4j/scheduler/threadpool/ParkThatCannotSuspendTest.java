package io.coro4j.scheduler.threadpool;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.channel.Barrier;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On this scheduler a fiber cannot suspend under a native frame (a class initializer; on JDK 21 to
 * 23 also inside {@code synchronized}): its park throws {@link IllegalStateException}. An operation
 * completed for a task in the moment between its last check and that failing park (an item handed
 * over, a permit or the lock granted, the joined task's outcome counted as seen) took effect, so it
 * must succeed: thrown, the item would be lost, the permit or lock leaked, the failure unreported.
 * Each test runs its operation inside a class initializer (a fresh copy of the class each round)
 * while another thread completes it, and counts the rounds where it took effect but threw.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
public class ParkThatCannotSuspendTest {

    // Public, as this class and its nested ones are: each copy of a nested class is defined by a
    // loader of its own, in another runtime package, and reaches these from there.
    public static volatile Channel<Integer> channel;
    public static volatile Semaphore semaphore;
    public static volatile Lock lock;
    public static volatile Barrier barrier;
    public static volatile Task<?> joined;
    public static volatile java.util.List<Task<Object>> gathered;

    /** Gathers {@link #gathered} with gatherSettled in its initializer: the outcomes, or what was thrown. */
    public static final class GatherSettledInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                r = Coro.gatherSettled(gathered);
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** Gathers {@link #gathered} in its initializer: the results, or what was thrown. */
    public static final class GatherInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                r = Coro.gather(gathered);
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    public static volatile boolean groupSupervisor;
    public static volatile boolean childFailsWhenCancelled;
    public static volatile Task<?> groupChild;
    public static volatile boolean childStarted;
    public static volatile Task<?> earlyChild;

    /**
     * Opens a task group ({@link #groupSupervisor}: a supervisor group) in its initializer, whose
     * child {@link #groupChild} still runs when the body returns (it sleeps until cancelled, then
     * fails if {@link #childFailsWhenCancelled}); a supervisor group also gets a child
     * {@link #earlyChild} that fails at once, unjoined. Closing the group must wait for its
     * children, which a park here cannot do. RESULT: the group's value, or what it threw.
     */
    public static final class GroupInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                TaskGroup.Body<Object> body = g -> {
                    // The children's bodies are not lambdas of this class: a carrier running one would
                    // wait for this initializer to end.
                    childStarted = false;
                    groupChild = g.spawn(ParkThatCannotSuspendTest::sleepUntilCancelled);
                    while (!childStarted) { // cancelled before it started, it would not run at all
                        Thread.onSpinWait();
                    }
                    if (groupSupervisor) {
                        Task<?> early = g.spawn(ParkThatCannotSuspendTest::failEarly);
                        earlyChild = early;
                        while (!early.isDone()) { // the body cannot suspend here; another carrier runs it
                            Thread.onSpinWait();
                        }
                    }
                    return "the body's value";
                };
                r = groupSupervisor ? Coro.supervisorGroup(body) : Coro.taskGroup(body);
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** {@link #groupChild}'s body: sleeps until cancelled, then fails if {@link #childFailsWhenCancelled}. */
    public static Object sleepUntilCancelled() {
        boolean fails = childFailsWhenCancelled;
        childStarted = true;
        try {
            Coro.sleep(Duration.ofDays(1));
            return "slept";
        } catch (CancellationException e) {
            if (fails) {
                throw new IllegalArgumentException("the child's failure");
            }
            throw e;
        }
    }

    /** {@link #earlyChild}'s body. */
    public static Object failEarly() {
        throw new IllegalStateException("the early failure");
    }

    /** Receives from {@link #channel} in its initializer: the item, or what was thrown. */
    public static final class ReceiveInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                r = channel.receive();
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** Acquires {@link #semaphore} in its initializer. */
    public static final class AcquireInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                semaphore.acquire();
                r = "acquired";
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** Takes {@link #lock} in its initializer. */
    public static final class LockInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                lock.lock();
                r = "locked";
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** Awaits {@link #barrier} in its initializer: the place, or what was thrown. */
    public static final class BarrierAwaitInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                r = barrier.await();
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    /** Joins {@link #joined} in its initializer: its value, or what was thrown. */
    public static final class JoinInInitializer {
        public static final Object RESULT;

        static {
            Object r;
            try {
                r = joined.join();
            } catch (Throwable t) {
                r = t;
            }
            RESULT = r;
        }
    }

    private static final int ROUNDS = 1_000;
    private Scheduler scheduler;

    @BeforeEach
    void start() {
        scheduler = new ThreadPoolSchedulerProvider().create(
                SchedulerConfig.builder().name("cannot-suspend").parallelism(2).build());
    }

    @AfterEach
    void close() {
        scheduler.close();
    }

    @Test
    void anItemHandedToAReceiveWhoseParkFailsIsReceived() {
        int[] lost = {0};
        int received = Coro.run(scheduler, () -> {
            int ok = 0;
            for (int i = 0; i < ROUNDS; i++) {
                Channel<Integer> ch = Channel.rendezvous();
                channel = ch;
                AtomicBoolean stop = new AtomicBoolean();
                AtomicBoolean sent = new AtomicBoolean();
                Integer item = i;
                Thread sender = Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        if (ch.trySend(item)) {
                            sent.set(true);
                            return;
                        }
                        Thread.onSpinWait();
                    }
                });
                Object r = initialize(ReceiveInInitializer.class);
                stop.set(true);
                sender.join();
                if (succeeded(r, item)) {
                    ok++;
                } else if (sent.get()) {
                    lost[0]++;
                }
            }
            return ok;
        });
        assertThat(lost[0]).as("items sent to a receive that threw (%d received)", received).isZero();
    }

    @Test
    void aPermitHandedToAnAcquireWhoseParkFailsIsHeld() {
        int[] leaked = {0};
        Coro.run(scheduler, () -> {
            for (int i = 0; i < ROUNDS; i++) {
                Semaphore s = new Semaphore(1);
                s.acquire(); // the main task holds the only permit
                semaphore = s;
                AtomicBoolean stop = new AtomicBoolean();
                AtomicBoolean released = new AtomicBoolean();
                Thread releaser = Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        if (s.queueLength() == 1) {
                            s.release(); // the main task's permit, to the waiter
                            released.set(true);
                            return;
                        }
                        Thread.onSpinWait();
                    }
                });
                Object r = initialize(AcquireInInitializer.class);
                stop.set(true);
                releaser.join();
                if (!succeeded(r, "acquired") && released.get() && s.availablePermits() == 0) {
                    leaked[0]++; // the waiter threw, holds nothing, and the permit it was given is gone
                }
            }
            return null;
        });
        assertThat(leaked[0]).as("permits handed to an acquire that threw").isZero();
    }

    @Test
    void aLockHandedToALockWhoseParkFailsIsHeld() {
        int[] leaked = {0};
        Coro.run(scheduler, () -> {
            for (int i = 0; i < ROUNDS / 2; i++) {
                Lock l = new Lock();
                l.lock(); // the main task holds it
                lock = l;
                Task<Object> waiter = Coro.spawn(() -> {
                    Object r = initialize(LockInInitializer.class);
                    if (succeeded(r, "locked")) {
                        l.unlock();
                    }
                    return r;
                });
                while (l.queueLength() == 0 && !waiter.isDone()) {
                    Thread.onSpinWait(); // not a suspension: the other carrier runs the waiter
                }
                l.unlock(); // to the waiter, if it waits
                waiter.join();
                if (l.isLocked()) {
                    leaked[0]++; // the waiter's lock() threw and its task ended, yet it holds the lock
                }
            }
            return null;
        });
        assertThat(leaked[0]).as("locks handed to a lock() that threw").isZero();
    }

    /**
     * A round of two: the await in the initializer is refused (and leaves the round) or, released
     * by the main task's arrival before its park failed, returns its place; never a round released
     * whose other place was thrown.
     */
    @Test
    void aPlaceHandedToABarrierAwaitWhoseParkFailsIsReturned() {
        java.util.Map<String, Integer> outcomes = new java.util.TreeMap<>();
        Coro.run(scheduler, () -> {
            for (int i = 0; i < ROUNDS / 4; i++) {
                Barrier b = new Barrier(2);
                barrier = b;
                Task<Object> waiter = Coro.spawn(() -> initialize(BarrierAwaitInInitializer.class));
                while (b.waiting() == 0 && !waiter.isDone()) {
                    Thread.onSpinWait(); // not a suspension: the other carrier runs the waiter
                }
                // The waiter may leave the round (refused) before this arrives: then this waits alone.
                Object mine = Coro.withTimeoutOrNull(Duration.ofMillis(5), b::await);
                Object r = waiter.join();
                outcomes.merge("mine " + mine + ", the waiter's " + (r instanceof Throwable t ? t.getClass().getSimpleName() : r)
                        + ", waiting " + b.waiting(), 1, Integer::sum);
            }
            return null;
        });
        assertThat(outcomes.keySet()).as("%s", outcomes)
                .isSubsetOf("mine 1, the waiter's 0, waiting 0", "mine null, the waiter's IllegalStateException, waiting 0");
    }

    @Test
    void aFailureCountedAsSeenByAJoinWhoseParkFailsIsThrownByTheJoin() {
        int[] lost = {0};
        Coro.run(scheduler, () -> {
            for (int i = 0; i < ROUNDS; i++) {
                AtomicBoolean go = new AtomicBoolean();
                Object[] r = new Object[1];
                try {
                    Coro.supervisorGroup(g -> {
                        Task<Object> child = g.spawn(() -> {
                            while (!go.get()) {
                                Thread.onSpinWait();
                            }
                            throw new IllegalArgumentException("the child's failure");
                        });
                        joined = child;
                        Thread starter = Thread.ofPlatform().start(() -> go.set(true));
                        r[0] = initialize(JoinInInitializer.class);
                        starter.join();
                        return null;
                    });
                } catch (IllegalArgumentException reportedByTheGroup) {
                    continue; // nobody saw it, and the group said so
                }
                if (!(r[0] instanceof IllegalArgumentException) && !succeeded(r[0], "no value")) {
                    lost[0]++; // neither the join nor the group handed it out
                }
            }
            return null;
        });
        assertThat(lost[0]).as("child failures neither thrown by the join nor reported by the group").isZero();
    }

    /**
     * A fail-fast gather that saw a task fail, and cannot suspend to wait for the others it
     * cancels, throws the park's IllegalStateException: the failure it had claimed goes with it (or
     * back to the task's group), not lost. Before, the claim stayed with the group, which then did
     * not report the failure, and the exception thrown did not carry it.
     */
    @Test
    void aFailureAGatherClaimedIsNotLostWhenItCannotWaitForTheTasksItCancels() {
        aFailureAGatherClaimedIsNotLost(GatherInInitializer.class, false);
    }

    /** As above, for a gather whose task was cancelled: it cancels the tasks and cannot wait for them either. */
    @Test
    void aFailureACancelledGatherClaimedIsNotLostWhenItCannotWaitForTheTasksItCancels() {
        aFailureAGatherClaimedIsNotLost(GatherSettledInInitializer.class, true);
    }

    private void aFailureAGatherClaimedIsNotLost(Class<?> gatherIn, boolean cancelled) {
        Object[] gatherThrew = new Object[1];
        Throwable[] groupThrew = new Throwable[1];
        Coro.run(scheduler, () -> {
            try {
                Coro.supervisorGroup(g -> {
                    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                    Task<Object> failed = g.spawn(() -> {
                        throw new IllegalArgumentException("the failure gathered");
                    });
                    Task<Object> slow = g.spawn(() -> Coro.blocking(() -> {
                        while (true) { // ignores the interrupt of its cancellation until go
                            try {
                                go.await();
                                return "slow";
                            } catch (InterruptedException ignored) {
                                // waits on
                            }
                        }
                    }));
                    while (!failed.isDone()) {
                        Coro.sleep(java.time.Duration.ofMillis(1));
                    }
                    gathered = java.util.List.of(failed, slow);
                    // Another task gathers, so that its claims are registered with this group.
                    Task<Object> gatherer = g.spawn(() -> {
                        if (cancelled) {
                            Coro.currentTask().cancel();
                        }
                        return initialize(gatherIn);
                    });
                    gatherThrew[0] = gatherer.join();
                    go.countDown();
                    return null;
                });
            } catch (Throwable e) {
                groupThrew[0] = e;
            }
            return null;
        });
        assertThat(gatherThrew[0]).isInstanceOf(IllegalStateException.class);
        boolean seen = carries((Throwable) gatherThrew[0], "the failure gathered")
                || carries(groupThrew[0], "the failure gathered");
        assertThat(seen).as("the gathered failure is on the gather's exception or reported by the group;"
                + " gather threw %s, group threw %s", gatherThrew[0], groupThrew[0]).isTrue();
    }

    /**
     * A task group opened in a class initializer cannot suspend to wait for its children. It must
     * not leave a child running unwatched: the children still running are cancelled and handed to
     * the task, which waits for them before it ends, so a failure they have while they end fails
     * the task. Before, the group threw the park's exception and the child's failure was lost.
     */
    @Test
    void aTaskGroupThatCannotWaitHandsItsCancelledChildrenToTheTaskWhichFailsWithTheirFailure() throws Exception {
        groupSupervisor = false;
        childFailsWhenCancelled = true;
        Object[] groupResult = new Object[1];
        Task<?>[] owner = new Task<?>[1];
        Throwable runThrew = null;
        try {
            Coro.run(scheduler, () -> {
                owner[0] = Coro.currentTask();
                groupResult[0] = initialize(GroupInInitializer.class);
                return "the task's value";
            });
        } catch (Throwable e) {
            runThrew = e;
        }
        assertThat(groupResult[0]).isInstanceOf(IllegalStateException.class);
        assertThat((Throwable) groupResult[0])
                .hasMessageStartingWith("this task group cannot wait for its children here (this fiber cannot suspend here")
                .hasMessageEndingWith("), so it cancelled the 1 still running and left them to task " + owner[0].name()
                        + ", which waits for them before it ends and fails if they fail: open the group where the task"
                        + " can suspend")
                .hasRootCauseInstanceOf(IllegalStateException.class);
        assertThat(runThrew).isInstanceOf(IllegalArgumentException.class).hasMessage("the child's failure");
        assertThat(groupChild.isDone()).as("the child ended before the task").isTrue();
    }

    /**
     * As above, in a supervisor group: a child cancelled by the hand-over ends cancelled, which
     * fails nothing, and a failure the group had before it could not wait is reported exactly once,
     * on the group's exception (or, if that child had not quite ended, by the task). Twenty rounds,
     * as the early child's end races with the hand-over.
     */
    @Test
    void aSupervisorGroupThatCannotWaitReportsEachFailureOnce() throws Exception {
        groupSupervisor = true;
        childFailsWhenCancelled = false;
        for (int round = 0; round < 20; round++) {
            Object[] groupResult = new Object[1];
            Object runResult;
            try {
                runResult = Coro.run(scheduler, () -> {
                    groupResult[0] = initialize(GroupInInitializer.class);
                    return "the task's value";
                });
            } catch (Throwable e) {
                runResult = e;
            }
            assertThat(groupResult[0]).isInstanceOf(IllegalStateException.class);
            assertThat((Throwable) groupResult[0]).hasMessageStartingWith("this task group cannot wait for its children here");
            int reports = occurrences((Throwable) groupResult[0], "the early failure")
                    + (runResult instanceof Throwable t ? occurrences(t, "the early failure") : 0);
            assertThat(reports).as("reports of the early failure in round %d: group threw %s, the task ended with %s",
                    round, groupResult[0], runResult).isEqualTo(1);
            if (!"the task's value".equals(runResult)) {
                assertThat((Throwable) runResult).isInstanceOf(IllegalStateException.class).hasMessage("the early failure");
            }
            assertThat(groupChild.isCancelled()).isTrue();
            assertThat(earlyChild.isDone()).isTrue();
        }
    }

    /**
     * A child handed over to the task is the task's to join: a failure the task joined is not
     * reported again when the task ends.
     */
    @Test
    void aHandedOverChildThatTheTaskJoinsIsNotReportedAgain() throws Exception {
        groupSupervisor = false;
        childFailsWhenCancelled = true;
        Object joined = Coro.run(scheduler, () -> {
            initialize(GroupInInitializer.class);
            try {
                return groupChild.join();
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        });
        assertThat(joined).isEqualTo("the child's failure");
    }

    private static int occurrences(Throwable t, String message) {
        if (t == null) {
            return 0;
        }
        int n = message.equals(t.getMessage()) ? 1 : 0;
        for (Throwable s : t.getSuppressed()) {
            n += occurrences(s, message);
        }
        return n + occurrences(t.getCause(), message);
    }

    private static boolean carries(Throwable t, String message) {
        if (t == null) {
            return false;
        }
        if (message.equals(t.getMessage())) {
            return true;
        }
        for (Throwable s : t.getSuppressed()) {
            if (carries(s, message)) {
                return true;
            }
        }
        return carries(t.getCause(), message);
    }

    /**
     * Checks that {@code r} is {@code success} or the failure of a park that cannot suspend, so
     * that a copy that failed for another reason (it could not reach the fields above) does not
     * pass for a round where the operation did not take effect; returns whether it succeeded.
     */
    static boolean succeeded(Object r, Object success) {
        if (success.equals(r)) {
            return true;
        }
        assertThat(r).isInstanceOf(IllegalStateException.class);
        assertThat((Throwable) r).hasMessageContaining("this fiber cannot suspend here");
        return false;
    }

    /** Initializes a fresh copy of {@code c}, in a class loader of its own, and returns its {@code RESULT}. */
    static Object initialize(Class<?> c) throws Exception {
        String name = c.getName();
        byte[] bytes;
        try (InputStream in = c.getClassLoader().getResourceAsStream(name.replace('.', '/') + ".class")) {
            bytes = in.readAllBytes();
        }
        ClassLoader loader = new ClassLoader(c.getClassLoader()) {
            @Override
            protected Class<?> loadClass(String n, boolean resolve) throws ClassNotFoundException {
                if (n.equals(name)) {
                    synchronized (getClassLoadingLock(n)) {
                        Class<?> k = findLoadedClass(n);
                        return k != null ? k : defineClass(n, bytes, 0, bytes.length);
                    }
                }
                return super.loadClass(n, resolve);
            }
        };
        return Class.forName(name, true, loader).getField("RESULT").get(null);
    }
}
