package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.ListenableFutures;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Barrier;
import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Select;
import io.coro4j.channel.Semaphore;
import com.google.common.util.concurrent.SettableFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Cancellation at every suspension point, systematically: each scenario (a small program using one
 * or two features the way users do) is run again and again, its cancellation landing a step later
 * each time, for k = 0, 1, 2, ... until a run ends before the cancellation reaches it; after each run
 * the scenario's books are checked exactly (no item, permit, lock hold, waiter, signal or task lost,
 * duplicated or leaked; finally blocks ran once; the cancellation propagates as what it is).
 *
 * <p>Who cancels is varied ({@link Who}): a canceller task that takes k steps (rounds of the run
 * queue) and then cancels the target task; the k-th {@linkplain #point() point} the scenario's
 * tasks pass, marked on either side of each operation that may suspend; a {@link Coro#withTimeout}
 * around the target's work that expires after k × 20 µs; a sibling in the target's
 * {@link Coro#taskGroup} that fails after k steps.
 *
 * <p>The tests run on a scheduler of parallelism 1. Where that is exactly one carrier running its
 * tasks in a fixed order ({@link #honoursParallelism()}), each k lands at a reproducible point (the
 * timeouts excepted: they follow the clock),
 * consecutive k of {@link Who#POINT} reach every marked point of the scenario, and a cancellation
 * of the task that found it unfinished must end it cancelled (its work ends at a cancellation
 * check). Elsewhere (loom: the JDK's carriers) the points vary from run
 * to run, and every run's books are checked all the same.
 */
public abstract class CancelPointsTck extends SchedulerTck {

    /** The most runs of one sweep: far more than any scenario here has suspension points. */
    private static final int MAX_K = 400;
    /** Bounds each test, so that a hang fails with a message. */
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final int N = 5;

    @BeforeEach
    void oneCarrier() {
        scheduler = newScheduler(1);
    }

    /** Who cancels the target's work. */
    protected enum Who {
        /** A canceller task that takes k steps ({@link #awaitSteps}), then cancels the target task. */
        TASK,
        /** A withTimeout around the work that expires k × 20 µs after it starts. */
        TIMEOUT,
        /** A sibling in a taskGroup around the work that fails after k steps ({@link #awaitSteps}). */
        GROUP,
        /**
         * The k-th {@link #point()} the scenario's tasks pass (each marks one side of a suspension
         * point: just before an operation that may suspend, just after it) cancels the target, so
         * that it is cancelled while it waits in its operation, or on entry, or after the operation
         * completed but before it ran again.
         */
        POINT
    }

    private final AtomicInteger points = new AtomicInteger();
    private volatile int pointK = -1;
    private volatile Task<?> pointTarget;
    private final AtomicBoolean pointCancelFound = new AtomicBoolean();

    /** Marks a point of the scenario: the k-th cancels the target of a {@link Who#POINT} run. */
    protected void point() {
        if (points.incrementAndGet() == pointK) {
            Task<?> target = pointTarget;
            if (target != null && target.cancel()) {
                pointCancelFound.set(true);
            }
        }
    }

    /** Thrown by the failing sibling of {@link Who#GROUP}. */
    static final class Boom extends RuntimeException {
        Boom() {
            super("boom");
        }
    }

    /** The target of one run: the work's own outcome, its task's, and whether the work started. */
    final class Target {
        final Who who;
        final int k;
        final AtomicReference<Object> inner = new AtomicReference<>();
        final AtomicBoolean started = new AtomicBoolean();
        Task<Object> task;
        Task<Boolean> canceller;
        /**
         * Whether the work's children may fail ({@link Boom}): such a failure outranks the
         * cancellation, and one the work gave up waiting for fails its task after the work ended.
         */
        boolean failingChildren;

        Target(Who who, int k) {
            this.who = who;
            this.k = k;
        }

        /** Joins the target (and its canceller); checks the outcome fits {@link #who}; returns the work's outcome. */
        Object end() {
            Object outer;
            try {
                outer = task.join();
            } catch (Throwable e) {
                outer = e;
            }
            boolean cancelFound = canceller != null ? canceller.join() : who == Who.POINT && pointCancelFound.get();
            pointK = -1;
            pointTarget = null;
            Object in = inner.get();
            String where = who + " at k=" + k;
            switch (who) {
                case TASK, POINT -> {
                    if (!started.get()) {
                        assertThat(outer).as("%s: a task cancelled before it started ends cancelled", where)
                                .isInstanceOf(CancellationException.class);
                        return outer;
                    }
                    if (failingChildren && in instanceof CancellationException && outer instanceof Boom) {
                        // a child's failure the cancelled work did not wait for fails its task
                    } else {
                        assertThat(outer).as("%s: the task ends as its work did", where).isSameAs(in);
                    }
                    if (honoursParallelism() && cancelFound && !(failingChildren && in instanceof Boom)) {
                        assertThat(in).as("%s: a cancel that found the task running ends it cancelled", where)
                                .isInstanceOf(CancellationException.class);
                    }
                }
                case TIMEOUT -> {
                    assertThat(started).as("%s: started", where).isTrue();
                    if (in instanceof CancellationException) {
                        assertThat(outer).as("%s: an expired timeout throws TimeoutExceededException", where)
                                .isInstanceOf(TimeoutExceededException.class);
                    } else {
                        assertThat(outer).as("%s: a work that ended in time gives its outcome", where).isSameAs(in);
                    }
                }
                case GROUP -> {
                    assertThat(outer).as("%s: the group throws its failed child's failure", where)
                            .isInstanceOf(Boom.class);
                    assertThat(((Throwable) outer).getSuppressed())
                            .as("%s: a cancelled sibling is no failure; nothing reported twice", where).isEmpty();
                    if (!started.get()) {
                        return new CancellationException("never started");
                    }
                }
            }
            assertThat(in).as("%s: the work's outcome", where).isNotNull();
            return in;
        }

        boolean cancelled() {
            Object in = inner.get();
            return in instanceof CancellationException || (!started.get() && who != Who.TIMEOUT);
        }
    }

    /** Starts {@code work} as the target of a run, cancelled by {@code who} at {@code k}. */
    protected Target start(Who who, int k, Callable<?> work) {
        Target t = new Target(who, k);
        Callable<Object> wrapped = () -> {
            t.started.set(true);
            try {
                Object v = work.call();
                Coro.checkCancelled();
                t.inner.set(v == null ? "null" : v);
                return t.inner.get();
            } catch (Throwable e) {
                t.inner.set(e);
                throw e;
            }
        };
        switch (who) {
            case TASK -> {
                // The canceller first, so that it runs before the target (k = 0: the target is
                // cancelled before it starts) and then takes its steps from there.
                AtomicReference<Task<Object>> target = new AtomicReference<>();
                t.canceller = Coro.spawn(() -> {
                    while (target.get() == null) { // set at once; on several carriers this may run first
                        Thread.onSpinWait();
                    }
                    awaitSteps(k, () -> target.get().isDone());
                    return target.get().cancel();
                });
                t.task = Coro.spawn(wrapped);
                target.set(t.task);
            }
            case POINT -> {
                points.set(0);
                pointCancelFound.set(false);
                pointTarget = null;
                pointK = k + 1;
                AtomicReference<Task<Object>> self = new AtomicReference<>();
                t.task = Coro.spawn(() -> {
                    while (self.get() == null) { // set at once; on several carriers this may run first
                        Thread.onSpinWait();
                    }
                    return wrapped.call();
                });
                self.set(t.task);
                pointTarget = t.task;
            }
            case TIMEOUT -> t.task = Coro.spawn(() -> Coro.withTimeout(Duration.ofNanos(20_000L * k), wrapped));
            case GROUP -> t.task = Coro.spawn(() -> Coro.taskGroup(g -> {
                g.spawn(() -> {
                    awaitSteps(k, () -> t.inner.get() != null);
                    throw new Boom();
                });
                g.spawn(wrapped);
                return null;
            }));
        }
        return t;
    }

    /** One run at {@code k}; returns whether the cancellation reached the work. */
    @FunctionalInterface
    protected interface Run {
        boolean run(Who who, int k) throws Exception;
    }

    /**
     * Runs {@code run} for k = 0, 1, ... until a run the cancellation did not reach, for each
     * {@link Who}; returns the number of runs.
     */
    protected int sweep(String what, Run run) throws Exception {
        return sweep(what, Who.values(), run);
    }

    /** {@link #sweep(String, Run)} for the given kinds of canceller only. */
    protected int sweep(String what, Who[] whos, Run run) throws Exception {
        return runTask(LIMIT, () -> {
            int runs = 0;
            for (Who who : whos) {
                int k = 0;
                while (run.run(who, k)) {
                    runs++;
                    k++;
                    assertThat(k).as("%s by %s: still cancelled after %d runs", what, who, MAX_K).isLessThan(MAX_K);
                }
                if (honoursParallelism()) {
                    // On one carrier, k = 0 cancels before the work's first suspension point: a sweep
                    // whose first run ran to its end cancelled nothing, and checked nothing. (On
                    // loom the work may end before the canceller runs, whatever k is.)
                    assertThat(k).as("%s by %s: no run was cancelled", what, who).isPositive();
                }
                runs++;
            }
            return runs;
        });
    }

    /**
     * Takes {@code k} steps, or fewer if {@code stop} holds first (or a second passed): a step is a
     * yield while another task of the scheduler is runnable, which on one carrier lets each runnable
     * task run to its next suspension point. While every other task is parked (on a timer, a
     * channel, a lock) no step is counted: the caller waits for a wake-up in short sleeps instead,
     * so that a scenario's sleep is one step, not thousands of yields.
     */
    void awaitSteps(int k, java.util.function.BooleanSupplier stop) {
        long giveUp = System.nanoTime() + 1_000_000_000L;
        int steps = 0;
        while (steps < k && !stop.getAsBoolean() && System.nanoTime() < giveUp) {
            var stats = scheduler.stats();
            if (stats.liveFibers() - stats.parkedFibers() <= 1) {
                Coro.sleep(Duration.ofNanos(1_000));
            } else {
                Coro.yieldNow();
                steps++;
            }
        }
    }

    /** {@code n} yields, each between two {@link #point()}s. */
    void pointedYields(int n) {
        for (int i = 0; i < n; i++) {
            point();
            Coro.yieldNow();
            point();
        }
    }

    static void yields(int n) {
        for (int i = 0; i < n; i++) {
            Coro.yieldNow();
        }
    }

    private static <T> List<T> syncList() {
        return Collections.synchronizedList(new ArrayList<>());
    }

    /** Joins a task that may fail; returns its value or what it threw. */
    private static Object outcome(Task<?> t) {
        try {
            return t.join();
        } catch (Throwable e) {
            return e;
        }
    }

    // ---- channels ----

    private enum Kind {
        RENDEZVOUS(Channel::rendezvous),
        BOUNDED_1(() -> Channel.bounded(1)),
        BOUNDED_4(() -> Channel.bounded(4)),
        UNBOUNDED(Channel::unbounded);

        final Supplier<Channel<Integer>> make;

        Kind(Supplier<Channel<Integer>> make) {
            this.make = make;
        }
    }

    /**
     * A producer sends 1..N and closes the channel in its finally; a consumer iterates (or receives
     * until closed). One of them is the target. Afterwards: the sends that returned, in order, are
     * exactly the items received followed by those still buffered; a send that threw put nothing in
     * the channel; each finally ran once; nobody waits on the channel.
     */
    private boolean channelRun(Kind kind, boolean cancelProducer, boolean iterate, Who who, int k) {
        Channel<Integer> ch = kind.make.get();
        List<Integer> sent = syncList();
        List<Integer> received = syncList();
        AtomicInteger failedSend = new AtomicInteger();
        AtomicInteger producerFinally = new AtomicInteger();
        AtomicInteger consumerFinally = new AtomicInteger();
        Callable<Object> producer = () -> {
            try {
                for (int i = 1; i <= N; i++) {
                    try {
                        point();
                        ch.send(i);
                        point();
                    } catch (RuntimeException e) {
                        failedSend.set(i);
                        throw e;
                    }
                    sent.add(i);
                }
            } finally {
                producerFinally.incrementAndGet();
                ch.close();
            }
            return "produced";
        };
        Callable<Object> consumer = () -> {
            try {
                if (iterate) {
                    point();
                    for (Integer x : ch) {
                        point();
                        received.add(x);
                        point();
                    }
                } else {
                    while (true) {
                        try {
                            point();
                            received.add(ch.receive());
                            point();
                        } catch (ClosedChannelException e) {
                            break;
                        }
                    }
                }
            } finally {
                consumerFinally.incrementAndGet();
            }
            return "consumed";
        };
        Target t;
        Task<Object> other;
        if (cancelProducer) {
            t = start(who, k, producer);
            other = Coro.spawn(consumer);
        } else {
            other = Coro.spawn(producer);
            t = start(who, k, consumer);
        }
        t.end();
        ch.close(); // the producer's waiting send, if the consumer is gone
        Object o = outcome(other);
        List<Integer> left = new ArrayList<>();
        try {
            for (Integer x = ch.tryReceive(); x != null; x = ch.tryReceive()) {
                left.add(x);
            }
        } catch (ClosedChannelException drained) {
            // closed and empty
        }
        String where = kind + (cancelProducer ? " producer" : " consumer") + (iterate ? " (iterating)" : "")
                + " cancelled by " + who + " at k=" + k + ": sent " + sent + ", received " + received + ", left " + left
                + ", failed send " + failedSend + ", other " + o;
        List<Integer> delivered = new ArrayList<>(received);
        delivered.addAll(left);
        assertThat(delivered).as("%s: every item sent is received or left, exactly once, in order", where)
                .isEqualTo(sent);
        if (cancelProducer) {
            assertThat(o).as("%s: the consumer ends at the close", where).isEqualTo("consumed");
            assertThat(producerFinally.get()).as("%s: producer finally", where).isEqualTo(t.started.get() ? 1 : 0);
            assertThat(consumerFinally.get()).as("%s: consumer finally", where).isEqualTo(1);
        } else {
            assertThat(o).as("%s: the producer ends or is refused by the close", where)
                    .satisfiesAnyOf(v -> assertThat(v).isEqualTo("produced"),
                            v -> assertThat(v).isInstanceOf(ClosedChannelException.class));
            assertThat(producerFinally.get()).as("%s: producer finally", where).isEqualTo(1);
            assertThat(consumerFinally.get()).as("%s: consumer finally", where).isEqualTo(t.started.get() ? 1 : 0);
        }
        assertThat(ch.sendersWaiting()).as("%s: senders waiting", where).isZero();
        assertThat(ch.receiversWaiting()).as("%s: receivers waiting", where).isZero();
        return t.cancelled();
    }

    private void channelSweeps(Kind kind) throws Exception {
        for (boolean producer : new boolean[] {true, false}) {
            for (boolean iterate : new boolean[] {true, false}) {
                if (producer && !iterate) {
                    continue; // the consumer's style does not matter when the producer is cancelled
                }
                sweep(kind + (producer ? " producer" : " consumer"), (who, k) -> channelRun(kind, producer, iterate, who, k));
            }
        }
    }

    @Test
    void rendezvousChannelLosesNoItemWhereverItsProducerOrConsumerIsCancelled() throws Exception {
        channelSweeps(Kind.RENDEZVOUS);
    }

    @Test
    void boundedOneChannelLosesNoItemWhereverItsProducerOrConsumerIsCancelled() throws Exception {
        channelSweeps(Kind.BOUNDED_1);
    }

    @Test
    void boundedFourChannelLosesNoItemWhereverItsProducerOrConsumerIsCancelled() throws Exception {
        channelSweeps(Kind.BOUNDED_4);
    }

    @Test
    void unboundedChannelLosesNoItemWhereverItsProducerOrConsumerIsCancelled() throws Exception {
        channelSweeps(Kind.UNBOUNDED);
    }

    /**
     * A selector receives N items from {@code a} and sends N to {@code b} through one select per
     * step; a feeder sends to {@code a}, a drainer iterates {@code b}. The selector is the target.
     * Afterwards both channels' books balance.
     */
    @Test
    void selectOverTwoChannelsCompletesExactlyOneClauseWhereverItIsCancelled() throws Exception {
        sweep("select", (who, k) -> {
            Channel<Integer> a = Channel.rendezvous();
            Channel<Integer> b = Channel.rendezvous();
            List<Integer> fed = syncList();
            List<Integer> gotA = syncList();
            List<Integer> sentB = syncList();
            List<Integer> drained = syncList();
            Task<Object> feeder = Coro.spawn(() -> {
                for (int i = 1; i <= N; i++) {
                    point();
                    a.send(i);
                    fed.add(i);
                    point();
                }
                return null;
            });
            Task<Object> drainer = Coro.spawn(() -> {
                for (Integer x : b) {
                    point();
                    drained.add(x);
                }
                return null;
            });
            Target t = start(who, k, () -> {
                int next = 100;
                while (gotA.size() < N || next < 100 + N) {
                    List<Select.Clause<Object>> clauses = new ArrayList<>();
                    if (gotA.size() < N) {
                        clauses.add(a.onReceive(x -> {
                            gotA.add(x);
                            return null;
                        }));
                    }
                    if (next < 100 + N) {
                        int item = next;
                        clauses.add(b.onSend(item, () -> {
                            sentB.add(item);
                            return null;
                        }));
                    }
                    point();
                    Select.select(clauses);
                    point();
                    next = 100 + sentB.size();
                }
                return "selected";
            });
            t.end();
            a.close();
            b.close();
            Object fo = outcome(feeder);
            Object dro = outcome(drainer);
            List<Integer> leftA = new ArrayList<>();
            try {
                for (Integer x = a.tryReceive(); x != null; x = a.tryReceive()) {
                    leftA.add(x);
                }
            } catch (ClosedChannelException drainedA) {
                // empty
            }
            String where = "select by " + who + " at k=" + k + ": fed " + fed + ", got " + gotA + ", left " + leftA
                    + ", sent to b " + sentB + ", drained " + drained + ", feeder " + fo;
            List<Integer> deliveredA = new ArrayList<>(gotA);
            deliveredA.addAll(leftA);
            assertThat(deliveredA).as("%s: a's books", where).isEqualTo(fed);
            assertThat(drained).as("%s: b's books", where).isEqualTo(sentB);
            assertThat(dro).as("%s: the drainer ends at the close", where).isNull();
            assertThat(a.sendersWaiting() + a.receiversWaiting() + b.sendersWaiting() + b.receiversWaiting())
                    .as("%s: waiters left", where).isZero();
            return t.cancelled();
        });
    }

    // ---- synchronizers ----

    /**
     * Two waiters take a token each, waiting on a condition; a signaller adds two tokens, a signal
     * each; a contender takes the lock meanwhile. The first waiter is the target. Afterwards: the
     * second waiter got its token (no signal lost to the cancelled one), tokens balance, the lock is
     * free and nobody waits.
     */
    @Test
    void lockAndConditionLoseNoSignalNorLockHoldWhereverAWaiterIsCancelled() throws Exception {
        sweep("lock+condition", (who, k) -> {
            Lock lock = new Lock();
            Condition cond = new Condition(lock);
            int[] tokens = {0};
            AtomicInteger taken = new AtomicInteger();
            AtomicInteger finallies = new AtomicInteger();
            AtomicInteger targetTook = new AtomicInteger();
            AtomicInteger locked = new AtomicInteger();
            Callable<Object> waiter = () -> {
                point();
                lock.lock();
                locked.incrementAndGet();
                try {
                    while (tokens[0] == 0) {
                        point();
                        cond.await();
                        point();
                    }
                    tokens[0]--;
                    taken.incrementAndGet();
                } finally {
                    lock.unlock();
                    finallies.incrementAndGet();
                }
                return "took";
            };
            Target t = start(who, k, () -> {
                waiter.call();
                targetTook.incrementAndGet();
                return "took";
            });
            Task<Object> second = Coro.spawn(waiter);
            Task<Object> contender = Coro.spawn(() -> {
                for (int i = 0; i < 3; i++) {
                    lock.lock();
                    try {
                        Coro.yieldNow();
                    } finally {
                        lock.unlock();
                    }
                }
                return null;
            });
            Task<Object> signaller = Coro.spawn(() -> {
                for (int i = 0; i < 2; i++) {
                    Coro.yieldNow();
                    point();
                    lock.lock();
                    try {
                        tokens[0]++;
                        cond.signal();
                    } finally {
                        lock.unlock();
                    }
                }
                return null;
            });
            t.end();
            String where = "lock+condition by " + who + " at k=" + k;
            Object s = Coro.withTimeoutOrNull(Duration.ofSeconds(5), second::join);
            assertThat(s).as("%s: the second waiter gets its token (a signal lost to the cancelled one?)", where)
                    .isEqualTo("took");
            contender.join();
            signaller.join();
            lock.lock();
            int left = tokens[0];
            lock.unlock();
            assertThat(taken.get() + left).as("%s: tokens taken + left", where).isEqualTo(2);
            assertThat(taken.get()).as("%s: tokens taken", where).isEqualTo(1 + targetTook.get());
            assertThat(finallies.get()).as("%s: finally blocks, one per lock taken", where).isEqualTo(locked.get());
            assertThat(locked.get()).as("%s: waiters that took the lock", where).isBetween(1, 2);
            assertThat(lock.isLocked()).as("%s: lock held", where).isFalse();
            assertThat(lock.queueLength()).as("%s: lock waiters", where).isZero();
            assertThat(cond.queueLength()).as("%s: condition waiters", where).isZero();
            assertThat(lock.tryLock()).as("%s: a new task takes the lock at once", where).isTrue();
            lock.unlock();
            return t.cancelled();
        });
    }

    /**
     * Three workers each hold one of two permits twice, in try/finally. One is the target.
     * Afterwards: both permits are back, nobody waits, at most two held at once.
     */
    @Test
    void semaphoreLosesNoPermitWhereverAHolderOrWaiterIsCancelled() throws Exception {
        sweep("semaphore", (who, k) -> {
            Semaphore sem = new Semaphore(2);
            AtomicInteger holding = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            AtomicInteger finallies = new AtomicInteger();
            Callable<Object> worker = () -> {
                for (int round = 0; round < 2; round++) {
                    point();
                    sem.acquire();
                    point();
                    try {
                        most.accumulateAndGet(holding.incrementAndGet(), Math::max);
                        Coro.yieldNow();
                        point();
                        Coro.yieldNow();
                    } finally {
                        holding.decrementAndGet();
                        sem.release();
                        finallies.incrementAndGet();
                    }
                }
                return "worked";
            };
            Task<Object> w1 = Coro.spawn(worker);
            Target t = start(who, k, worker);
            Task<Object> w3 = Coro.spawn(worker);
            t.end();
            String where = "semaphore by " + who + " at k=" + k;
            assertThat(outcome(w1)).as("%s: other worker", where).isEqualTo("worked");
            assertThat(outcome(w3)).as("%s: other worker", where).isEqualTo("worked");
            assertThat(sem.availablePermits()).as("%s: permits back", where).isEqualTo(2);
            assertThat(sem.queueLength()).as("%s: waiters", where).isZero();
            assertThat(most.get()).as("%s: most held at once", where).isLessThanOrEqualTo(2);
            assertThat(holding.get()).as("%s: held now", where).isZero();
            return t.cancelled();
        });
    }

    /** Two tasks wait for an event a setter sets after a few yields; one is the target. */
    @Test
    void eventLeavesNoWaiterWhereverAWaiterIsCancelled() throws Exception {
        sweep("event", (who, k) -> {
            Event event = new Event();
            Callable<Object> waiter = () -> {
                point();
                event.await();
                point();
                return "set";
            };
            Target t = start(who, k, waiter);
            Task<Object> other = Coro.spawn(waiter);
            Task<Object> setter = Coro.spawn(() -> {
                yields(3);
                point();
                event.set();
                return null;
            });
            t.end();
            setter.join();
            String where = "event by " + who + " at k=" + k;
            assertThat(outcome(other)).as("%s: the other waiter", where).isEqualTo("set");
            assertThat(event.queueLength()).as("%s: waiters", where).isZero();
            return t.cancelled();
        });
    }

    /**
     * Two parties of a barrier of two; one is the target. If it leaves the round, a third party
     * takes its place. Afterwards: nobody waits, the barrier is not broken, each released round
     * gave places 0 and 1 once each.
     */
    @Test
    void barrierLeavesNoWaiterWhereverAPartyIsCancelled() throws Exception {
        sweep("barrier", (who, k) -> {
            Barrier barrier = new Barrier(2);
            List<Integer> places = syncList();
            Callable<Object> party = () -> {
                point();
                Coro.yieldNow();
                point();
                places.add(barrier.await());
                point();
                return "passed";
            };
            AtomicBoolean targetPassed = new AtomicBoolean();
            Target t = start(who, k, () -> {
                party.call();
                targetPassed.set(true);
                return "passed";
            });
            Task<Object> other = Coro.spawn(party);
            t.end();
            String where = "barrier by " + who + " at k=" + k;
            // A target that did not pass left the round: the other party needs a partner. (Not
            // "the other is not done": on several carriers it may be released and still running.)
            Task<Object> third = targetPassed.get() ? null : Coro.spawn(party);
            Object o = Coro.withTimeoutOrNull(Duration.ofSeconds(5), other::join);
            Object th = third == null ? "passed" : Coro.withTimeoutOrNull(Duration.ofSeconds(5), third::join);
            if (o == null || th == null) {
                other.cancel();
                if (third != null) {
                    third.cancel();
                }
            }
            assertThat(o).as("%s: the other party (places %s)", where, places).isEqualTo("passed");
            assertThat(th).as("%s: the third party, in the round the target left (places %s)", where, places)
                    .isEqualTo("passed");
            assertThat(barrier.waiting()).as("%s: waiting", where).isZero();
            assertThat(barrier.isBroken()).as("%s: broken", where).isFalse();
            assertThat(places).as("%s: places", where).containsExactlyInAnyOrder(0, 1);
            return t.cancelled();
        });
    }

    /**
     * The target selects over a semaphore's permit, a lock and a timeout, and gives back what it
     * got in a finally; a releaser frees the permit and the lock (held from the start) after a few
     * yields; a competitor takes and gives back each in turn. Afterwards: the permit is back, the
     * lock is free, nobody waits, and the competitor was not blocked.
     */
    @Test
    void selectOverAPermitALockAndATimeoutLosesNeitherWhereverItIsCancelled() throws Exception {
        sweep("select over permit, lock, timeout", (who, k) -> {
            Semaphore sem = new Semaphore(1);
            Lock lock = new Lock();
            List<String> got = syncList();
            AtomicInteger gaveBack = new AtomicInteger();
            Task<Object> releaser = Coro.spawn(() -> {
                lock.lock();
                try {
                    sem.acquire();
                    try {
                        pointedYields(2);
                    } finally {
                        sem.release();
                    }
                    pointedYields(1);
                } finally {
                    lock.unlock();
                }
                return "released";
            });
            Target t = start(who, k, () -> {
                point();
                String r = Select.select(sem.onAcquire(() -> "permit"), lock.onLock(() -> "lock"),
                        Select.onTimeout(Duration.ofMillis(200), () -> "timeout"));
                got.add(r);
                try {
                    pointedYields(1);
                } finally {
                    switch (r) {
                        case "permit" -> sem.release();
                        case "lock" -> lock.unlock();
                        default -> { }
                    }
                    gaveBack.incrementAndGet();
                }
                return r;
            });
            Task<Object> competitor = Coro.spawn(() -> {
                for (int i = 0; i < 2; i++) {
                    point();
                    sem.acquire();
                    sem.release();
                    point();
                    lock.lock();
                    lock.unlock();
                }
                return "competed";
            });
            Object in = t.end();
            String where = "select over permit, lock, timeout by " + who + " at k=" + k + ": " + in + ", got " + got;
            assertThat(outcome(releaser)).as("%s: releaser", where).isEqualTo("released");
            assertThat(Coro.withTimeoutOrNull(Duration.ofSeconds(5), competitor::join))
                    .as("%s: the competitor is not blocked", where).isEqualTo("competed");
            assertThat(got.size()).as("%s: clauses completed", where).isLessThanOrEqualTo(1);
            assertThat(gaveBack.get()).as("%s: given back", where).isEqualTo(got.size());
            assertThat(got).as(where).doesNotContain("timeout");
            assertThat(sem.availablePermits()).as("%s: permits", where).isEqualTo(1);
            assertThat(sem.queueLength()).as("%s: semaphore waiters", where).isZero();
            assertThat(lock.isLocked()).as("%s: lock held", where).isFalse();
            assertThat(lock.queueLength()).as("%s: lock waiters", where).isZero();
            return t.cancelled();
        });
    }

    // ---- structured concurrency ----

    private enum Structure {
        TASK_GROUP, SUPERVISOR_GROUP, GATHER, GATHER_SETTLED, AS_COMPLETED
    }

    /**
     * The target runs three children, in a group or gathered, each yielding, sleeping a
     * millisecond and receiving from a channel a feeder fills. Afterwards: no child alive, each
     * child that started ran its finally once.
     */
    private boolean structureRun(Structure s, Who who, int k) {
        Channel<Integer> ch = Channel.unbounded();
        List<Task<?>> children = syncList();
        AtomicInteger started = new AtomicInteger();
        AtomicInteger finallies = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            ch.trySend(i);
        }
        Callable<Integer> child = () -> {
            started.incrementAndGet();
            try {
                point();
                Coro.yieldNow();
                point();
                Coro.sleep(Duration.ofMillis(1));
                point();
                return ch.receive();
            } finally {
                finallies.incrementAndGet();
            }
        };
        Target t = start(who, k, () -> switch (s) {
            case TASK_GROUP, SUPERVISOR_GROUP -> {
                TaskGroup.Body<Object> body = g -> {
                    for (int i = 0; i < 3; i++) {
                        children.add(g.spawn(child));
                    }
                    return "grouped";
                };
                yield s == Structure.TASK_GROUP ? Coro.taskGroup(body) : Coro.supervisorGroup(body);
            }
            case GATHER -> {
                List<Task<Integer>> ts = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    ts.add(Coro.spawn(child));
                }
                children.addAll(ts);
                yield Coro.gather(ts).size();
            }
            case GATHER_SETTLED -> {
                List<Task<Integer>> ts = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    ts.add(Coro.spawn(child));
                }
                children.addAll(ts);
                yield Coro.gatherSettled(ts).size();
            }
            case AS_COMPLETED -> {
                List<Task<Integer>> ts = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    ts.add(Coro.spawn(child));
                }
                children.addAll(ts);
                int n = 0;
                Generator<Task<Integer>, Object, Void> done = Coro.asCompleted(ts);
                try {
                    for (Task<Integer> d : done) {
                        d.join();
                        n++;
                    }
                } finally {
                    done.close();
                }
                yield n;
            }
        });
        Object in = t.end();
        String where = s + " by " + who + " at k=" + k + ": " + in;
        for (Task<?> c : children) {
            assertThat(c.isDone()).as("%s: child %s alive after its parent ended", where, c).isTrue();
        }
        assertThat(finallies.get()).as("%s: finally blocks of started children", where).isEqualTo(started.get());
        if (!(in instanceof CancellationException)) {
            assertThat(in).as("%s: the work's value", where).isIn("grouped", 3);
            assertThat(started.get()).as("%s: children run", where).isEqualTo(3);
            assertThat(ch.size()).as("%s: items left", where).isZero();
        }
        return t.cancelled();
    }

    @Test
    void groupsAndGathersLeaveNoChildAliveWhereverTheyAreCancelled() throws Exception {
        for (Structure s : Structure.values()) {
            sweep(s.toString(), (who, k) -> structureRun(s, who, k));
        }
    }

    /** How often {@code x} occurs in {@code t}, its causes and what they suppressed (by identity). */
    private static int occurrences(Throwable x, Object t) {
        if (!(t instanceof Throwable th)) {
            return 0;
        }
        int n = th == x ? 1 : 0;
        for (Throwable s : th.getSuppressed()) {
            n += occurrences(x, s);
        }
        if (th.getCause() != null && th.getCause() != th) {
            n += occurrences(x, th.getCause());
        }
        return n;
    }

    /**
     * As {@link #structureRun}, but the first child fails after two yields. Afterwards: no child
     * alive; the failure, once thrown, is reported exactly once (thrown by the work, suppressed on
     * what it threw, or in the settled outcomes), never lost to the cancellation.
     */
    private boolean failingStructureRun(Structure s, Who who, int k) {
        List<Task<?>> children = syncList();
        Boom boom = new Boom();
        AtomicBoolean thrown = new AtomicBoolean();
        List<Outcome<Integer>> settled = syncList();
        java.util.function.IntFunction<Callable<Integer>> child = i -> () -> {
            pointedYields(2);
            if (i == 0) {
                thrown.set(true);
                throw boom;
            }
            Coro.sleep(Duration.ofMillis(1));
            point();
            return i;
        };
        Target t = start(who, k, () -> switch (s) {
            case TASK_GROUP, SUPERVISOR_GROUP, AS_COMPLETED -> {
                TaskGroup.Body<Object> body = g -> {
                    for (int i = 0; i < 3; i++) {
                        children.add(g.spawn(child.apply(i)));
                    }
                    return "grouped";
                };
                yield s == Structure.TASK_GROUP ? Coro.taskGroup(body) : Coro.supervisorGroup(body);
            }
            case GATHER, GATHER_SETTLED -> {
                List<Task<Integer>> ts = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    ts.add(Coro.spawn(child.apply(i)));
                }
                children.addAll(ts);
                if (s == Structure.GATHER) {
                    yield Coro.gather(ts).size();
                }
                settled.addAll(Coro.gatherSettled(ts));
                yield settled.size();
            }
        });
        t.failingChildren = true;
        Object in = t.end();
        Object outer = outcome(t.task);
        String where = s + " with a failing child by " + who + " at k=" + k + ": " + in + " / " + outer
                + (in instanceof Throwable th ? " suppressed " + java.util.Arrays.toString(th.getSuppressed()) : "");
        for (Task<?> c : children) {
            assertThat(c.isDone()).as("%s: child %s alive after its parent ended", where, c).isTrue();
        }
        int reported = occurrences(boom, outer);
        for (Outcome<Integer> o : settled) {
            if (o instanceof Outcome.Failure<Integer> f) {
                reported += occurrences(boom, f.exception());
            }
        }
        if (thrown.get()) {
            assertThat(reported).as("%s: the child's failure reported once", where).isEqualTo(1);
        } else {
            assertThat(reported).as("%s: a failure never thrown is not reported", where).isZero();
        }
        return t.cancelled();
    }

    @Test
    void aFailingChildIsReportedExactlyOnceWhereverItsGroupOrGatherIsCancelled() throws Exception {
        for (Structure s : new Structure[] {Structure.TASK_GROUP, Structure.SUPERVISOR_GROUP, Structure.GATHER,
                Structure.GATHER_SETTLED}) {
            // Not Who.GROUP: its group would report the child's failure beside its own Boom.
            sweep(s + " with a failing child", new Who[] {Who.TASK, Who.TIMEOUT, Who.POINT},
                    (who, k) -> failingStructureRun(s, who, k));
        }
    }

    // ---- timeouts, shields, futures, generators, locals ----

    /**
     * Nested timeouts around work whose finally cleans up in a shield (it suspends there).
     * Afterwards: the cleanup ran to its end exactly once; the cancellation propagated as itself,
     * never as a timeout of the inner scopes nor as their null.
     */
    @Test
    void nestedTimeoutsAndAShieldedCleanupWhereverTheTaskIsCancelled() throws Exception {
        sweep("timeouts+shield", (who, k) -> {
            AtomicInteger cleanups = new AtomicInteger();
            AtomicInteger cleanupStarts = new AtomicInteger();
            Target t = start(who, k, () -> Coro.withTimeout(Duration.ofSeconds(20), () ->
                    Coro.withTimeoutOrNull(Duration.ofSeconds(20), () -> {
                        try {
                            pointedYields(3);
                            Coro.sleep(Duration.ofMillis(1));
                            pointedYields(1);
                            return "worked";
                        } finally {
                            Coro.shielded(() -> {
                                cleanupStarts.incrementAndGet();
                                pointedYields(3);
                                Coro.sleep(Duration.ofMillis(1));
                                cleanups.incrementAndGet();
                                return null;
                            });
                        }
                    })));
            Object in = t.end();
            String where = "timeouts+shield by " + who + " at k=" + k + ": " + in;
            assertThat(in).as(where).satisfiesAnyOf(
                    v -> assertThat(v).isEqualTo("worked"),
                    v -> assertThat(v).isInstanceOf(CancellationException.class)
                            .isNotInstanceOf(TimeoutExceededException.class));
            assertThat(cleanups.get()).as("%s: shielded cleanups finished", where)
                    .isEqualTo(cleanupStarts.get()).isEqualTo(t.started.get() ? 1 : 0);
            return t.cancelled();
        });
    }

    /**
     * The work awaits a CompletableFuture and a Guava future that completer tasks complete after a
     * few yields. Afterwards: a future the cancelled await gave up on was cancelled (the docs say
     * so); one completed first holds its value.
     */
    @Test
    void awaitedFuturesAreCancelledWithTheAwaitWhereverItIsCancelled() throws Exception {
        sweep("await", (who, k) -> {
            CompletableFuture<Integer> cf = new CompletableFuture<>();
            SettableFuture<Integer> lf = SettableFuture.create();
            AtomicBoolean cfCompleted = new AtomicBoolean();
            AtomicBoolean lfCompleted = new AtomicBoolean();
            AtomicInteger awaited = new AtomicInteger();
            Target t = start(who, k, () -> {
                point();
                int a = Coro.await(cf);
                awaited.incrementAndGet();
                point();
                int b = ListenableFutures.await(lf);
                awaited.incrementAndGet();
                return a + b;
            });
            Task<Object> completer = Coro.spawn(() -> {
                yields(2);
                point();
                cfCompleted.set(cf.complete(1));
                yields(2);
                point();
                lfCompleted.set(lf.set(2));
                return null;
            });
            Object in = t.end();
            completer.join();
            String where = "await by " + who + " at k=" + k + ": " + in + ", awaited " + awaited;
            if (in instanceof CancellationException && t.started.get()) {
                if (awaited.get() == 0) {
                    assertThat(cf.isCancelled() || cfCompleted.get()).as("%s: cf cancelled or completed first", where).isTrue();
                    assertThat(lf.isCancelled()).as("%s: lf untouched", where).isFalse();
                } else if (awaited.get() == 1) {
                    assertThat(cf.isCancelled()).as("%s: cf", where).isFalse();
                    assertThat(lf.isCancelled() || lfCompleted.get()).as("%s: lf cancelled or completed first", where).isTrue();
                }
            } else if (!(in instanceof CancellationException)) {
                assertThat(in).as(where).isEqualTo(3);
            }
            assertThat(cf.isCancelled() && cfCompleted.get()).as("%s: cf both cancelled and completed", where).isFalse();
            assertThat(lf.isCancelled() && lfCompleted.get()).as("%s: lf both cancelled and completed", where).isFalse();
            return t.cancelled();
        });
    }

    /**
     * A generator whose body suspends the task (yields it, sleeps) between its own yields, iterated
     * from the target task and closed in a finally. Afterwards: the body's finally ran once, the
     * generator is done, the items came in order.
     */
    @Test
    void aGeneratorIteratedFromACancelledTaskRunsItsFinallyAndEnds() throws Exception {
        sweep("generator", (who, k) -> {
            AtomicInteger bodyFinally = new AtomicInteger();
            AtomicBoolean bodyStarted = new AtomicBoolean();
            List<Integer> got = syncList();
            AtomicReference<Generator<Integer, Object, Void>> gen = new AtomicReference<>();
            Target t = start(who, k, () -> {
                Generator<Integer, Object, Void> g = Generator.of(co -> {
                    bodyStarted.set(true);
                    try {
                        for (int i = 0; i < 3; i++) {
                            pointedYields(1);
                            Coro.sleep(Duration.ofMillis(1));
                            co.yield(i);
                        }
                    } finally {
                        bodyFinally.incrementAndGet();
                    }
                    return null;
                });
                gen.set(g);
                try {
                    for (Integer x : g) {
                        got.add(x);
                        pointedYields(1);
                    }
                } finally {
                    g.close();
                }
                return "iterated";
            });
            Object in = t.end();
            String where = "generator by " + who + " at k=" + k + ": " + in + ", got " + got;
            if (gen.get() != null) {
                assertThat(gen.get().isDone()).as("%s: generator done", where).isTrue();
                assertThat(bodyFinally.get()).as("%s: body finally", where).isEqualTo(bodyStarted.get() ? 1 : 0);
            }
            assertThat(got).as(where).isEqualTo(List.of(0, 1, 2).subList(0, got.size()));
            if (!(in instanceof CancellationException)) {
                assertThat(got).as(where).containsExactly(0, 1, 2);
            }
            return t.cancelled();
        });
    }

    /**
     * The work runs a blocking call (a 2 ms sleep of its thread) between two yields. Afterwards: the
     * call had ended when the task ended (the task waits for it), it was interrupted only if the
     * cancellation reached the task while the call ran, and a cancelled work never returns the
     * call's value.
     */
    @Test
    void aBlockingCallIsInterruptedAndWaitedForWhereverItsTaskIsCancelled() throws Exception {
        sweep("blocking", (who, k) -> {
            AtomicInteger calls = new AtomicInteger();
            AtomicInteger ended = new AtomicInteger();
            AtomicInteger interrupted = new AtomicInteger();
            AtomicInteger endedWhenTaskEnded = new AtomicInteger(-1);
            Target t = start(who, k, () -> {
                try {
                    pointedYields(1);
                    String v = Coro.blocking(() -> {
                        calls.incrementAndGet();
                        try {
                            Thread.sleep(2);
                            return "called";
                        } catch (InterruptedException e) {
                            interrupted.incrementAndGet();
                            throw e;
                        } finally {
                            ended.incrementAndGet();
                        }
                    });
                    pointedYields(1);
                    return v;
                } finally {
                    endedWhenTaskEnded.set(ended.get());
                }
            });
            Object in = t.end();
            String where = "blocking by " + who + " at k=" + k + ": " + in + ", calls " + calls + ", interrupted "
                    + interrupted;
            if (t.started.get()) {
                assertThat(endedWhenTaskEnded.get()).as("%s: calls ended when the work ended", where).isEqualTo(calls.get());
            }
            assertThat(calls.get()).as("%s: calls", where).isLessThanOrEqualTo(1);
            assertThat(interrupted.get()).as("%s: interrupted calls", where).isLessThanOrEqualTo(calls.get());
            if (interrupted.get() == 1) {
                assertThat(in).as("%s: an interrupted call ends the work cancelled", where)
                        .isInstanceOf(CancellationException.class);
                assertThat(((Throwable) in).getSuppressed()).as("%s: what the call threw, suppressed", where)
                        .hasOnlyElementsOfType(InterruptedException.class).hasSize(1);
            }
            if (!(in instanceof CancellationException)) {
                assertThat(in).as(where).isEqualTo("called");
            }
            return t.cancelled();
        });
    }

    /**
     * The work sets a local, then runs suspending code with another value of it; where that is
     * cancelled, the catch sees the first value back; a child spawned inside saw the inner one.
     */
    @Test
    void coroutineLocalValuesAreRestoredAfterTheCancelledPart() throws Exception {
        CoroutineLocal<String> local = new CoroutineLocal<>("cancel-points");
        sweep("local", (who, k) -> {
            AtomicReference<String> seenAfter = new AtomicReference<>();
            AtomicReference<String> seenByChild = new AtomicReference<>();
            Target t = start(who, k, () -> {
                local.set("outer");
                try {
                    return local.with("inner", () -> {
                        pointedYields(1);
                        Task<String> c = Coro.spawn(() -> {
                            pointedYields(1);
                            return local.get();
                        });
                        seenByChild.set(c.join());
                        Coro.shielded(() -> {
                            pointedYields(1);
                            return null;
                        });
                        Coro.sleep(Duration.ofMillis(1));
                        return "done";
                    });
                } finally {
                    seenAfter.set(local.get());
                }
            });
            Object in = t.end();
            String where = "local by " + who + " at k=" + k + ": " + in;
            if (t.started.get()) {
                assertThat(seenAfter.get()).as("%s: value after the cancelled part", where).isEqualTo("outer");
            }
            if (seenByChild.get() != null) {
                assertThat(seenByChild.get()).as("%s: the child's value", where).isEqualTo("inner");
            }
            return t.cancelled();
        });
    }
}
