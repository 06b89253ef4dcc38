package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.http.testing.Polling;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The slot limiter on its own: FIFO grants, no head-of-line blocking across hosts, rejection of a
 * full queue, cancelled and timed-out waiters leaving the queue without a slot (one cancelled as it
 * is granted one passes it on), and a stress run with cancellations that must never see a limit
 * exceeded or a slot leaked. Run once per scheduler by a subclass.
 */
abstract class SlotLimiterContract extends SchedulerFixture {

    static final Duration LONG = Duration.ofSeconds(20);

    static SlotLimiter.Permit take(SlotLimiter l, String host) {
        return l.acquire(host, LONG, null, "GET", "http://" + host + "/", null);
    }

    @Test
    void waitersAreServedInArrivalOrder() {
        SlotLimiter l = new SlotLimiter(1, 1, 100);
        // All for one host, each holding its slot across a yield.
        assertThat(grantOrder(l, name -> "x", true)).containsExactly("b", "c", "d", "e");
        assertThat(l.inFlight()).isZero();
    }

    @Test
    void waitersForDifferentHosts_getTheOverallSlotInArrivalOrder() {
        // Every waiter's host is below its own limit, so all of them are "ready" at once: the
        // freed overall slot must go to the earliest of them, not to any ready host.
        SlotLimiter l = new SlotLimiter(1, 1, 100);
        assertThat(grantOrder(l, name -> name, false)).containsExactly("b", "c", "d", "e");
        assertThat(l.inFlight()).isZero();
    }

    /**
     * With the only slot held (host "a" or "x"), waiters b, c, d, e queue one after the other for
     * {@code hostOf} their name; then the slot is freed: the order in which they got it.
     */
    private List<String> grantOrder(SlotLimiter l, java.util.function.UnaryOperator<String> hostOf, boolean yieldHolding) {
        return run(() -> {
            ConcurrentLinkedQueue<String> granted = new ConcurrentLinkedQueue<>();
            SlotLimiter.Permit first = take(l, hostOf.apply("a"));
            List<Task<Void>> waiters = new ArrayList<>();
            for (String name : List.of("b", "c", "d", "e")) {
                int before = l.waiting();
                waiters.add(Coro.spawn(() -> {
                    SlotLimiter.Permit h = take(l, hostOf.apply(name));
                    granted.add(name);
                    if (yieldHolding) {
                        Coro.yieldNow();
                    }
                    h.release();
                    return null;
                }));
                Polling.await("one more waiter", () -> l.waiting() == before + 1);
            }
            first.release();
            Coro.gather(waiters);
            return List.copyOf(granted);
        });
    }

    @Test
    void queuedCallbacks_areGrantedInArrivalOrder() {
        // The fan-out's way of waiting (enqueue, no suspended task) shares the FIFO with acquire.
        SlotLimiter l = new SlotLimiter(1, 1, 100);
        List<String> order = run(() -> {
            List<String> granted = new ArrayList<>();
            SlotLimiter.Permit first = take(l, "x");
            for (String name : List.of("b", "c", "d", "e")) {
                l.enqueue("x", LONG, null, Coro.currentTask().scheduler(), new SlotLimiter.Grant() {
                    @Override
                    public void granted(SlotLimiter.Permit permit) {
                        granted.add(name);
                        permit.release(); // grants the next one, on this thread
                    }

                    @Override
                    public void expired(String limits) {
                        granted.add(name + " expired");
                    }
                }, "GET", "http://x/" + name, null);
            }
            assertThat(l.waiting()).isEqualTo(4);
            first.release();
            return List.copyOf(granted);
        });
        assertThat(order).containsExactly("b", "c", "d", "e");
        assertThat(l.inFlight()).isZero();
        assertThat(l.waiting()).isZero();
    }

    @Test
    void aBusyHostsQueue_doesNotHoldUpAnotherHost() {
        SlotLimiter l = new SlotLimiter(2, 1, 100);
        List<String> order = run(() -> {
            ConcurrentLinkedQueue<String> granted = new ConcurrentLinkedQueue<>();
            SlotLimiter.Permit x = take(l, "x");
            SlotLimiter.Permit y = take(l, "y");
            List<Task<Void>> waiters = new ArrayList<>();
            for (String host : List.of("x", "z", "x")) {
                int before = l.waiting();
                waiters.add(Coro.spawn(() -> {
                    SlotLimiter.Permit h = take(l, host);
                    granted.add(host);
                    return null; // keeps the slot: the test releases below
                }));
                Polling.await("one more waiter", () -> l.waiting() == before + 1);
            }
            y.release(); // frees an overall slot: x is still at its limit, so z, though later, gets it
            Polling.await("one grant", () -> granted.size() == 1);
            x.release(); // frees x's slot: the first x waiter
            Polling.await("two grants", () -> granted.size() == 2);
            assertThat(l.inFlight()).isEqualTo(2);
            assertThat(l.waiting()).isEqualTo(1);
            waiters.get(2).cancel(); // the second x waiter
            Coro.gatherSettled(waiters);
            assertThat(l.waiting()).isZero();
            assertThat(l.inFlight()).as("z and the first x still hold theirs").isEqualTo(2);
            return List.copyOf(granted);
        });
        assertThat(order).containsExactly("z", "x");
    }

    @Test
    void aFullQueue_rejectsAtOnce() {
        SlotLimiter l = new SlotLimiter(1, 1, 2);
        Throwable e = run(() -> {
            SlotLimiter.Permit h = take(l, "x");
            List<Task<SlotLimiter.Permit>> waiters = List.of(Coro.spawn(() -> take(l, "x")), Coro.spawn(() -> take(l, "x")));
            Polling.await("two waiters", () -> l.waiting() == 2);
            Throwable rejected = catchThrowable(() -> take(l, "y"));
            waiters.forEach(Task::cancel);
            Coro.gatherSettled(waiters);
            h.release();
            return rejected;
        });
        assertThat(e).isInstanceOf(HttpRejectedException.class).hasMessage(
                "GET http://y/: rejected: all slots are taken and 2 requests are already waiting for one (maxWaiting)");
        assertThat(((HttpRejectedException) e).maxWaiting()).isEqualTo(2);
        assertThat(l.inFlight()).isZero();
        assertThat(l.waiting()).isZero();
    }

    @Test
    void aCancelledWaiter_leavesTheQueue_andNeverHoldsASlot() {
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        run(() -> {
            SlotLimiter.Permit h = take(l, "x");
            Task<SlotLimiter.Permit> waiter = Coro.spawn(() -> take(l, "x"));
            Polling.await("one waiter", () -> l.waiting() == 1);
            waiter.cancel();
            assertThat(catchThrowable(waiter::join)).isInstanceOf(CancellationException.class);
            assertThat(l.waiting()).isZero();
            h.release();
            assertThat(l.inFlight()).as("the slot went to nobody").isZero();
            // and the next one gets it at once
            take(l, "x").release();
            return null;
        });
        assertThat(l.inFlight()).isZero();
    }

    /**
     * The window between a cancellation and a grant: the waiter has seen its cancellation and waits
     * for the limiter's monitor (held here) to leave the queue when a release grants it the slot.
     * It must pass the slot on to the next waiter, not keep it while it throws. The waiter runs on
     * a scheduler of its own, so that on both schedulers it runs on another thread than the one
     * holding the monitor (a platform thread, so that the waiter gets a carrier on one processor too).
     */
    @Test
    void aWaiterCancelledAsItIsGrantedASlot_passesTheSlotOn() {
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        try (Scheduler other = Schedulers.create(schedulerKind(), SchedulerConfig.builder()
                .name(getClass().getSimpleName() + "-waiter").parallelism(1).daemon(true).build())) {
            run(() -> {
                SlotLimiter.Permit holder = take(l, "x");
                AtomicReference<Task<?>> waiterTask = new AtomicReference<>();
                AtomicReference<Thread> waiterThread = new AtomicReference<>();
                CompletableFuture<SlotLimiter.Permit> waiter = CompletableFuture.supplyAsync(() -> Coro.run(other, () -> {
                    waiterTask.set(Coro.currentTask());
                    waiterThread.set(Thread.currentThread());
                    return take(l, "x");
                }), r -> Thread.ofPlatform().daemon().start(r));
                Polling.await("one waiter", () -> l.waiting() == 1);
                Task<SlotLimiter.Permit> next = Coro.spawn(() -> take(l, "x"));
                Polling.await("two waiters", () -> l.waiting() == 2);
                // The monitor is held by a platform thread, no carrier, while this task awaits it: a
                // task that spins holding it would keep its carrier from the waiter, and on one
                // processor the JDK's virtual-thread scheduler has one carrier (the waiter never ran).
                Coro.await(CompletableFuture.runAsync(() -> {
                    synchronized (l) { // nothing suspends in here
                        waiterTask.get().cancel();
                        assertThat(Polling.blockedWithin(waiterThread.get(), SlotLimiter.class, Duration.ofSeconds(10)))
                                .as("the cancelled waiter blocks on the monitor to leave the queue").isTrue();
                        holder.release(); // grants the cancelled waiter, still first in the queue
                        assertThat(l.waiting()).isEqualTo(1);
                    }
                }, r -> Thread.ofPlatform().daemon().start(r)));
                assertThat(catchThrowable(() -> Coro.await(waiter))).isInstanceOf(CancellationException.class);
                SlotLimiter.Permit passedOn = Coro.withTimeoutOrNull(Duration.ofSeconds(10), next::join);
                assertThat(passedOn).as("the slot granted to the cancelled waiter went on to the next one").isNotNull();
                assertThat(l.inFlight()).isEqualTo(1);
                passedOn.release();
                return null;
            });
        }
        assertThat(l.inFlight()).isZero();
        assertThat(l.waiting()).isZero();
    }

    /**
     * A waiter cancelled while it waits, and granted a slot before it next looks (here: it is
     * still in the queued hook, which runs between joining the queue and the first park), throws
     * CancellationException and passes the slot on, as acquire promises for a task cancelled
     * "before or while waiting". Before, it saw the grant, never looked at the cancellation, and
     * returned the slot: the client then began the cancelled task's request (sendAsync) and
     * aborted it only at the await after.
     */
    @Test
    void aWaiterCancelledBeforeItsGrant_takesNoSlot_evenIfItLooksOnlyAfterTheGrant() {
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        java.util.concurrent.CountDownLatch inHook = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch leaveHook = new java.util.concurrent.CountDownLatch(1);
        try (Scheduler other = Schedulers.create(schedulerKind(), SchedulerConfig.builder()
                .name(getClass().getSimpleName() + "-hooked").parallelism(1).daemon(true).build())) {
            run(() -> {
                SlotLimiter.Permit holder = take(l, "x");
                AtomicReference<Task<?>> waiterTask = new AtomicReference<>();
                CompletableFuture<SlotLimiter.Permit> waiter = CompletableFuture.supplyAsync(() -> Coro.run(other, () -> {
                    waiterTask.set(Coro.currentTask());
                    return l.acquire("x", LONG, null, "GET", "http://x/", host -> {
                        inHook.countDown();
                        try {
                            leaveHook.await(); // a plain wait: the waiter cannot look at anything meanwhile
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
                }), r -> Thread.ofPlatform().daemon().start(r));
                Polling.await("the waiter in its queued hook", () -> inHook.getCount() == 0);
                Task<SlotLimiter.Permit> next = Coro.spawn(() -> take(l, "x"));
                Polling.await("two waiters", () -> l.waiting() == 2);
                waiterTask.get().cancel();
                holder.release(); // grants the cancelled waiter, first in the queue
                leaveHook.countDown();
                assertThat(catchThrowable(() -> Coro.await(waiter))).isInstanceOf(CancellationException.class);
                SlotLimiter.Permit passedOn = Coro.withTimeoutOrNull(Duration.ofSeconds(10), next::join);
                assertThat(passedOn).as("the slot granted to the cancelled waiter went on to the next one").isNotNull();
                assertThat(l.inFlight()).isEqualTo(1);
                passedOn.release();
                return null;
            });
        } finally {
            leaveHook.countDown();
        }
        assertThat(l.inFlight()).isZero();
        assertThat(l.waiting()).isZero();
    }

    @Test
    void anAlreadyCancelledTask_takesNoSlot() {
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        Throwable e = run(() -> {
            Task<SlotLimiter.Permit> t = Coro.spawn(() -> {
                Coro.currentTask().cancel();
                return take(l, "x");
            });
            return catchThrowable(t::join);
        });
        assertThat(e).isInstanceOf(CancellationException.class);
        assertThat(l.inFlight()).isZero();
    }

    @Test
    void aWaiterThatTimesOut_leavesTheQueue_withAMessageGivingTheLimits() {
        SlotLimiter l = new SlotLimiter(4, 1, 10);
        Throwable e = run(() -> {
            SlotLimiter.Permit h = take(l, "x");
            Throwable t = catchThrowable(() -> l.acquire("x", Duration.ofMillis(50), null, "GET", "http://x/a", null));
            h.release();
            return t;
        });
        assertThat(e).isInstanceOf(SlotWaitTimeoutException.class).hasMessage(
                "GET http://x/a: no free slot within 50 ms (1 of 4 slots in flight overall, 1 of 1 for x, 1 waiting)");
        assertThat(l.waiting()).isZero();
        assertThat(l.inFlight()).isZero();
    }

    @Test
    void waitersWithDifferentBounds_expireInDeadlineOrder_notArrivalOrder() {
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        List<String> events = run(() -> {
            ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
            SlotLimiter.Permit h = take(l, "x");
            Task<Void> patient = Coro.spawn(() -> {
                SlotLimiter.Permit p = l.acquire("x", Duration.ofSeconds(5), null, "GET", "patient", null);
                seen.add("patient granted");
                p.release();
                return null;
            });
            Polling.await("one waiter", () -> l.waiting() == 1);
            Task<Void> hasty = Coro.spawn(() -> {
                Throwable e = catchThrowable(() -> l.acquire("x", Duration.ofMillis(50), null, "GET", "hasty", null));
                seen.add("hasty " + e.getClass().getSimpleName());
                return null;
            });
            hasty.join();
            assertThat(l.waiting()).isEqualTo(1);
            h.release();
            patient.join();
            return List.copyOf(seen);
        });
        assertThat(events).containsExactly("hasty SlotWaitTimeoutException", "patient granted");
    }

    @Test
    void aWaiterTimesOut_afterTheSchedulerWhoseTimerHeldTheAlarmHasTerminated() {
        // One limiter shared by two schedulers. The alarm goes on the timer of the scheduler whose
        // waiter has the earliest deadline; that waiter is cancelled and its scheduler, now idle,
        // is closed: the other scheduler's waiter must still time out.
        SlotLimiter l = new SlotLimiter(1, 1, 10);
        Scheduler other = Schedulers.create(schedulerKind(), SchedulerConfig.builder()
                .name(getClass().getSimpleName() + "-alarm-holder").parallelism(1).daemon(true).build());
        Throwable e = run(() -> {
            SlotLimiter.Permit held = take(l, "x");
            CompletableFuture<Task<?>> first = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> Coro.run(other, () -> {
                first.complete(Coro.currentTask());
                return catchThrowable(() -> l.acquire("x", Duration.ofMillis(300), null, "GET", "http://x/1", null));
            }));
            Polling.await("one waiter", () -> l.waiting() == 1);
            Task<Throwable> second = Coro.spawn(() ->
                    catchThrowable(() -> l.acquire("x", Duration.ofMillis(600), null, "GET", "http://x/2", null)));
            Polling.await("two waiters", () -> l.waiting() == 2);
            Coro.await(first).cancel();
            Polling.await("one waiter", () -> l.waiting() == 1);
            Coro.blocking(() -> {
                other.close();
                return null;
            });
            Throwable t = Coro.withTimeout(Duration.ofSeconds(10), second::join);
            held.release();
            return t;
        });
        assertThat(other.isTerminated()).isTrue();
        assertThat(e).isInstanceOf(SlotWaitTimeoutException.class).hasMessage(
                "GET http://x/2: no free slot within 600 ms (1 of 1 slots in flight overall, 1 of 1 for x, 1 waiting)");
        assertThat(l.waiting()).isZero();
        assertThat(l.inFlight()).isZero();
    }

    @Test
    void aRequestDeadline_cancelsTheBoundExchange_evenIfBoundLate() {
        SlotLimiter l = new SlotLimiter(4, 4, 10);
        run(() -> {
            SlotLimiter.Permit p = l.acquire("x", LONG, Duration.ofMillis(30), "GET", "u", null);
            CompletableFuture<Void> exchange = new CompletableFuture<>();
            p.bind(exchange);
            Polling.await("the exchange is done", exchange::isDone);
            assertThat(exchange.isCancelled()).isTrue();
            assertThat(p.timedOut()).isTrue();
            p.release();

            SlotLimiter.Permit late = l.acquire("x", LONG, Duration.ofMillis(1), "GET", "u", null);
            Coro.sleep(Duration.ofMillis(30));
            CompletableFuture<Void> lateExchange = new CompletableFuture<>();
            late.bind(lateExchange);
            assertThat(lateExchange.isCancelled()).as("cancelled at bind: its deadline had passed").isTrue();
            late.release();

            // A deadline that a pause of the machine between acquire and release cannot outrun;
            // the sleep outlasts it, so an alarm left armed would have fired.
            SlotLimiter.Permit quick = l.acquire("x", LONG, Duration.ofMillis(500), "GET", "u", null);
            CompletableFuture<Void> done = new CompletableFuture<>();
            quick.bind(done);
            done.complete(null);
            quick.release();
            Coro.sleep(Duration.ofMillis(600));
            assertThat(quick.timedOut()).as("released before its deadline").isFalse();
            return null;
        });
        assertThat(l.inFlight()).isZero();
    }

    @Test
    void stress_limitsHold_andNoSlotLeaks_underCancellationsAndTimeouts() {
        int tasks = (int) (3000 * Double.parseDouble(System.getProperty("coro4j.stress.multiplier", "1")));
        int total = 8;
        int perHost = 3;
        String[] hosts = {"a", "b", "c", "d", "e"};
        SlotLimiter l = new SlotLimiter(total, perHost, tasks);
        AtomicInteger overall = new AtomicInteger();
        AtomicInteger[] byHost = new AtomicInteger[hosts.length];
        for (int i = 0; i < hosts.length; i++) {
            byHost[i] = new AtomicInteger();
        }
        AtomicInteger violations = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger cancelled = new AtomicInteger();
        AtomicInteger timedOut = new AtomicInteger();
        run(() -> {
            List<Task<Void>> all = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                int host = i % hosts.length;
                boolean shortWait = i % 11 == 0;
                all.add(Coro.spawn(() -> {
                    SlotLimiter.Permit h;
                    try {
                        h = l.acquire(hosts[host], shortWait ? Duration.ofNanos(50_000) : LONG, null, "GET", "u", null);
                    } catch (SlotWaitTimeoutException e) {
                        timedOut.incrementAndGet();
                        return null;
                    }
                    if (overall.incrementAndGet() > total) {
                        violations.incrementAndGet();
                    }
                    if (byHost[host].incrementAndGet() > perHost) {
                        violations.incrementAndGet();
                    }
                    try {
                        if (ThreadLocalRandom.current().nextBoolean()) {
                            Coro.yieldNow(); // a cancellation may strike here, holding a slot
                        }
                    } finally {
                        byHost[host].decrementAndGet();
                        overall.decrementAndGet();
                        h.release();
                    }
                    done.incrementAndGet();
                    return null;
                }));
            }
            // Cancel every 7th task, at random moments while the others run.
            for (int i = 0; i < tasks; i += 7) {
                all.get(i).cancel();
                if (i % 70 == 0) {
                    Coro.yieldNow();
                }
            }
            for (var o : Coro.gatherSettled(all)) {
                if (!o.isSuccess()) {
                    Throwable e = ((io.coro4j.Outcome.Failure<Void>) o).exception();
                    if (!(e instanceof CancellationException)) {
                        throw new AssertionError("unexpected failure", e);
                    }
                    cancelled.incrementAndGet();
                }
            }
            return null;
        });
        assertThat(violations.get()).as("limit violations").isZero();
        assertThat(l.inFlight()).as("slots leaked").isZero();
        assertThat(l.waiting()).as("waiters left behind").isZero();
        assertThat(done.get() + cancelled.get() + timedOut.get()).isEqualTo(tasks);
        assertThat(done.get()).isGreaterThan(tasks / 2);
    }
}
