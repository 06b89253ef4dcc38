package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.channel.Barrier;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Schedulers of both kinds in one program: a task waiting in a channel, lock, condition, semaphore,
 * event or barrier and woken by a task of the other scheduler resumes in its own fiber, on its own
 * scheduler's carrier, with nothing lost; and what a loom generator's body may do when a task of a
 * threadpool scheduler steps it. The body runs on a virtual thread of its own, outside that task
 * (Generator's javadoc): task operations there are refused with a message that says so, and a
 * close() of the stepping task's scheduler there, which would wait for that task while the task
 * waits for the body, is refused as inside that task, as is a join or get there of that task or
 * one it runs under; a loop of Coro.asCompleted made in a loom task is such a generator.
 */
class MixedSchedulersTest {

    private static final AtomicInteger SEQ = new AtomicInteger();
    private final List<Scheduler> made = new ArrayList<>();

    private Scheduler create(String kind) {
        Scheduler s = Schedulers.create(kind, SchedulerConfig.builder().name("mixed-" + kind + SEQ.incrementAndGet())
                .parallelism(2).build());
        made.add(s);
        return s;
    }

    @AfterEach
    void shutDown() throws InterruptedException {
        for (Scheduler s : made) {
            s.shutdown();
        }
        for (Scheduler s : made) {
            assertThat(s.awaitTermination(Duration.ofSeconds(10))).as("%s terminates", s.name()).isTrue();
        }
    }

    /** Runs {@code main} as a task of {@code s}, waiting 10 s at most. */
    private static <T> T run(Scheduler s, Callable<T> main) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                f.complete(Coro.run(s, main));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f.get(10, TimeUnit.SECONDS);
    }

    /** A generator of {@code scheduler} whose body yields, once, {@link #outcome} of {@code step}. */
    private static Generator<String, Object, Void> yieldingTheOutcomeOf(Scheduler scheduler, Callable<?> step) {
        return Generator.of(scheduler, co -> {
            co.yield(outcome(step));
            return null;
        });
    }

    private static String outcome(Callable<?> c) {
        try {
            return "returned " + c.call();
        } catch (Throwable e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    /** Whether the caller runs in a fiber of {@code s} (on threadpool: on one of its carriers). */
    private static boolean onItsOwn(Scheduler s) {
        Fiber f = Schedulers.currentFiber();
        return f != null && f.scheduler() == s
                && (!s.kind().equals("threadpool") || Thread.currentThread().getName().contains("coro4j-" + s.name() + "-"));
    }

    private static final int ROUNDS = 500;

    /**
     * Two tasks, one of each scheduler, take turns ROUNDS times through each primitive; every
     * return from a wait is checked to be in the task's own fiber and carrier. Counts exact.
     */
    @ParameterizedTest
    @CsvSource({"threadpool,loom", "loom,threadpool"})
    void aWaiterWokenByATaskOfTheOtherKindResumesOnItsOwnSchedulerAndNothingIsLost(String kindA, String kindB)
            throws Exception {
        Scheduler[] both = {create(kindA), create(kindB)};
        Channel<Integer> ping = Channel.rendezvous();
        Channel<Integer> pong = Channel.rendezvous();
        Lock lock = new Lock();
        Condition turnChanged = new Condition(lock);
        Semaphore semaphore = new Semaphore(1);
        Barrier barrier = new Barrier(2);
        Event[] events = new Event[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
            events[i] = new Event();
        }
        int[] turn = {0};
        int[] inside = {0};
        List<CompletableFuture<List<Integer>>> sides = new ArrayList<>();
        for (int side = 0; side < 2; side++) {
            int me = side;
            Scheduler own = both[side];
            CompletableFuture<List<Integer>> f = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    f.complete(Coro.run(own, () -> {
                        int elsewhere = 0;
                        int sum = 0;
                        int overlaps = 0;
                        for (int i = 0; i < ROUNDS; i++) {
                            if (me == 0) {
                                ping.send(i);
                                sum += pong.receive();
                            } else {
                                int x = ping.receive();
                                elsewhere += onItsOwn(own) ? 0 : 1;
                                pong.send(x);
                                sum += x;
                            }
                            elsewhere += onItsOwn(own) ? 0 : 1;
                            lock.lock();
                            try {
                                while (turn[0] != me) {
                                    turnChanged.await();
                                    elsewhere += onItsOwn(own) ? 0 : 1;
                                }
                                turn[0] = 1 - me;
                                turnChanged.signalAll();
                            } finally {
                                lock.unlock();
                            }
                            semaphore.acquire();
                            try {
                                elsewhere += onItsOwn(own) ? 0 : 1;
                                overlaps += inside[0]++;
                                Coro.yieldNow();
                                inside[0]--;
                            } finally {
                                semaphore.release();
                            }
                            barrier.await();
                            elsewhere += onItsOwn(own) ? 0 : 1;
                            if (me == 0) {
                                events[i].await();
                                elsewhere += onItsOwn(own) ? 0 : 1;
                            } else {
                                events[i].set();
                            }
                        }
                        return List.of(sum, elsewhere, overlaps);
                    }));
                } catch (Throwable e) {
                    f.completeExceptionally(e);
                }
            });
            sides.add(f);
        }
        int expectedSum = ROUNDS * (ROUNDS - 1) / 2;
        assertThat(sides.get(0).get(20, TimeUnit.SECONDS)).as("%s side: sum, wakes elsewhere, overlaps", kindA)
                .containsExactly(expectedSum, 0, 0);
        assertThat(sides.get(1).get(20, TimeUnit.SECONDS)).as("%s side: sum, wakes elsewhere, overlaps", kindB)
                .containsExactly(expectedSum, 0, 0);
        assertThat(semaphore.availablePermits()).isOne();
        assertThat(lock.isLocked()).isFalse();
        assertThat(turn[0]).isZero();
    }

    @Test
    void aTaskOperationInALoomGeneratorSteppedByAThreadpoolTaskIsRefusedSayingWhy() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        Generator<String, Object, Void> g = yieldingTheOutcomeOf(loom, () -> {
            Coro.sleep(Duration.ofMillis(1));
            return "slept";
        });
        String seen = run(pool, () -> g.next().toString());
        assertThat(seen).isEqualTo("Yielded[value=IllegalStateException: Coro.sleep called in the body of a generator of"
                + " scheduler \"" + loom.name() + "\" stepped by a task of scheduler \"" + pool.name() + "\": a loom"
                + " generator's body runs on a thread of its own, outside a task of another scheduler kind; make the"
                + " generator on the task's scheduler (Generator.of(body), or Coro.asCompleted, inside the task)]");
        g.close();
    }

    @Test
    void closingTheSteppingTasksSchedulerInALoomGeneratorBodyIsRefusedNotAHang() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        Generator<String, Object, Void> g = yieldingTheOutcomeOf(loom, () -> {
            pool.close();
            return "closed";
        });
        List<String> seen = run(pool, () -> List.of(g.next().toString(), Coro.currentTask().name()));
        assertThat(seen.get(0)).isEqualTo("Yielded[value=IllegalStateException: close() called in the body of a generator of"
                + " scheduler \"" + loom.name() + "\" stepped by " + seen.get(1) + ", a task of scheduler \"" + pool.name() + "\": it"
                + " would wait for that task, which waits for this step to end; call shutdown() instead, or close the"
                + " scheduler after the step]");
        assertThat(pool.isShutdown()).as("refused before it shut anything down").isFalse();
        g.close();
    }

    /**
     * A plain join or get, in a loom generator's body, of the threadpool task that steps it (or of a
     * task it runs under) would wait forever, that task waiting for the body: refused, as inside a
     * Coro.blocking call of that task.
     */
    @Test
    void aLoomGeneratorBodyJoiningTheThreadpoolTaskThatStepsItIsRefusedNotAHang() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        List<String> seen = run(pool, () -> {
            io.coro4j.Task<?> main = Coro.currentTask();
            io.coro4j.Task<String> child = Coro.spawn(() -> {
                Generator<String, Object, Void> g = Generator.of(loom, co -> {
                    co.yield(outcome(() -> main.join()));
                    co.yield(outcome(() -> main.get()));
                    return null;
                });
                return g.next() + " " + g.next();
            });
            return List.of(child.join(), main.name(), child.name());
        });
        String refusal = "IllegalStateException: Task.%s of " + seen.get(1) + " called in the body of a generator"
                + " stepped by " + seen.get(2) + ", which waits for the body: it would wait forever; wait for it"
                + " outside the generator";
        assertThat(seen.get(0)).isEqualTo("Yielded[value=" + refusal.formatted("join") + "] Yielded[value="
                + refusal.formatted("get") + "]");
    }

    /**
     * A loom generator stepped inside the body of a loom generator that a threadpool task steps: its
     * body runs on a virtual thread of its own too, and that task waits for it as for the outer body
     * (a generator body iterated inside a Coro.blocking call is inside that call the same way). A task
     * operation there says why it is refused, and a join of the stepping task or a close() of its
     * scheduler there is refused, not a hang.
     */
    @Test
    void aLoomGeneratorSteppedInTheBodyOfOneAThreadpoolTaskStepsIsRefusedAsThatBody() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        List<String> seen = run(pool, () -> {
            io.coro4j.Task<?> main = Coro.currentTask();
            Generator<String, Object, Void> outer = Generator.of(loom, co -> {
                Generator<String, Object, Void> inner = Generator.of(loom, in -> {
                    in.yield(outcome(() -> {
                        Coro.sleep(Duration.ofMillis(1));
                        return "slept";
                    }));
                    in.yield(outcome(() -> main.join()));
                    in.yield(outcome(() -> {
                        pool.close();
                        return "closed";
                    }));
                    return null;
                });
                for (String s : inner) {
                    co.yield(s);
                }
                return null;
            });
            List<String> out = new ArrayList<>();
            for (String s : outer) {
                out.add(s);
            }
            out.add(main.name());
            return out;
        });
        String task = seen.get(3);
        assertThat(seen.subList(0, 3)).containsExactly(
                "IllegalStateException: Coro.sleep called in the body of a generator of scheduler \"" + loom.name()
                        + "\" stepped by a task of scheduler \"" + pool.name() + "\": a loom generator's body runs on a"
                        + " thread of its own, outside a task of another scheduler kind; make the generator on the"
                        + " task's scheduler (Generator.of(body), or Coro.asCompleted, inside the task)",
                "IllegalStateException: Task.join of " + task + " called in the body of a generator stepped by " + task
                        + ", which waits for the body: it would wait forever; wait for it outside the generator",
                "IllegalStateException: close() called in the body of a generator of scheduler \"" + loom.name()
                        + "\" stepped by " + task + ", a task of scheduler \"" + pool.name() + "\": it would wait for"
                        + " that task, which waits for this step to end; call shutdown() instead, or close the"
                        + " scheduler after the step");
        assertThat(pool.isShutdown()).as("refused before it shut anything down").isFalse();
    }

    /**
     * Coro.asCompleted's javadoc: any task may iterate a loop another task made, except a loop made
     * in a loom task iterated by a threadpool task, whose step is refused saying why (not a hang).
     */
    @ParameterizedTest
    @CsvSource({"threadpool,loom", "loom,threadpool"})
    void aLoopOfAsCompletedMadeInATaskOfOneKindIteratedByATaskOfTheOther(String maker, String iterator)
            throws Exception {
        Scheduler makes = create(maker);
        Scheduler iterates = create(iterator);
        Generator<io.coro4j.Task<Integer>, Object, Void> loop = run(makes, () -> Coro.asCompleted(List.of(
                Coro.spawn(() -> 1), Coro.spawn(() -> 2))));
        String seen = run(iterates, () -> outcome(() -> {
            int sum = 0;
            for (io.coro4j.Task<Integer> t : loop) {
                sum += t.join();
            }
            return sum;
        }));
        assertThat(seen).isEqualTo(maker.equals("loom")
                ? "IllegalStateException: iterating Coro.asCompleted called in the body of a generator of scheduler \""
                        + makes.name() + "\" stepped by a task of scheduler \"" + iterates.name() + "\": a loom generator's"
                        + " body runs on a thread of its own, outside a task of another scheduler kind; make the generator"
                        + " on the task's scheduler (Generator.of(body), or Coro.asCompleted, inside the task)"
                : "returned 3");
    }
}
