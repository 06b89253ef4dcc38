package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Select;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Programs ported from asyncio and kotlinx.coroutines as their users write them, each combining
 * several features (a semaphore inside a task group, timeouts around locks and receives, locals
 * across every kind of boundary, a task's future used from plain threads), with the exact outcome
 * asyncio or kotlinx gives.
 */
public abstract class PortingTck extends SchedulerTck {

    // ---- awaiting a task's stage ----

    /**
     * {@link Coro#await} of a task's own stage waits as {@link Task#join()} does, and a join of a
     * task one runs under is refused (it would wait forever): so is such an await, with join's
     * message, not left to hang (here: until a 200 ms timeout), also from deeper down the tree
     * and through {@link Task#toCompletionStage()}.
     */
    @Test
    void awaitingTheStageOfATaskOneRunsUnderIsRefusedAsJoiningItIs() throws Exception {
        List<String> log = runTask(Duration.ofSeconds(30), () -> {
            List<String> out = new CopyOnWriteArrayList<>();
            Task<?> root = Coro.currentTask();
            Task<?> parent = Coro.spawn(() -> {
                Task<?> self = Coro.currentTask();
                Coro.spawn(() -> {
                    for (Task<?> target : List.of(root, self)) {
                        for (boolean asStage : List.of(false, true)) {
                            try {
                                CompletionStage<?> stage = asStage ? target.toCompletionStage() : target.toCompletableFuture();
                                Object v = Coro.withTimeoutOrNull(Duration.ofMillis(200), () -> Coro.await(stage));
                                out.add(v == null ? "hung until the 200 ms timeout" : "returned " + v);
                            } catch (IllegalStateException e) {
                                out.add(e.getMessage().replace(Coro.currentTask().name(), "WAITER")
                                        .replace(root.name(), "ROOT").replace(self.name(), "PARENT"));
                            }
                        }
                    }
                    return null;
                }).join();
                return "parent";
            });
            out.add(String.valueOf(parent.join()));
            return out;
        });
        String tail = ", a task it runs under: a task ends only after the tasks spawned under it, so this would wait"
                + " forever; hand the value over another way (a Channel, a CompletableFuture)";
        assertThat(log).containsExactly("WAITER cannot await ROOT" + tail, "WAITER cannot await ROOT" + tail,
                "WAITER cannot await PARENT" + tail, "WAITER cannot await PARENT" + tail, "parent");
    }

    private static Task<Void> spawn(Runnable body) {
        return Coro.spawn(() -> {
            body.run();
            return null;
        });
    }

    @Test
    void crawlerFanOutUnderASemaphoreInATaskGroupThrowsTheFirstFailureAndReturnsEveryPermit() throws Exception {
        Semaphore permits = new Semaphore(3);
        List<Task<String>> workers = new CopyOnWriteArrayList<>();
        AtomicInteger finallies = new AtomicInteger();
        AtomicInteger acquired = new AtomicInteger();
        // 4 fails once 1 holds its permit: a 1 still waiting for one (a carrier that stalled as it
        // took 1, while 3 and 4 went by) would end cancelled without its failing cleanup.
        Event oneHolds = new Event();
        Throwable thrown = runTask(() -> catchThrowable(() -> Coro.taskGroup(g -> {
            for (int i = 0; i < 12; i++) {
                int url = i;
                workers.add(g.spawn(() -> {
                    permits.acquire();
                    acquired.incrementAndGet();
                    try {
                        if (url == 4) {
                            oneHolds.await();
                            Coro.sleep(Duration.ofMillis(5));
                            throw new IllegalStateException("fetch 4 failed");
                        }
                        if (url == 1) {
                            try {
                                oneHolds.set();
                                Coro.sleep(Duration.ofSeconds(30));
                            } finally {
                                // cleanup that fails while cancelled: suppressed on the first failure
                                throw new IllegalArgumentException("cleanup 1 failed");
                            }
                        }
                        Coro.sleep(Duration.ofMillis(10));
                        return "page " + url;
                    } finally {
                        finallies.incrementAndGet();
                        permits.release();
                    }
                }));
            }
            return null;
        })));
        assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage("fetch 4 failed");
        assertThat(thrown.getSuppressed()).hasSize(1);
        assertThat(thrown.getSuppressed()[0]).isInstanceOf(IllegalArgumentException.class).hasMessage("cleanup 1 failed");
        assertThat(permits.availablePermits()).isEqualTo(3);
        assertThat(permits.queueLength()).isZero();
        assertThat(workers).hasSize(12).allMatch(Task::isDone);
        assertThat(workers.get(4).state()).isEqualTo(Future.State.FAILED);
        assertThat(workers.get(1).state()).isEqualTo(Future.State.FAILED);
        // every worker that got a permit ran its finally; those still waiting never held one
        assertThat(finallies.get()).isEqualTo(acquired.get()).isBetween(5, 12);
    }

    @Test
    void aZeroTimeoutCancelsEveryPrimitiveAtEntryEvenWhenItCouldCompleteAtOnce() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            Semaphore s = new Semaphore(1);
            Lock l = new Lock();
            Event e = new Event();
            e.set();
            Channel<String> ch = Channel.bounded(1);
            Channel<String> full = Channel.bounded(1);
            full.send("x");
            out.add("acquire " + Coro.withTimeoutOrNull(Duration.ZERO, () -> { s.acquire(); return "ok"; }) + " permits " + s.availablePermits());
            out.add("lock " + Coro.withTimeoutOrNull(Duration.ZERO, () -> { l.lock(); return "ok"; }) + " locked " + l.isLocked());
            out.add("await " + Coro.withTimeoutOrNull(Duration.ZERO, () -> { e.await(); return "ok"; }));
            out.add("send " + Coro.withTimeoutOrNull(Duration.ZERO, () -> { ch.send("y"); return "ok"; }) + " size " + ch.size());
            out.add("receive " + Coro.withTimeoutOrNull(Duration.ZERO, full::receive) + " size " + full.size());
            return out;
        });
        assertThat(log).containsExactly("acquire null permits 1", "lock null locked false", "await null",
                "send null size 0", "receive null size 1");
    }

    @Test
    void anOuterTimeoutExpiringWhileAnInnerTimeoutsCleanupSuspendsInAShieldIsTheOutersTimeout() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            long start = System.nanoTime();
            Throwable t = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(50), () ->
                    Coro.withTimeout(Duration.ofSeconds(20), () -> {
                        try {
                            Coro.sleep(Duration.ofSeconds(30));
                        } finally {
                            Coro.shielded(() -> {
                                Coro.sleep(Duration.ofMillis(100));
                                out.add("cleanup done");
                                return null;
                            });
                        }
                        return "never";
                    })));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            out.add(t.getClass().getSimpleName() + " " + ((TimeoutExceededException) t).timeout().toMillis());
            out.add("took at least 150 ms " + (ms >= 145));
            // nothing pending afterwards
            Coro.sleep(Duration.ofMillis(1));
            out.add("then sleeps");
            // the inner expires first, the outer during the inner's shielded cleanup
            Throwable t2 = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(100), () ->
                    Coro.withTimeout(Duration.ofMillis(30), () -> {
                        try {
                            Coro.sleep(Duration.ofSeconds(30));
                        } finally {
                            Coro.shielded(() -> {
                                Coro.sleep(Duration.ofMillis(150));
                                return null;
                            });
                        }
                        return "never";
                    })));
            out.add(t2.getClass().getSimpleName() + " " + ((TimeoutExceededException) t2).timeout().toMillis());
            Coro.sleep(Duration.ofMillis(1));
            out.add("then sleeps");
            // an inner withTimeoutOrNull returns null only for its own deadline
            Throwable t3 = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(30), () -> {
                String inner = Coro.withTimeoutOrNull(Duration.ofSeconds(20), () -> {
                    Coro.sleep(Duration.ofSeconds(30));
                    return "slept";
                });
                out.add("inner returned " + inner);
                return inner;
            }));
            out.add(t3.getClass().getSimpleName() + " " + ((TimeoutExceededException) t3).timeout().toMillis());
            return out;
        });
        assertThat(log).containsExactly("cleanup done", "TimeoutExceededException 50", "took at least 150 ms true",
                "then sleeps", "TimeoutExceededException 100", "then sleeps", "TimeoutExceededException 30");
    }

    @Test
    void withTimeoutOrNullReturnsNullOnlyForItsOwnDeadlineAroundGroupsAndGathers() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            // 1: group cut by the timeout, children clean up normally: null
            out.add("1 " + Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> Coro.taskGroup(g -> {
                g.spawn(() -> { Coro.sleep(Duration.ofSeconds(30)); return 1; });
                Coro.sleep(Duration.ofSeconds(30));
                return "never";
            })));
            // 2: a child's shielded cleanup fails after the timeout: the failure, not null
            out.add("2 " + catchThrowable(() -> Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> Coro.taskGroup(g -> {
                Event started = new Event();
                g.spawn(() -> {
                    try {
                        started.set();
                        Coro.sleep(Duration.ofSeconds(30));
                    } finally {
                        Coro.shielded(() -> { Coro.sleep(Duration.ofMillis(20)); return null; });
                        throw new IllegalStateException("cleanup failed");
                    }
                });
                // shielded, so that the timeout cannot cancel the child before it starts (a loaded machine)
                Coro.shielded(() -> { started.await(); return null; });
                return "body returned";
            }))));
            // 3: the group waits for its children when the timeout expires (body returned)
            out.add("3 " + Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> Coro.taskGroup(g -> {
                g.spawn(() -> { Coro.sleep(Duration.ofSeconds(30)); return 1; });
                return "body returned";
            })));
            // 4: gather of tasks spawned outside, cut by the timeout: null, tasks cancelled
            Task<Integer> a = Coro.spawn(() -> { Coro.sleep(Duration.ofSeconds(30)); return 1; });
            out.add("4 " + Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> Coro.gather(a)) + " " + a.isCancelled());
            // 5: supervisor group with a failed child nobody joined, cut by the timeout
            out.add("5 " + catchThrowable(() -> Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> Coro.supervisorGroup(g -> {
                Task<Object> early = g.spawn(() -> { throw new IllegalArgumentException("early"); });
                // shielded, so that the timeout cannot cancel the child before it starts (a loaded machine)
                Coro.shielded(() -> { until("the child failed", early::isDone); return null; });
                Coro.sleep(Duration.ofSeconds(30));
                return "never";
            }))));
            // 6: nested: inner OrNull longer, outer OrNull shorter: outer null, inner never returns null
            List<String> inner = new ArrayList<>();
            out.add("6 " + Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> {
                String r = Coro.withTimeoutOrNull(Duration.ofSeconds(30), () -> { Coro.sleep(Duration.ofSeconds(60)); return "x"; });
                inner.add("inner returned " + r);
                return "outer body returned";
            }) + " " + inner);
            return out;
        });
        assertThat(log).containsExactly("1 null", "2 java.lang.IllegalStateException: cleanup failed", "3 null", "4 null true",
                "5 java.lang.IllegalArgumentException: early", "6 null []");
    }

    @Test
    void lockAndSemaphoreWaitersStayFirstComeFirstServedWhileCancellationsRaceTheHandOvers() throws Exception {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int round = 0; round < 60; round++) {
            boolean useLock = round % 2 == 0;
            long seed = rnd.nextLong();
            List<Integer> order = runTask(() -> {
                SplittableRandom r = new SplittableRandom(seed);
                Lock lock = new Lock();
                Semaphore sem = new Semaphore(1);
                List<Integer> got = new CopyOnWriteArrayList<>();
                if (useLock) lock.lock(); else sem.acquire();
                List<Task<Void>> ws = new ArrayList<>();
                for (int i = 0; i < 30; i++) {
                    int id = i;
                    ws.add(spawn(() -> {
                        if (useLock) lock.lock(); else sem.acquire();
                        try {
                            got.add(id);
                            Coro.yieldNow();
                        } catch (CancellationException e) {
                            // cancelled after the hand-over: still held, given back below
                        } finally {
                            if (useLock) lock.unlock(); else sem.release();
                        }
                    }));
                    int n = i + 1;
                    until(n + " waiting", () -> (useLock ? lock.queueLength() : sem.queueLength()) == n);
                }
                Task<Void> canceller = spawn(() -> {
                    for (int k = 0; k < 10; k++) {
                        ws.get(r.nextInt(30)).cancel();
                        if (r.nextBoolean()) Coro.yieldNow();
                    }
                });
                if (useLock) lock.unlock(); else sem.release();
                canceller.join();
                for (Task<Void> w : ws) catchThrowable(w::join);
                got.add(useLock ? (lock.isLocked() ? -1 : 1000) : sem.availablePermits() + 2000);
                return got;
            });
            for (int i = 1; i < order.size() - 1; i++) {
                assertThat(order.get(i)).as("round %d: %s", round, order).isGreaterThan(order.get(i - 1));
            }
            assertThat(order.get(order.size() - 1)).isEqualTo(useLock ? 1000 : 2001);
        }
    }

    @Test
    void aCoroutineLocalFollowsSpawnBlockingGeneratorsSelectAndTimeouts() throws Exception {
        CoroutineLocal<String> request = new CoroutineLocal<>("request");
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            request.set("req-1");
            Task<String> child = Coro.spawn(() -> {
                String seen = request.get();
                request.set("child");
                Coro.sleep(Duration.ofMillis(1));
                return seen + "/" + request.get();
            });
            out.add("child " + child.join());
            out.add("parent " + request.get());
            out.add("blocking " + Coro.blocking(request::get));
            out.add("timeout " + Coro.withTimeout(Duration.ofSeconds(5), () -> {
                Coro.sleep(Duration.ofMillis(1));
                return request.get();
            }));
            Throwable expired = catchThrowable(() -> request.with("inside", () -> Coro.withTimeout(Duration.ofMillis(10), () -> {
                Coro.sleep(Duration.ofSeconds(30));
                return null;
            })));
            out.add("after expired with: " + expired.getClass().getSimpleName() + " " + request.get());
            Channel<String> ch = Channel.unbounded();
            Task<Void> sender = spawn(() -> {
                Coro.sleep(Duration.ofMillis(5));
                ch.send("x");
            });
            out.add("select " + Select.select(ch.onReceive(x -> request.get() + ":" + x),
                    Select.onTimeout(Duration.ofSeconds(5), () -> "timeout")));
            sender.join();
            out.add("select timeout " + Select.select(ch.onReceive(x -> "item"),
                    Select.onTimeout(Duration.ofMillis(5), request::get)));
            Generator<String, Object, Void> g = Generator.of(co -> {
                co.yield(request.get());
                Coro.sleep(Duration.ofMillis(1));
                co.yield(request.get());
                return null;
            });
            for (String s : g) {
                out.add("generator " + s);
            }
            Task<String> grandChild = Coro.spawn(() -> Coro.taskGroup(group ->
                    group.spawn(() -> Coro.blocking(request::get)).join()));
            out.add("group child blocking " + grandChild.join());
            return out;
        });
        assertThat(log).containsExactly("child req-1/child", "parent req-1", "blocking req-1", "timeout req-1",
                "after expired with: TimeoutExceededException req-1", "select req-1:x", "select timeout req-1",
                "generator req-1", "generator req-1", "group child blocking req-1");
    }

    @Test
    void aTasksCompletableFutureUsedFromPlainThreadsWhileTheTaskRuns() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            Event go = new Event();
            Task<Integer> worker = Coro.spawn(() -> {
                go.await();
                Coro.sleep(Duration.ofMillis(10));
                return 21;
            });
            CompletableFuture<Integer> view = worker.toCompletableFuture();
            CompletableFuture<String> chained = view.thenApply(x -> x * 2).thenApply(x -> "answer " + x);
            CompletableFuture<String> fromThread = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    try {
                        view.get(10, TimeUnit.MILLISECONDS);
                        fromThread.complete("no timeout?");
                        return;
                    } catch (TimeoutException expected) {
                        out.add("get timed out");
                    }
                    try {
                        worker.get(10, TimeUnit.MILLISECONDS);
                    } catch (TimeoutException expected) {
                        out.add("task get timed out");
                    }
                    go.set();
                    fromThread.complete(chained.get(10, TimeUnit.SECONDS) + ", task get " + worker.get());
                } catch (Throwable e) {
                    fromThread.completeExceptionally(e);
                }
            });
            out.add(Coro.await(fromThread));
            // cancelled from outside while it runs
            Task<Integer> victim = Coro.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return 1;
            });
            CompletableFuture<Integer> victimView = victim.toCompletableFuture();
            CompletableFuture<String> handled = victimView.handle((v, e) -> e == null ? "value" : e.getClass().getSimpleName());
            Thread.ofPlatform().start(() -> victim.cancel(true));
            out.add("handled " + Coro.await(handled));
            out.add("view cancelled " + victimView.isCancelled() + ", task cancelled " + victim.isCancelled());
            Throwable viaGet = catchThrowable(victimView::get);
            out.add("view get " + viaGet.getClass().getSimpleName());
            return out;
        });
        assertThat(log).containsExactly("get timed out", "task get timed out", "answer 42, task get 21",
                "handled CancellationException", "view cancelled true, task cancelled true",
                "view get CancellationException");
    }

    @Test
    void aTaskOfAnotherProgramIsSelectedAwaitedGatheredAndJoinedAsAnyOther() throws Exception {
        Scheduler other = newScheduler(1);
        CompletableFuture<Task<String>> remote = new CompletableFuture<>();
        Event release = new Event();
        CompletableFuture<String> otherProgram = CompletableFuture.supplyAsync(() -> Coro.run(other, () -> {
            Task<String> t = Coro.spawn(() -> {
                release.await();
                return "remote value";
            });
            remote.complete(t);
            return t.join();
        }));
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            Task<String> t = Coro.await(remote);
            Task<String> sel = Coro.spawn(() -> Select.select(Select.onAwait(t, v -> "select " + v),
                    Select.onTimeout(Duration.ofSeconds(10), () -> "timeout")));
            Task<String> aw = Coro.spawn(() -> "await " + Coro.await(t.toCompletionStage()));
            Task<List<String>> ga = Coro.spawn(() -> Coro.gather(t));
            Coro.sleep(Duration.ofMillis(10));
            release.set();
            out.add(sel.join());
            out.add(aw.join());
            out.add("gather " + ga.join());
            out.add("join " + t.join());
            return out;
        });
        assertThat(log).containsExactly("select remote value", "await remote value", "gather [remote value]", "join remote value");
        assertThat(otherProgram.get(10, TimeUnit.SECONDS)).isEqualTo("remote value");
    }

    @Test
    void aGeneratorBodyInABlockingCallIsInterruptedWhenTheTaskSteppingItIsCancelled() throws Exception {
        CoroutineLocal<String> request = new CoroutineLocal<>("request");
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            request.set("r1");
            Event inCall = new Event();
            Generator<String, Object, Void> g = Generator.of(co -> {
                try {
                    co.yield(Coro.blocking(request::get));
                    co.yield(Coro.blocking(() -> {
                        inCall.set();
                        try {
                            Thread.sleep(30_000);
                            return "slept";
                        } catch (InterruptedException e) {
                            out.add("call interrupted");
                            throw e;
                        }
                    }));
                } finally {
                    out.add("body finally");
                }
                return null;
            });
            Task<String> stepper = Coro.spawn(() -> {
                out.add("first " + g.next().value());
                return "second " + g.next().value();
            });
            inCall.await();
            stepper.cancel();
            out.add("stepper " + catchThrowable(stepper::join).getClass().getSimpleName());
            out.add("generator done " + g.isDone());
            return out;
        });
        assertThat(log).containsExactly("first r1", "call interrupted", "body finally", "stepper CancellationException",
                "generator done true");
    }

    @Test
    void anAsyncGeneratorSteppedByTasksInTurnAwaitsSpawnsSelectsAndLoopsInEach() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            Event e1 = new Event();
            Channel<String> ch = Channel.unbounded();
            Generator<String, Object, Void> g = Generator.of(co -> {
                co.yield("a by " + Coro.currentTask().name());
                e1.await();
                Task<String> child = Coro.spawn(() -> {
                    Coro.sleep(Duration.ofMillis(2));
                    return "child";
                });
                co.yield(child.join() + " " + Select.select(ch.onReceive(x -> x), Select.onTimeout(Duration.ofSeconds(5), () -> "timeout")));
                Task<Integer> first = Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(1)); return 1; });
                Task<Integer> second = Coro.spawn(() -> first.join() + 1);
                try (Generator<Task<Integer>, Object, Void> done = Coro.asCompleted(List.of(first, second))) {
                    for (Task<Integer> t : done) {
                        co.yield("completed " + t.join());
                    }
                }
                return null;
            });
            Task<String> a = Coro.spawn(() -> g.next().value());
            out.add(a.join().startsWith("a by task-") ? "a" : a.join());
            Task<String> b = Coro.spawn(() -> g.next().value());
            Coro.sleep(Duration.ofMillis(5));
            e1.set();
            ch.send("item");
            out.add(b.join());
            Task<List<String>> c = Coro.spawn(() -> {
                List<String> rest = new ArrayList<>();
                for (String x : Coro.withTimeout(Duration.ofSeconds(10), () -> {
                    List<String> r = new ArrayList<>();
                    Step<String, Void> st;
                    while (!(st = g.next()).isDone()) {
                        r.add(st.value());
                    }
                    return r;
                })) {
                    rest.add(x);
                }
                return rest;
            });
            out.addAll(c.join());
            return out;
        });
        assertThat(log).containsExactly("a", "child item", "completed 1", "completed 2");
    }

    @Test
    void aCancellationArrivingWhileAGeneratorBodyRunsComesAtTheSteppingTasksNextSuspension() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            for (int round = 0; round < 20; round++) {
                Generator<String, Object, Void> g = Generator.of(co -> {
                    Task<?> me = Coro.currentTask();
                    Thread th = Thread.ofPlatform().start(me::cancel);
                    th.join();
                    long end = System.nanoTime() + 2_000_000;
                    while (System.nanoTime() < end) Thread.onSpinWait();
                    co.yield("value");
                    co.yield("second");
                    return null;
                });
                Task<String> stepper = Coro.spawn(() -> {
                    String v = g.next().value();
                    String w;
                    try {
                        w = g.next().value();
                    } catch (CancellationException e) {
                        w = "second step cancelled";
                    }
                    try {
                        Coro.yieldNow();
                        return v + "," + w + ",not cancelled";
                    } catch (CancellationException e) {
                        return v + "," + w + ",cancelled";
                    }
                });
                out.add(stepper.join());
                g.close();
            }
            return out;
        });
        assertThat(log).allMatch("value,second,cancelled"::equals);
    }

    @Test
    void trySendFromPlainThreadsRacingCloseLosesNothingForTasksIterating() throws Exception {
        for (int round = 0; round < 100; round++) {
            Channel<Integer> ch = round % 2 == 0 ? Channel.unbounded() : Channel.bounded(4);
            AtomicInteger accepted = new AtomicInteger();
            AtomicInteger received = new AtomicInteger();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            AtomicInteger sendersDone = new AtomicInteger();
            for (int i = 0; i < 3; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try { start.await(); } catch (InterruptedException e) { return; }
                    try {
                    for (int k = 0; k < 5000; k++) {
                        try {
                            if (ch.trySend(k)) accepted.incrementAndGet();
                        } catch (ClosedChannelException e) {
                            return;
                        }
                    }
                    } finally {
                        sendersDone.incrementAndGet();
                    }
                }));
            }
            int closeAfter = round * 37 % 3000;
            threads.add(Thread.ofPlatform().start(() -> {
                try { start.await(); } catch (InterruptedException e) { return; }
                while (accepted.get() < closeAfter && sendersDone.get() < 3) Thread.onSpinWait();
                ch.close();
            }));
            runTask(Duration.ofSeconds(20), () -> {
                List<Task<Void>> consumers = new ArrayList<>();
                for (int c = 0; c < 2; c++) {
                    consumers.add(spawn(() -> {
                        for (int x : ch) {
                            received.incrementAndGet();
                        }
                    }));
                }
                start.countDown();
                for (Task<Void> t : consumers) t.join();
                return null;
            });
            for (Thread t : threads) t.join();
            assertThat(received.get()).as("round %d", round).isEqualTo(accepted.get());
            assertThat(ch.size()).isZero();
        }
    }

    @Test
    void gatherAndAsCompletedOfNoTasksOrOfOneTaskTwice() throws Exception {
        List<String> log = runTask(Duration.ofSeconds(20), () -> {
            List<String> out = new ArrayList<>();
            out.add("empty gather " + Coro.gather(List.<Task<String>>of()));
            out.add("empty settled " + Coro.gatherSettled(List.<Task<String>>of()));
            try (Generator<Task<String>, Object, Void> g = Coro.asCompleted(List.<Task<String>>of())) {
                out.add("empty asCompleted " + g.next().isDone());
            }
            Task<String> ok = Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(5)); return "ok"; });
            out.add("dup gather " + Coro.gather(ok, ok));
            Task<String> bad = Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(5)); throw new IllegalStateException("bad"); });
            Throwable t = catchThrowable(() -> Coro.gather(bad, bad));
            out.add("dup failing gather " + t + " suppressed " + t.getSuppressed().length);
            Task<String> bad2 = Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(5)); throw new IllegalStateException("bad"); });
            List<String> seen = new ArrayList<>();
            try (Generator<Task<String>, Object, Void> g = Coro.asCompleted(List.of(bad2, bad2))) {
                for (Task<String> d : g) {
                    seen.add(String.valueOf(catchThrowable(d::join).getMessage()));
                }
            }
            out.add("dup asCompleted " + seen);
            Task<String> bad3 = Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(5)); throw new IllegalStateException("bad"); });
            out.add("dup settled " + Coro.gatherSettled(List.of(bad3, bad3)).size());
            return out;
        });
        assertThat(log).containsExactly("empty gather []", "empty settled []", "empty asCompleted true", "dup gather [ok, ok]",
                "dup failing gather java.lang.IllegalStateException: bad suppressed 0", "dup asCompleted [bad, bad]",
                "dup settled 2");
    }

    private static int recurse(int n) {
        return recurse(n + 1) + 1;
    }

    @Test
    void aStackOverflowFailsOnlyItsTaskOrGeneratorAndTheSchedulerGoesOn() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Task<Integer> t = Coro.spawn(() -> recurse(0));
                out.add("uncaught " + catchThrowable(t::join).getClass().getSimpleName());
                Task<String> u = Coro.spawn(() -> {
                    try {
                        recurse(0);
                        return "no";
                    } catch (StackOverflowError e) {
                        Coro.sleep(Duration.ofMillis(1));
                        return "caught and slept";
                    }
                });
                out.add(u.join());
                Task<String> gen = Coro.spawn(() -> {
                    Generator<Integer, Object, Void> g = Generator.of(co -> {
                        co.yield(1);
                        co.yield(recurse(0));
                        return null;
                    });
                    g.next();
                    Throwable x = catchThrowable(g::next);
                    return "generator " + (x == null ? "none" : x.getClass().getSimpleName()) + " done " + g.isDone();
                });
                out.add(gen.join());
            }
            out.add(Coro.spawn(() -> { Coro.sleep(Duration.ofMillis(1)); return "still works"; }).join());
            return out;
        });
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            expected.addAll(List.of("uncaught StackOverflowError", "caught and slept", "generator StackOverflowError done true"));
        }
        expected.add("still works");
        assertThat(log).isEqualTo(expected);
    }
}
