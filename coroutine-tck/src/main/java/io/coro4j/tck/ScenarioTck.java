package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * End-to-end programs as a user writes them, each combining several parts (channels, semaphores,
 * locks, events, groups, timeouts, generators, locals), with exact counts at the end, bounded in
 * time by {@link #runTask}. Each runs its program {@link #ROUNDS} times, those that race two events
 * (a failure and a timeout, a spawn and a close) more. Where a timeout may reach a task before it
 * starts (a loaded machine), which then never runs its body, the test checks what that leaves.
 */
public abstract class ScenarioTck extends SchedulerTck {

    private static final int ROUNDS = 5;

    /** A crawler: URLs in a channel, workers in a group bounded by a semaphore, a timeout cancelling it all midway. */
    @Test
    void crawlerCancelledByTimeoutMidwayReturnsEveryPermitAndRunsEveryFinally() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            int urls = 1_000;
            int workers = 8;
            Semaphore permits = new Semaphore(3);
            Channel<Integer> queue = Channel.bounded(4);
            AtomicInteger sent = new AtomicInteger();
            AtomicInteger fetched = new AtomicInteger();
            AtomicInteger received = new AtomicInteger();
            AtomicInteger started = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean producerStarted = new java.util.concurrent.atomic.AtomicBoolean();
            AtomicInteger finallies = new AtomicInteger();
            List<Task<?>> tasks = new CopyOnWriteArrayList<>();
            Event halfway = new Event();
            Throwable thrown = runTask(() -> catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(300), () ->
                    Coro.taskGroup(g -> {
                        tasks.add(g.spawn(() -> {
                            started.incrementAndGet();
                            producerStarted.set(true);
                            try (queue) {
                                for (int i = 0; i < urls; i++) {
                                    queue.send(i);
                                    sent.incrementAndGet();
                                }
                            } finally {
                                finallies.incrementAndGet();
                            }
                            return null;
                        }));
                        for (int w = 0; w < workers; w++) {
                            tasks.add(g.spawn(() -> {
                                started.incrementAndGet();
                                try {
                                    for (Integer url : queue) {
                                        received.incrementAndGet();
                                        permits.acquire();
                                        try {
                                            Coro.sleep(Duration.ofMillis(1));
                                            if (fetched.incrementAndGet() == 20) {
                                                halfway.set();
                                            }
                                        } finally {
                                            permits.release();
                                        }
                                    }
                                } finally {
                                    finallies.incrementAndGet();
                                }
                                return null;
                            }));
                        }
                        halfway.await();
                        Coro.sleep(Duration.ofDays(1)); // the timeout ends it
                        return null;
                    }))));
            assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
            // the timeout may reach a task before it starts on a loaded machine: it then never runs its body
            assertThat(finallies.get()).isEqualTo(started.get());
            assertThat(permits.availablePermits()).isEqualTo(3);
            assertThat(permits.queueLength()).isZero();
            assertThat(queue.isClosed()).as("closed by the producer if it started").isEqualTo(producerStarted.get());
            assertThat(queue.sendersWaiting()).isZero();
            assertThat(queue.receiversWaiting()).isZero();
            int left = queue.size();
            assertThat(sent.get()).isEqualTo(received.get() + left);
            assertThat(fetched.get()).isBetween(halfway.isSet() ? 20 : 0, received.get());
            // Cancelled, as a rule; a worker that the group's cancellation reaches only after it found
            // the channel closed and drained (the producer cancelled first) returns instead.
            assertThat(tasks).hasSize(workers + 1).allMatch(Task::isDone)
                    .allMatch(t -> t.state() == java.util.concurrent.Future.State.CANCELLED
                            || t.state() == java.util.concurrent.Future.State.SUCCESS);
        }
    }

    /** Three stages over bounded channels, the middle one failing: the failure once, the others cancelled, items counted. */
    @Test
    void pipelineWithFailingMiddleStageSurfacesTheFailureOnceAndCountsEveryItem() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Channel<Integer> first = Channel.bounded(3);
            Channel<Integer> second = Channel.bounded(3);
            AtomicInteger produced = new AtomicInteger();
            AtomicInteger takenByMiddle = new AtomicInteger();
            AtomicInteger forwarded = new AtomicInteger();
            AtomicInteger consumed = new AtomicInteger();
            AtomicInteger droppedByMiddle = new AtomicInteger();
            IllegalArgumentException boom = new IllegalArgumentException("bad item 50");
            List<Task<?>> stages = new CopyOnWriteArrayList<>();
            Throwable thrown = runTask(() -> catchThrowable(() -> Coro.taskGroup(g -> {
                stages.add(g.spawn(() -> {
                    for (int i = 0; ; i++) {
                        first.send(i);
                        produced.incrementAndGet();
                    }
                }));
                stages.add(g.spawn(() -> {
                    for (Integer x : first) {
                        takenByMiddle.incrementAndGet();
                        if (x == 50) {
                            droppedByMiddle.incrementAndGet();
                            throw boom;
                        }
                        Coro.yieldNow();
                        second.send(x * 2);
                        forwarded.incrementAndGet();
                    }
                    return null;
                }));
                stages.add(g.spawn(() -> {
                    for (Integer x : second) {
                        consumed.incrementAndGet();
                        Coro.sleep(Duration.ofNanos(1_000));
                    }
                    return null;
                }));
                return null;
            })));
            assertThat(thrown).isSameAs(boom);
            assertThat(thrown.getSuppressed()).isEmpty();
            assertThat(stages.get(0).isCancelled()).isTrue();
            assertThat(stages.get(2).isCancelled()).isTrue();
            assertThat(takenByMiddle.get()).isEqualTo(51);
            assertThat(produced.get()).isEqualTo(takenByMiddle.get() + first.size());
            assertThat(forwarded.get()).isEqualTo(50);
            assertThat(forwarded.get()).isEqualTo(consumed.get() + second.size());
            assertThat(droppedByMiddle.get()).isOne();
            assertThat(first.sendersWaiting() + first.receiversWaiting() + second.sendersWaiting()
                    + second.receiversWaiting()).isZero();
        }
    }

    /** An async generator awaiting a channel feeds a consumer that stops early; then a consumer cancelled while the generator awaits. */
    @Test
    void asyncGeneratorClosedEarlyOrCancelledWhileAwaitingRunsItsFinallyAndLeavesNoWaiter() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Channel<Integer> source = Channel.unbounded();
            AtomicInteger finallies = new AtomicInteger();
            AtomicReference<Throwable> seenInBody = new AtomicReference<>();
            Generator<Integer, Object, Void> gen = Generator.of(scheduler, co -> {
                try {
                    for (Integer x : source) {
                        Coro.sleep(Duration.ofNanos(1_000));
                        co.yield(x * 10);
                    }
                } catch (Throwable t) {
                    seenInBody.set(t);
                    throw t;
                } finally {
                    finallies.incrementAndGet();
                }
                return null;
            });
            List<Integer> got = runTask(() -> Coro.taskGroup(g -> {
                g.spawn(() -> {
                    for (int i = 0; i < 100; i++) {
                        source.send(i);
                        Coro.yieldNow();
                    }
                    return null;
                });
                return g.spawn(() -> {
                    List<Integer> out = new ArrayList<>();
                    try (gen) {
                        for (Integer y : gen) {
                            out.add(y);
                            if (out.size() == 5) {
                                break;
                            }
                        }
                    }
                    return out;
                }).join();
            }));
            assertThat(got).containsExactly(0, 10, 20, 30, 40);
            assertThat(gen.isDone()).isTrue();
            assertThat(finallies.get()).isOne();
            assertThat(seenInBody.get()).isInstanceOf(io.coro4j.GeneratorExit.class);

            // now a consumer cancelled while the generator body waits in receive
            Channel<Integer> empty = Channel.rendezvous();
            AtomicInteger finallies2 = new AtomicInteger();
            Generator<Integer, Object, Void> gen2 = Generator.of(scheduler, co -> {
                try {
                    for (Integer x : empty) {
                        co.yield(x);
                    }
                } finally {
                    finallies2.incrementAndGet();
                }
                return null;
            });
            Throwable consumerOutcome = runTask(() -> {
                Task<Object> consumer = Coro.spawn(() -> {
                    for (Integer y : gen2) {
                        throw new AssertionError("no item was sent: " + y);
                    }
                    return null;
                });
                until("the generator waits in receive", () -> empty.receiversWaiting() == 1);
                consumer.cancel();
                return catchThrowable(consumer::join);
            });
            assertThat(consumerOutcome).isInstanceOf(CancellationException.class);
            assertThat(empty.receiversWaiting()).isZero();
            assertThat(finallies2.get()).isOne();
            assertThat(gen2.isDone()).isTrue();
        }
    }

    /** A Lock-protected read-modify-write counter, the tasks cancelled and timed out at random: the count is exact. */
    @Test
    void lockProtectedCounterUnderCancellationsAndTimeoutsIsExact() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Lock lock = new Lock();
            int[] counter = {0};
            AtomicInteger committed = new AtomicInteger();
            AtomicInteger timedOut = new AtomicInteger();
            runTask(() -> {
                List<Task<Void>> tasks = new ArrayList<>();
                for (int t = 0; t < 200; t++) {
                    int id = t;
                    tasks.add(Coro.spawn(() -> {
                        for (int i = 0; i < 20; i++) {
                            Object r = Coro.withTimeoutOrNull(Duration.ofMillis(id % 3 == 0 ? 1 : 50), () -> {
                                lock.lock();
                                try {
                                    int v = counter[0];
                                    Coro.yieldNow();
                                    counter[0] = v + 1;
                                    committed.incrementAndGet();
                                } finally {
                                    lock.unlock();
                                }
                                return "ok";
                            });
                            if (r == null) {
                                timedOut.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                }
                for (int t = 0; t < tasks.size(); t += 7) {
                    tasks.get(t).cancel();
                }
                Coro.gatherSettled(tasks);
                return null;
            });
            assertThat(counter[0]).isEqualTo(committed.get());
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.queueLength()).isZero();
        }
    }

    /** 1,000 tasks held at an Event barrier and gathered; a supervisor group with mixed failures reports each once. */
    @Test
    void eventBarrierGatherAndSupervisorGroupReportEachFailureExactlyOnce() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Event start = new Event();
            AtomicInteger started = new AtomicInteger();
            List<Integer> results = runTask(() -> {
                List<Task<Integer>> tasks = new ArrayList<>();
                for (int i = 0; i < 1_000; i++) {
                    int n = i;
                    tasks.add(Coro.spawn(() -> {
                        start.await();
                        started.incrementAndGet();
                        return n;
                    }));
                }
                until("all wait at the barrier", () -> start.queueLength() == 1_000);
                assertThat(started.get()).isZero();
                start.set();
                return Coro.gather(tasks);
            });
            assertThat(results).hasSize(1_000);
            for (int i = 0; i < 1_000; i++) {
                assertThat(results.get(i)).isEqualTo(i);
            }
            assertThat(start.queueLength()).isZero();

            Event go = new Event();
            Throwable thrown = runTask(() -> catchThrowable(() -> Coro.supervisorGroup(g -> {
                List<Task<Integer>> children = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    int n = i;
                    children.add(g.spawn(() -> {
                        go.await();
                        Coro.yieldNow();
                        if (n % 10 == 3) {
                            throw new IllegalStateException("child " + n);
                        }
                        if (n % 10 == 7) {
                            Coro.sleep(Duration.ofDays(1));
                        }
                        return n;
                    }));
                }
                until("all wait", () -> go.queueLength() == 100);
                go.set();
                // cancel the sleepers (n % 10 == 7); join child 13, whose failure is then observed, not reported
                for (int i = 0; i < 100; i++) {
                    if (i % 10 == 7) {
                        children.get(i).cancel();
                    }
                }
                Throwable j = catchThrowable(children.get(13)::join);
                assertThat(j).hasMessage("child 13");
                return null;
            })));
            assertThat(thrown).isInstanceOf(IllegalStateException.class);
            Set<String> reported = new HashSet<>();
            List<String> all = new ArrayList<>();
            all.add(thrown.getMessage());
            for (Throwable s : thrown.getSuppressed()) {
                all.add(s.getMessage());
            }
            reported.addAll(all);
            Set<String> expected = new HashSet<>();
            for (int i = 3; i < 100; i += 10) {
                if (i != 13) {
                    expected.add("child " + i);
                }
            }
            assertThat(all).as("each failure once, cancellations not reported").hasSize(expected.size());
            assertThat(reported).isEqualTo(expected);
        }
    }

    /** A request id in a CoroutineLocal follows spawn, gather, blocking and generators: each log line carries its request's id. */
    @Test
    void requestIdsFollowEveryPartOfARequest() throws Exception {
        CoroutineLocal<String> requestId = new CoroutineLocal<>("request-id");
        for (int round = 0; round < ROUNDS; round++) {
            List<String> log = new CopyOnWriteArrayList<>();
            runTask(() -> {
                List<Task<Void>> requests = new ArrayList<>();
                for (int r = 0; r < 50; r++) {
                    String id = "req-" + r;
                    requests.add(Coro.spawn(() -> {
                        requestId.set(id);
                        log.add(id + " " + requestId.get() + " start");
                        Coro.sleep(Duration.ofNanos(1_000));
                        List<String> parts = Coro.gather(
                                Coro.spawn(() -> { Coro.yieldNow(); return requestId.get(); }),
                                Coro.spawn(() -> Coro.blocking(() -> requestId.get())));
                        for (String p : parts) {
                            log.add(id + " " + p + " part");
                        }
                        String inBlocking = Coro.blocking(() -> requestId.get());
                        log.add(id + " " + inBlocking + " blocking");
                        Generator<String, Object, Void> gen = Generator.of(co -> {
                            for (int i = 0; i < 3; i++) {
                                Coro.sleep(Duration.ofNanos(1_000));
                                co.yield(requestId.get());
                            }
                            return null;
                        });
                        for (String g : gen) {
                            log.add(id + " " + g + " generator");
                        }
                        String afterGroup = Coro.taskGroup(tg -> tg.spawn(() -> requestId.get()).join());
                        log.add(id + " " + afterGroup + " group");
                        log.add(id + " " + requestId.get() + " end");
                        return null;
                    }));
                }
                Coro.gather(requests);
                return null;
            });
            assertThat(log).hasSize(50 * 9);
            for (String line : log) {
                String[] f = line.split(" ");
                assertThat(f[1]).as(line).isEqualTo(f[0]);
            }
        }
    }

    /** Coro.run called many times in a row on one scheduler from several plain threads at once. */
    @Test
    void coroRunManyTimesFromSeveralPlainThreadsAtOnce() throws Exception {
        int threads = 6;
        int runs = 300;
        CountDownLatch go = new CountDownLatch(1);
        AtomicInteger sum = new AtomicInteger();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t * runs;
            ts.add(Thread.ofPlatform().name("plain-" + t).start(() -> {
                try {
                    go.await();
                    for (int i = 0; i < runs; i++) {
                        int n = base + i;
                        int r = Coro.run(scheduler, () -> {
                            Task<Integer> a = Coro.spawn(() -> { Coro.yieldNow(); return n; });
                            Integer b = Coro.withTimeout(Duration.ofSeconds(30), () -> Coro.blocking(() -> 1));
                            return a.join() + b;
                        });
                        sum.addAndGet(r);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        go.countDown();
        for (Thread t : ts) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertThat(t.isAlive()).as("thread %s still running after 60 s", t.getName()).isFalse();
        }
        assertThat(failures).isEmpty();
        int total = threads * runs;
        assertThat(sum.get()).isEqualTo(total * (total - 1) / 2 + total);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (scheduler.stats().liveFibers() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(scheduler.stats().liveFibers()).isZero();
    }

    /** A plain thread spawns into an open group while the group closes: each child it got runs before the group returns. */
    @Test
    void plainThreadSpawningIntoAClosingGroupNeverLeavesAChildBehind() throws Exception {
        for (int round = 0; round < 50; round++) {
            AtomicInteger spawned = new AtomicInteger();
            AtomicInteger ended = new AtomicInteger();
            AtomicReference<Throwable> refusal = new AtomicReference<>();
            CountDownLatch groupOpen = new CountDownLatch(1);
            AtomicReference<io.coro4j.TaskGroup> group = new AtomicReference<>();
            Thread spawner = Thread.ofPlatform().start(() -> {
                try {
                    groupOpen.await();
                    for (int i = 0; i < 100_000; i++) {
                        group.get().spawn(() -> {
                            ended.incrementAndGet();
                            return null;
                        });
                        spawned.incrementAndGet();
                    }
                } catch (Throwable e) {
                    refusal.set(e);
                }
            });
            int endedAtReturn = runTask(() -> {
                Coro.taskGroup(g -> {
                    group.set(g);
                    groupOpen.countDown();
                    until("some spawned", () -> spawned.get() > 10);
                    return null;
                });
                return ended.get();
            });
            spawner.join(10_000);
            assertThat(spawner.isAlive()).isFalse();
            assertThat(endedAtReturn).as("children ended when the group returned, of %s spawned", spawned.get())
                    .isGreaterThanOrEqualTo(spawned.get());
        }
    }

    /** A child failing just as a timeout around its group expires: if the failure happened, it surfaces (a real failure outranks the cancellation). */
    @Test
    void childFailureRacingTheTimeoutAroundItsGroupIsNeverLost() throws Exception {
        for (int round = 0; round < 200; round++) {
            AtomicInteger threw = new AtomicInteger();
            IllegalStateException boom = new IllegalStateException("boom " + round);
            Throwable thrown = runTask(() -> catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(2), () ->
                    Coro.taskGroup(g -> {
                        g.spawn(() -> {
                            try {
                                Coro.sleep(Duration.ofMillis(2));
                            } catch (CancellationException e) {
                                threw.incrementAndGet();
                                throw boom; // a failure while cancelled: still a real failure
                            }
                            threw.incrementAndGet();
                            throw boom;
                        });
                        Coro.sleep(Duration.ofDays(1));
                        return null;
                    }))));
            if (threw.get() == 1) {
                assertThat(thrown).as("round %s", round).isSameAs(boom);
            } else {
                assertThat(thrown).as("round %s: the child never started", round).isInstanceOf(TimeoutExceededException.class);
            }
        }
    }

    /** A generator stepped by plain threads sees each thread's own CoroutineLocal values; one stepped by a task sees the task's. */
    @Test
    void generatorSeesTheCoroutineLocalsOfWhoeverStepsIt() throws Exception {
        CoroutineLocal<String> id = new CoroutineLocal<>("id");
        for (int round = 0; round < ROUNDS; round++) {
            Generator<String, Object, Void> gen = Generator.of(scheduler, co -> {
                while (true) {
                    co.yield(id.get());
                }
            });
            List<String> seen = new CopyOnWriteArrayList<>();
            for (int t = 0; t < 3; t++) {
                String mine = "thread-" + t;
                Thread th = Thread.ofPlatform().start(() -> {
                    id.set(mine);
                    seen.add(mine + "=" + gen.next().value());
                });
                th.join(10_000);
            }
            String inTask = runTask(() -> {
                id.set("task");
                return gen.next().value();
            });
            gen.close();
            assertThat(seen).containsExactly("thread-0=thread-0", "thread-1=thread-1", "thread-2=thread-2");
            assertThat(inTask).isEqualTo("task");

            // a value set in the body is the stepping context's
            Generator<Void, Object, Void> setter = Generator.of(scheduler, co -> {
                id.set("from-body");
                co.yield(null);
                return null;
            });
            String afterInTask = runTask(() -> {
                id.set("task");
                setter.next();
                return id.get();
            });
            setter.close();
            assertThat(afterInTask).isEqualTo("from-body");
        }
    }

    /** The thread blocked in Coro.run is interrupted midway through a crawl: everything is cancelled and cleaned up. */
    @Test
    void interruptingCoroRunCancelsTheWholeProgramAndCleansUp() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Semaphore permits = new Semaphore(2);
            Channel<Integer> queue = Channel.rendezvous();
            AtomicInteger finallies = new AtomicInteger();
            AtomicInteger fetched = new AtomicInteger();
            CountDownLatch busy = new CountDownLatch(10);
            // Ten fetches can be made by two or three workers while a carrier that stalls holds the
            // fourth unstarted; cancelled before it started, a worker never runs its finally.
            CountDownLatch workersRun = new CountDownLatch(4);
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            AtomicReference<Boolean> interruptKept = new AtomicReference<>();
            Thread main = Thread.ofPlatform().start(() -> {
                try {
                    Coro.run(scheduler, () -> Coro.taskGroup(g -> {
                        for (int w = 0; w < 4; w++) {
                            g.spawn(() -> {
                                workersRun.countDown();
                                try {
                                    for (Integer u : queue) {
                                        permits.acquire();
                                        try {
                                            Coro.blocking(() -> {
                                                Thread.sleep(1);
                                                return null;
                                            });
                                            fetched.incrementAndGet();
                                            busy.countDown();
                                        } finally {
                                            permits.release();
                                        }
                                    }
                                } finally {
                                    finallies.incrementAndGet();
                                }
                                return null;
                            });
                        }
                        try {
                            for (int i = 0; ; i++) {
                                queue.send(i);
                            }
                        } finally {
                            queue.close();
                            finallies.incrementAndGet();
                        }
                    }));
                } catch (Throwable e) {
                    outcome.set(e);
                }
                interruptKept.set(Thread.currentThread().isInterrupted());
            });
            assertThat(busy.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(workersRun.await(30, TimeUnit.SECONDS)).isTrue();
            main.interrupt();
            main.join(30_000);
            assertThat(main.isAlive()).isFalse();
            assertThat(outcome.get()).isInstanceOf(CancellationException.class);
            assertThat(interruptKept.get()).isTrue();
            assertThat(finallies.get()).isEqualTo(5);
            assertThat(permits.availablePermits()).isEqualTo(2);
            assertThat(queue.isClosed()).isTrue();
            assertThat(queue.receiversWaiting() + queue.sendersWaiting()).isZero();
        }
    }

    /** A generator stepped by a plain thread runs as that thread: outside any task, free to call Coro.run and blocking. */
    @Test
    void generatorSteppedByAPlainThreadIsOutsideAnyTaskOnEveryScheduler() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Generator<Object, Object, Void> gen = Generator.of(scheduler, co -> {
                co.yield(String.valueOf(Coro.currentTask()));
                co.yield(Coro.blocking(() -> "blocked"));
                co.yield(catchThrowable(() -> Coro.sleep(Duration.ofMillis(1))).getMessage());
                co.yield(Coro.run(scheduler, () -> {
                    Coro.sleep(Duration.ofMillis(1));
                    return "ran";
                }));
                return null;
            });
            List<Object> got = new CopyOnWriteArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread th = Thread.ofPlatform().start(() -> {
                try {
                    for (Object o : gen) {
                        got.add(o);
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            th.join(30_000);
            assertThat(failure.get()).isNull();
            assertThat(got).containsExactly("null", "blocked", "Coro.sleep" + OUTSIDE, "ran");
        }
    }

    /** The scheduler shut down while a program runs: the program's live tasks finish it (timers, channels, gathers, timeouts), a new spawn is refused. */
    @Test
    void programShutDownMidwayFinishesWithItsLiveTasks() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Scheduler s = newScheduler(2);
            CountDownLatch running = new CountDownLatch(1);
            CompletableFuture<List<Object>> done = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    done.complete(Coro.run(s, () -> {
                        Channel<Integer> ch = Channel.bounded(1);
                        Event shut = new Event();
                        Task<Integer> consumer = Coro.spawn(() -> {
                            int sum = 0;
                            for (Integer x : ch) {
                                sum += x;
                            }
                            return sum;
                        });
                        Task<String> sleeper = Coro.spawn(() -> {
                            shut.await();
                            Coro.sleep(Duration.ofMillis(5));
                            return "slept";
                        });
                        running.countDown();
                        until("shut down", s::isShutdown);
                        shut.set();
                        for (int i = 1; i <= 100; i++) {
                            ch.send(i);
                        }
                        ch.close();
                        Object timedOut = Coro.withTimeoutOrNull(Duration.ofMillis(5), () -> {
                            Coro.sleep(Duration.ofDays(1));
                            return "never";
                        });
                        Throwable refused = catchThrowable(() -> Coro.spawn(() -> 1));
                        String blocked = Coro.blocking(() -> "blocked");
                        List<Object> out = new ArrayList<>(Coro.gather(consumer, sleeper));
                        out.add(String.valueOf(timedOut));
                        out.add(refused.getClass().getSimpleName());
                        out.add(blocked);
                        return out;
                    }));
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
            assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
            s.shutdown();
            assertThat(await(done)).containsExactly(5050, "slept", "null", "RejectedExecutionException", "blocked");
            assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        }
    }

    private static void collect(Throwable t, java.util.Map<String, Integer> seen) {
        if (t == null || t instanceof CancellationException) {
            if (t != null) {
                for (Throwable x : t.getSuppressed()) {
                    collect(x, seen);
                }
            }
            return;
        }
        seen.merge(t.getMessage(), 1, Integer::sum);
        for (Throwable x : t.getSuppressed()) {
            collect(x, seen);
        }
    }

    /**
     * Spawns 20 children into {@code g}, child n returning n after a random number of yields, or,
     * when {@code failEvery} divides n, throwing {@code IllegalStateException("child n")}, which it
     * first adds to {@code happened}.
     */
    private static List<Task<Integer>> spawnChildren(TaskGroup g, java.util.SplittableRandom random, int failEvery,
                                                     Set<String> happened) {
        List<Task<Integer>> children = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            int n = i;
            int yields = random.nextInt(40);
            children.add(g.spawn(() -> {
                for (int y = 0; y < yields; y++) {
                    Coro.yieldNow();
                }
                if (n % failEvery == 0) {
                    happened.add("child " + n);
                    throw new IllegalStateException("child " + n);
                }
                return n;
            }));
        }
        return children;
    }

    /** Every failure that {@code happened} was reported exactly once, and nothing else was. */
    private static void assertEachReportedOnce(int round, Set<String> happened, java.util.Map<String, Integer> seen) {
        for (String h : happened) {
            assertThat(seen.get(h)).as("round %s: times %s was reported (seen %s)", round, h, seen).isEqualTo(1);
        }
        assertThat(seen.keySet()).isSubsetOf(happened);
    }

    /** A gather of a supervisor group's children, cancelled at a random moment: every child failure is reported exactly once, by the gather or by the group. */
    @Test
    void gatherCancelledMidwayAndItsGroupReportEveryChildFailureExactlyOnce() throws Exception {
        java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        for (int round = 0; round < 100; round++) {
            int cancelAfterYields = random.nextInt(40);
            java.util.Map<String, Integer> seen = new ConcurrentHashMap<>();
            Set<String> happened = ConcurrentHashMap.newKeySet();
            Throwable groupOutcome = runTask(() -> catchThrowable(() -> Coro.supervisorGroup(g -> {
                List<Task<Integer>> children = spawnChildren(g, random, 3, happened);
                Task<Void> gatherer = g.spawn(() -> {
                    try {
                        Coro.gather(children);
                    } catch (Throwable t) {
                        collect(t, seen);
                    }
                    return null;
                });
                for (int y = 0; y < cancelAfterYields; y++) {
                    Coro.yieldNow();
                }
                gatherer.cancel();
                gatherer.join();
                return null;
            })));
            collect(groupOutcome, seen);
            assertEachReportedOnce(round, happened, seen);
        }
    }

    /** asCompleted over a supervisor group's children, left early: the failures handed out and those the group reports are each failure exactly once. */
    @Test
    void asCompletedLeftEarlyAndItsGroupReportEveryChildFailureExactlyOnce() throws Exception {
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        for (int round = 0; round < 100; round++) {
            int stopAfter = random.nextInt(10);
            java.util.Map<String, Integer> seen = new ConcurrentHashMap<>();
            Set<String> happened = ConcurrentHashMap.newKeySet();
            Throwable groupOutcome = runTask(() -> catchThrowable(() -> Coro.supervisorGroup(g -> {
                List<Task<Integer>> children = spawnChildren(g, random, 2, happened);
                g.spawn(() -> {
                    int taken = 0;
                    try (Generator<Task<Integer>, Object, Void> loop = Coro.asCompleted(children)) {
                        for (Task<Integer> t : loop) {
                            try {
                                t.join();
                            } catch (IllegalStateException e) {
                                collect(e, seen);
                            }
                            if (++taken == stopAfter) {
                                break;
                            }
                        }
                    } catch (Throwable t) {
                        collect(t, seen);
                    }
                    return null;
                });
                return null;
            })));
            collect(groupOutcome, seen);
            assertEachReportedOnce(round, happened, seen);
        }
    }

    /** Failures raised while unwinding from a cancellation (a finally that throws) are never lost: body failure, gather, timeout. */
    @Test
    void failuresThrownWhileUnwindingFromACancellationAreNeverLost() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            java.util.Map<String, Integer> seen = new ConcurrentHashMap<>();
            Throwable a = runTask(() -> catchThrowable(() -> Coro.taskGroup(g -> {
                Event started = new Event();
                g.spawn(() -> {
                    try {
                        started.set();
                        Coro.sleep(Duration.ofDays(1));
                    } finally {
                        throw new IllegalStateException("cleanup A");
                    }
                });
                started.await();
                throw new IllegalArgumentException("body A");
            })));
            collect(a, seen);
            Throwable b = runTask(() -> catchThrowable(() -> {
                Event started = new Event();
                Task<Void> sleeper = Coro.spawn(() -> {
                    try {
                        started.set();
                        Coro.sleep(Duration.ofDays(1));
                    } finally {
                        throw new IllegalStateException("cleanup B");
                    }
                });
                Task<Void> failer = Coro.spawn(() -> {
                    started.await();
                    throw new IllegalArgumentException("fail B");
                });
                Coro.gather(sleeper, failer);
            }));
            collect(b, seen);
            // a child that the timeout reaches before it starts never runs its body (a loaded machine)
            java.util.concurrent.atomic.AtomicBoolean cStarted = new java.util.concurrent.atomic.AtomicBoolean();
            Throwable c = runTask(() -> catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(5), () -> Coro.taskGroup(g -> {
                g.spawn(() -> {
                    cStarted.set(true);
                    try {
                        Coro.sleep(Duration.ofDays(1));
                    } finally {
                        throw new IllegalStateException("cleanup C");
                    }
                });
                Coro.sleep(Duration.ofDays(1));
                return null;
            }))));
            if (cStarted.get()) {
                collect(c, seen);
            }
            Generator<Integer, Object, Void> gen = Generator.of(scheduler, co -> {
                try {
                    co.yield(1);
                } finally {
                    throw new IllegalStateException("cleanup D");
                }
            });
            gen.next();
            Throwable d = catchThrowable(gen::close);
            collect(d, seen);
            assertThat(a).hasMessage("body A");
            assertThat(b).hasMessage("fail B");
            if (cStarted.get()) {
                assertThat(c).hasMessage("cleanup C");
            } else {
                // Not collected: the timeout's message is no failure of the program's.
                assertThat(c).isInstanceOf(TimeoutExceededException.class);
                assertThat(c.getSuppressed()).isEmpty();
                seen.put("cleanup C", 1);
            }
            assertThat(d).hasMessage("cleanup D");
            assertThat(seen).containsOnly(java.util.Map.entry("body A", 1), java.util.Map.entry("cleanup A", 1),
                    java.util.Map.entry("fail B", 1), java.util.Map.entry("cleanup B", 1),
                    java.util.Map.entry("cleanup C", 1), java.util.Map.entry("cleanup D", 1));
        }
    }

    /** A timeout around the loop of an async generator (yieldFrom an inner one) expires while the inner body awaits: a timeout, both finally blocks ran once. */
    @Test
    void timeoutAroundAnAsyncGeneratorLoopExpiringInsideItsAwaitIsATimeout() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            AtomicInteger innerFinally = new AtomicInteger();
            AtomicInteger outerFinally = new AtomicInteger();
            Channel<Integer> never = Channel.rendezvous();
            Generator<Integer, Object, Void> inner = Generator.of(scheduler, co -> {
                try {
                    co.yield(1);
                    co.yield(never.receive());
                } finally {
                    innerFinally.incrementAndGet();
                }
                return null;
            });
            Generator<Integer, Object, Void> outer = Generator.of(scheduler, co -> {
                try {
                    co.yieldFrom(inner);
                } finally {
                    outerFinally.incrementAndGet();
                }
                return null;
            });
            List<Integer> got = new CopyOnWriteArrayList<>();
            Throwable thrown = runTask(() -> catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(20), () -> {
                try (outer) {
                    for (Integer x : outer) {
                        got.add(x);
                    }
                }
                return null;
            })));
            assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
            assertThat(got).containsExactly(1);
            assertThat(innerFinally.get()).isOne();
            assertThat(outerFinally.get()).isOne();
            assertThat(inner.isDone()).isTrue();
            assertThat(outer.isDone()).isTrue();
            assertThat(never.receiversWaiting()).isZero();
            Object orNull = runTask(() -> Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> {
                Generator<Integer, Object, Void> g2 = Generator.of(co -> {
                    co.yield(Coro.withTimeout(Duration.ofDays(1), () -> never.receive()));
                    return null;
                });
                return g2.next();
            }));
            assertThat(orNull).isNull();
        }
    }

    /** An async generator's body works in the context of the task stepping it: sets, suspensions, blocking, spawn, a second stepping task. */
    @Test
    void asyncGeneratorBodyWorksInTheSteppingTasksContext() throws Exception {
        CoroutineLocal<String> id = new CoroutineLocal<>("id");
        for (int round = 0; round < ROUNDS; round++) {
            Generator<String, Object, Void> gen = Generator.of(scheduler, co -> {
                String first = id.get();
                id.set(first + "+body");
                Coro.sleep(Duration.ofMillis(1));
                String afterSleep = id.get();
                String inBlocking = Coro.blocking(() -> id.get());
                String inChild = Coro.spawn(() -> { Coro.yieldNow(); return id.get(); }).join();
                co.yield(first + "|" + afterSleep + "|" + inBlocking + "|" + inChild);
                String second = id.get();
                Coro.sleep(Duration.ofMillis(1));
                co.yield(second + "|" + id.get());
                return null;
            });
            List<String> a = runTask(() -> {
                id.set("A");
                String step = gen.next().value();
                return List.of(step, id.get());
            });
            List<String> b = runTask(() -> {
                id.set("B");
                String step = gen.next().value();
                return List.of(step, id.get());
            });
            gen.close();
            assertThat(a).containsExactly("A|A+body|A+body|A+body", "A+body");
            assertThat(b).containsExactly("B|B", "B");
        }
    }

    /** Nested timeouts expiring together, around a group and a channel receive: the outer call times out, nothing stays pending. */
    @Test
    void nestedTimeoutsExpiringTogetherEndAsTheOuterTimeoutWithNothingPending() throws Exception {
        Channel<Integer> never = Channel.rendezvous();
        List<String> outcomes = runTask(() -> {
            List<String> out = new ArrayList<>();
            for (int round = 0; round < 300; round++) {
                Throwable t = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(1), () -> {
                    Object inner = Coro.withTimeoutOrNull(Duration.ofMillis(1), () -> Coro.taskGroup(g -> {
                        g.spawn(() -> never.receive());
                        return never.receive();
                    }));
                    Coro.sleep(Duration.ofDays(1));
                    return inner;
                }));
                out.add(t == null ? "null" : t.getClass().getSimpleName());
                Coro.yieldNow(); // no cancellation left pending
            }
            return out;
        });
        assertThat(outcomes).containsOnly("TimeoutExceededException");
        assertThat(never.receiversWaiting()).isZero();
    }

    /** Two schedulers in one program: a channel, a lock and a semaphore shared by their tasks, a generator of one stepped by a task of the other, awaits across. */
    @Test
    void programSpanningTwoSchedulersSharesPrimitivesAndGenerators() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Scheduler other = newScheduler(2);
            Channel<Integer> ch = Channel.bounded(2);
            Lock lock = new Lock();
            Semaphore sem = new Semaphore(1);
            int[] counter = {0};
            CompletableFuture<Integer> producerSide = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    producerSide.complete(Coro.run(other, () -> {
                        try (ch) {
                            for (int i = 1; i <= 200; i++) {
                                ch.send(i);
                                lock.lock();
                                try {
                                    int v = counter[0];
                                    Coro.yieldNow();
                                    counter[0] = v + 1;
                                } finally {
                                    lock.unlock();
                                }
                            }
                        }
                        return 200;
                    }));
                } catch (Throwable e) {
                    producerSide.completeExceptionally(e);
                }
            });
            Generator<Integer, Object, Void> gen = Generator.of(other, co -> {
                for (int i = 0; i < 5; i++) {
                    Coro.sleep(Duration.ofMillis(1));
                    sem.acquire();
                    try {
                        Coro.yieldNow();
                    } finally {
                        sem.release();
                    }
                    co.yield(i);
                }
                return null;
            });
            List<Integer> got = runTask(() -> {
                int sum = 0;
                for (Integer x : ch) {
                    lock.lock();
                    try {
                        int v = counter[0];
                        Coro.yieldNow();
                        counter[0] = v + 1;
                    } finally {
                        lock.unlock();
                    }
                    sum += x;
                }
                int genSum = 0;
                for (Integer y : gen) {
                    genSum += y;
                }
                return List.of(sum, genSum, Coro.await(producerSide));
            });
            assertThat(got).containsExactly(20100, 10, 200);
            assertThat(counter[0]).isEqualTo(400);
            assertThat(sem.availablePermits()).isOne();
        }
    }

    /** Coro.run in a completion callback that a task's end runs: refused with advice for a callback, never a carrier blocked for good. */
    @Test
    void coroRunInACompletionCallbackOfATaskEndIsRefusedAndNeverHangsTheOnlyCarrier() throws Exception {
        Scheduler one = newScheduler(1);
        CompletableFuture<Object> inCallback = new CompletableFuture<>();
        CompletableFuture<Object> program = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            try {
                program.complete(Coro.run(one, () -> {
                    Event go = new Event();
                    Task<Integer> t = Coro.spawn(() -> {
                        go.await(); // ends only after the callback is registered: the callback runs at its end
                        return 1;
                    });
                    t.toCompletableFuture().whenComplete((v, e) -> {
                        try {
                            inCallback.complete(Coro.run(one, () -> {
                                Coro.sleep(Duration.ofMillis(1));
                                return "ran";
                            }));
                        } catch (Throwable x) {
                            inCallback.complete(x.getClass().getSimpleName() + ": " + x.getMessage());
                        }
                    });
                    go.set();
                    return t.join();
                }));
            } catch (Throwable e) {
                program.completeExceptionally(e);
            }
        });
        Object r;
        try {
            r = inCallback.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("Coro.run in a completion callback hung for 10 s", e);
        }
        // Refused on both schedulers (the callback runs at the child's end, on its fiber's thread, outside
        // any task), with advice that fits a callback.
        assertThat(r).isEqualTo("IllegalStateException: Coro.run called on a fiber's thread outside any task (a"
                + " completion callback that a task's end runs there): it would block that fiber's thread; run the"
                + " program from a plain thread instead (for example CompletableFuture.runAsync(...))");
        assertThat(program.get(10, TimeUnit.SECONDS)).isEqualTo(1);
    }

    /** Plain threads call Coro.run in a loop while the scheduler is shut down: each run completes or is refused, none hangs, the counters add up. */
    @Test
    void coroRunLoopsRacingShutdownEachRunCompletesOrIsRefused() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Scheduler s = newScheduler(2);
            AtomicInteger completed = new AtomicInteger();
            List<Throwable> others = new CopyOnWriteArrayList<>();
            AtomicInteger refused = new AtomicInteger();
            CountDownLatch some = new CountDownLatch(50);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                ts.add(Thread.ofPlatform().start(() -> {
                    while (true) {
                        try {
                            int r = Coro.run(s, () -> {
                                Task<Integer> child = Coro.spawn(() -> {
                                    Coro.sleep(Duration.ofNanos(1_000));
                                    return 1;
                                });
                                return Coro.withTimeout(Duration.ofSeconds(30), child::join) + Coro.blocking(() -> 1);
                            });
                            if (r == 2) {
                                completed.incrementAndGet();
                            }
                            some.countDown();
                        } catch (java.util.concurrent.RejectedExecutionException e) {
                            refused.incrementAndGet();
                            return;
                        } catch (Throwable e) {
                            others.add(e);
                            return;
                        }
                    }
                }));
            }
            assertThat(some.await(30, TimeUnit.SECONDS)).isTrue();
            s.shutdown();
            for (Thread t : ts) {
                t.join(30_000);
                assertThat(t.isAlive()).isFalse();
            }
            assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
            assertThat(others).isEmpty();
            assertThat(refused.get()).isEqualTo(4);
            io.coro4j.spi.TaskCounters c = s.taskCounters();
            // a root accepted just before the shutdown whose spawn is then refused fails with that refusal
            assertThat(c.spawned()).isEqualTo(c.completed() + c.failed() + c.cancelled());
        }
    }
}
