package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.THROWABLE;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Event;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * asyncio semantics: the entry point, tasks, awaiting, gather, sleep, timeouts, cancellation,
 * task groups, async generators, blocking calls and coroutine-local context.
 */
public abstract class TaskTck extends SchedulerTck {

    private <T> T run(Callable<T> main) {
        return Coro.run(scheduler, main);
    }

    /**
     * Runs {@code main} as a task on {@code on}, from a thread of its own, and returns its value or
     * what it threw; fails, saying "hung: " and {@code hang}, if it has not ended in 20 s.
     */
    private static Object runOrFailAsHung(Scheduler on, String hang, Callable<?> main) throws Exception {
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-bounded-run").start(() -> {
            try {
                outcome.complete(Coro.run(on, main));
            } catch (Throwable e) {
                outcome.complete(e);
            }
        });
        try {
            return outcome.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("hung: " + hang);
        }
    }

    private static Duration ms(long millis) {
        return Duration.ofMillis(millis);
    }

    // ---- entry point ----

    @Test
    void runReturnsTheMainTasksValue() {
        assertThat(run(() -> "hello")).isEqualTo("hello");
    }

    @Test
    void runRethrowsAnUncheckedFailureAsItIsAndWrapsACheckedOne() {
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        assertThatThrownBy(() -> run(() -> {
            throw boom;
        })).isSameAs(boom);
        IOException io = new IOException("io");
        assertThatThrownBy(() -> run(() -> {
            throw io;
        })).isExactlyInstanceOf(CompletionException.class).hasCause(io);
    }

    @Test
    void runInsideATaskIsRejected() {
        String msg = run(() -> {
            try {
                Coro.run(scheduler, () -> 1);
                return "ran";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(msg).isEqualTo("Coro.run called from inside a fiber: it would block a carrier thread;"
                + " inside a task use Coro.spawn(...) and join() instead");
    }

    /** Interrupting the thread that waits in Coro.run cancels the main task; the thread keeps its interrupt. */
    @Test
    void interruptingTheThreadInRunCancelsTheMainTask() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<String> outcome = new CompletableFuture<>();
        Thread caller = Thread.ofPlatform().daemon().name("tck-run-caller").start(() -> {
            try {
                outcome.complete(run(() -> {
                    started.countDown();
                    new Event().await(); // never set: only a cancellation ends it
                    return "returned";
                }));
            } catch (CancellationException e) {
                outcome.complete("cancelled; still interrupted: " + Thread.currentThread().isInterrupted());
            } catch (Throwable e) {
                outcome.completeExceptionally(e);
            }
        });
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
        caller.interrupt();
        assertThat(await(outcome)).isEqualTo("cancelled; still interrupted: true");
    }

    @Test
    void usingTheApiOutsideATaskIsRejectedNamingTheCall() {
        assertThatThrownBy(() -> Coro.spawn(() -> 1)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("Coro.spawn called outside a task: start one with Coro.run(...)");
        assertThatThrownBy(() -> Coro.sleep(ms(1))).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("Coro.sleep called outside a task: start one with Coro.run(...)");
        assertThatThrownBy(() -> Coro.gather(List.of())).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("Coro.gather called outside a task: start one with Coro.run(...)");
        assertThat(Coro.currentTask()).isNull();
        Map<String, Callable<?>> calls = new java.util.LinkedHashMap<>();
        calls.put("Coro.yieldNow", () -> {
            Coro.yieldNow();
            return null;
        });
        calls.put("Coro.checkCancelled", () -> {
            Coro.checkCancelled();
            return null;
        });
        calls.put("Coro.await", () -> Coro.await(CompletableFuture.completedFuture(1)));
        calls.put("ListenableFutures.await", () -> io.coro4j.ListenableFutures.await(
                com.google.common.util.concurrent.Futures.immediateFuture(1)));
        calls.put("Coro.gatherSettled", () -> Coro.gatherSettled(List.of()));
        calls.put("Coro.asCompleted", () -> Coro.asCompleted(List.of()));
        calls.put("Coro.withTimeout", () -> Coro.withTimeout(ms(100), () -> 1));
        calls.put("Coro.withTimeoutOrNull", () -> Coro.withTimeoutOrNull(ms(100), () -> 1));
        calls.put("Coro.taskGroup", () -> Coro.taskGroup(g -> 1));
        calls.put("Coro.supervisorGroup", () -> Coro.supervisorGroup(g -> 1));
        for (Map.Entry<String, Callable<?>> call : calls.entrySet()) {
            assertThatThrownBy(() -> call.getValue().call()).as(call.getKey())
                    .isExactlyInstanceOf(IllegalStateException.class).hasMessage(call.getKey() + OUTSIDE);
        }
        Generator<Task<Integer>, Object, Void> loop = run(() -> Coro.asCompleted(List.of(Coro.spawn(() -> 1))));
        assertThatThrownBy(loop::next).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("iterating Coro.asCompleted" + OUTSIDE);
    }

    @Test
    void spawningOnAShutDownSchedulerIsRejected() {
        Scheduler s = newScheduler(1);
        s.shutdown();
        assertThatThrownBy(() -> Coro.run(s, () -> 1)).isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessage("scheduler \"" + s.name() + "\" is shut down: it accepts no new fibers");
    }

    @Test
    void badDurationsAreRejectedNamingTheValue() {
        run(() -> {
            assertThatThrownBy(() -> Coro.sleep(null)).isExactlyInstanceOf(NullPointerException.class)
                    .hasMessage("sleep duration must not be null");
            assertThatThrownBy(() -> Coro.sleep(Duration.ofSeconds(-1))).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("sleep duration PT-1S must not be negative");
            assertThatThrownBy(() -> Coro.withTimeout(Duration.ofMillis(-5), () -> 1))
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("timeout PT-0.005S must not be negative");
            assertThatThrownBy(() -> Coro.withTimeout(null, () -> 1))
                    .isExactlyInstanceOf(NullPointerException.class).hasMessage("timeout must not be null");
            return null;
        });
    }

    /**
     * A null argument is refused with a {@link NullPointerException} that names the parameter,
     * before anything runs or waits, inside a task and (for those callable there) outside one.
     */
    @Test
    void nullArgumentsAreRejectedNamingTheParameter() {
        assertThatThrownBy(() -> Coro.run(null, () -> 1)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("scheduler must not be null");
        assertThatThrownBy(() -> Coro.run(scheduler, null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("main must not be null");
        assertThatThrownBy(() -> new CoroutineLocal<String>(null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("name");
        assertThatThrownBy(() -> CoroutineLocal.withInitial("x", null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("initial");
        List<String> refused = run(() -> {
            List<String> out = new ArrayList<>();
            Map<String, Callable<?>> calls = new java.util.LinkedHashMap<>();
            calls.put("spawn", () -> Coro.spawn(null));
            calls.put("await", () -> Coro.await(null));
            calls.put("await ListenableFuture", () -> io.coro4j.ListenableFutures.await(null));
            calls.put("gather list", () -> Coro.gather((List<Task<Object>>) null));
            calls.put("gather element", () -> Coro.gather(java.util.Arrays.asList((Task<Object>) null)));
            calls.put("gatherSettled", () -> Coro.gatherSettled(null));
            calls.put("asCompleted list", () -> Coro.asCompleted(null));
            calls.put("asCompleted element", () -> Coro.asCompleted(java.util.Arrays.asList((Task<Object>) null)));
            calls.put("blocking", () -> Coro.blocking(null));
            calls.put("taskGroup", () -> Coro.taskGroup(null));
            calls.put("supervisorGroup", () -> Coro.supervisorGroup(null));
            calls.put("withTimeout body", () -> Coro.withTimeout(ms(10), null));
            calls.put("withTimeoutOrNull", () -> Coro.withTimeoutOrNull(null, () -> 1));
            calls.put("group spawn", () -> Coro.taskGroup(g -> g.spawn(null)));
            calls.put("CoroutineLocal.with", () -> new CoroutineLocal<String>("x").with("v", null));
            for (Map.Entry<String, Callable<?>> call : calls.entrySet()) {
                try {
                    call.getValue().call();
                    out.add(call.getKey() + ": returned");
                } catch (Exception e) {
                    out.add(call.getKey() + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
                }
            }
            return out;
        });
        assertThat(refused).containsExactly(
                "spawn: NullPointerException: body must not be null",
                "await: NullPointerException: stage must not be null",
                "await ListenableFuture: NullPointerException: future must not be null",
                "gather list: NullPointerException: tasks must not be null",
                "gather element: NullPointerException: task must not be null",
                "gatherSettled: NullPointerException: tasks must not be null",
                "asCompleted list: NullPointerException: tasks must not be null",
                "asCompleted element: NullPointerException: task must not be null",
                "blocking: NullPointerException: body must not be null",
                "taskGroup: NullPointerException: body must not be null",
                "supervisorGroup: NullPointerException: body must not be null",
                "withTimeout body: NullPointerException: body must not be null",
                "withTimeoutOrNull: NullPointerException: timeout must not be null",
                "group spawn: NullPointerException: body must not be null",
                "CoroutineLocal.with: NullPointerException: body");
    }

    /**
     * Durations too long to count in nanoseconds (over about 292 years, such as
     * {@code ChronoUnit.FOREVER}) and those just under that bound are as good as forever for a
     * sleep and a timeout: no deadline arithmetic overflows into one that has passed (a sleep that
     * ends at once, a timeout that expires at once) or throws. A cancel still ends such a sleep,
     * a shorter timeout around it still expires as itself, and a long timeout returns its body's value.
     */
    @Test
    void durationsTooLongToCountInNanosecondsActAsForever() {
        List<String> outcomes = run(() -> {
            List<String> out = new ArrayList<>();
            for (Duration big : List.of(java.time.temporal.ChronoUnit.FOREVER.getDuration(), Duration.ofSeconds(Long.MAX_VALUE),
                    Duration.ofNanos(Long.MAX_VALUE), Duration.ofNanos(Long.MAX_VALUE / 2 + 1))) {
                AtomicBoolean sleeping = new AtomicBoolean();
                Task<String> sleeper = Coro.spawn(() -> {
                    sleeping.set(true);
                    Coro.sleep(big);
                    return "woke";
                });
                until("the sleeper sleeps", sleeping::get);
                Coro.sleep(ms(5));
                sleeper.cancel();
                String cancelled;
                try {
                    cancelled = sleeper.join();
                } catch (CancellationException e) {
                    cancelled = "cancelled";
                }
                String value = Coro.withTimeout(big, () -> {
                    Coro.sleep(ms(2));
                    return "value";
                });
                String expired;
                try {
                    expired = Coro.withTimeout(ms(10), () -> {
                        Coro.sleep(big);
                        return "woke";
                    });
                } catch (TimeoutExceededException e) {
                    expired = e.getMessage();
                }
                String inner = Coro.withTimeoutOrNull(ms(10), () -> Coro.withTimeout(big, () -> {
                    Coro.sleep(big);
                    return "woke";
                }));
                out.add(cancelled + ", " + value + ", " + expired + ", " + inner);
            }
            return out;
        });
        assertThat(outcomes).containsExactly(
                "cancelled, value, timed out after PT0.01S, null",
                "cancelled, value, timed out after PT0.01S, null",
                "cancelled, value, timed out after PT0.01S, null",
                "cancelled, value, timed out after PT0.01S, null");
    }

    // ---- tasks and awaiting ----

    @Test
    void spawnedTasksRunConcurrentlyAndJoinReturnsTheirValues() {
        List<Integer> results = run(() -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                int v = i;
                tasks.add(Coro.spawn(() -> {
                    Coro.sleep(ms(10));
                    return v * v;
                }));
            }
            List<Integer> out = new ArrayList<>();
            for (Task<Integer> t : tasks) {
                out.add(t.join());
            }
            return out;
        });
        assertThat(results).hasSize(100);
        for (int i = 0; i < 100; i++) {
            assertThat(results.get(i)).isEqualTo(i * i);
        }
    }

    /** A join is woken by the joined task finishing, whoever spawned it: a sibling or a grandchild may join too. */
    @Test
    void aTaskCanJoinATaskItDidNotSpawn() {
        String result = run(() -> {
            Task<String> slow = Coro.spawn(() -> {
                Coro.sleep(ms(30));
                return "slow";
            });
            Task<String> sibling = Coro.spawn(() -> "sibling saw " + slow.join());
            Task<String> nephew = Coro.spawn(() -> Coro.spawn(() -> "nephew saw " + slow.join()).join());
            return sibling.join() + ", " + nephew.join();
        });
        assertThat(result).isEqualTo("sibling saw slow, nephew saw slow");
    }

    /**
     * A task ends only after the tasks spawned under it (by it, into its groups, and so on down),
     * so a wait of such a task for it would never end: join, gather, gatherSettled and asCompleted
     * refuse it with a message naming both tasks. Each wait is bounded, so that a wait that is not
     * refused shows as a null instead of hanging.
     */
    @Test
    void waitingForATaskOneRunsUnderIsRejected() throws Exception {
        // Bounded: a cancelled gather still waits for the tasks it cancelled, among them its root.
        List<String> out = runTask(Duration.ofSeconds(30), () -> {
            Task<?> root = Coro.currentTask();
            List<String> refusals = new ArrayList<>();
            Coro.spawn(() -> refusals.add(refusal(root, () -> root.join()))).join();
            Coro.taskGroup(g -> g.spawn(() -> Coro.supervisorGroup(inner -> inner.spawn(() -> refusals.add(
                    refusal(root, () -> Coro.gather(List.of(Coro.spawn(() -> "done"), root))))).join())).join());
            Coro.spawn(() -> refusals.add(refusal(root, () -> Coro.gatherSettled(List.of(root))))).join();
            Coro.spawn(() -> refusals.add(refusal(root, () -> {
                for (Task<?> t : Coro.asCompleted(onlyOf(root))) {
                    return t;
                }
                return "no task";
            }))).join();
            return refusals;
        });
        String tail = ", a task it runs under: a task ends only after the tasks spawned under it, so this would wait"
                + " forever; hand the value over another way (a Channel, a CompletableFuture)";
        assertThat(out).containsExactly(
                "WAITER cannot join ROOT" + tail,
                "WAITER cannot gather ROOT" + tail,
                "WAITER cannot gather ROOT" + tail,
                "WAITER cannot wait in Coro.asCompleted for ROOT" + tail);
    }

    /**
     * Past the first eight running tasks, a gather collects what it runs under instead of walking
     * up once per task: its parent, the nearest of them, is still among them, and a gather (or an
     * asCompleted loop) that waits for it behind eight running siblings is refused, not left to
     * wait forever.
     */
    @Test
    @SuppressWarnings({"unchecked", "rawtypes"}) // asCompleted takes a list of tasks of one type
    void aGatherOfTheGatherersParentBehindEightRunningSiblingsIsRefused() throws Exception {
        List<String> out = runTask(Duration.ofSeconds(30), () -> {
            List<String> refusals = new CopyOnWriteArrayList<>();
            Task<?> parent = Coro.spawn(() -> {
                Task<?> self = Coro.currentTask();
                List<Task<?>> waited = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    waited.add(Coro.spawn(() -> {
                        Coro.sleep(Duration.ofHours(1));
                        return null;
                    }));
                }
                waited.add(self); // the ninth running task
                Coro.spawn(() -> {
                    refusals.add(refusal(self, () -> Coro.gather(waited)));
                    refusals.add(refusal(self, () -> Coro.gatherSettled(waited)));
                    refusals.add(refusal(self, () -> {
                        for (Object t : Coro.asCompleted((List) waited)) {
                            return t;
                        }
                        return "no task";
                    }));
                    return null;
                }).join();
                for (Task<?> t : waited.subList(0, 8)) {
                    t.cancel();
                }
                return null;
            });
            parent.join();
            return refusals;
        });
        String tail = ", a task it runs under: a task ends only after the tasks spawned under it, so this would wait"
                + " forever; hand the value over another way (a Channel, a CompletableFuture)";
        assertThat(out).containsExactly(
                "WAITER cannot gather ROOT" + tail,
                "WAITER cannot gather ROOT" + tail,
                "WAITER cannot wait in Coro.asCompleted for ROOT" + tail);
    }

    /**
     * A step of an asCompleted loop that is refused (the stepping task runs under one of the loop's
     * tasks) throws that refusal, which says what was wrong: a failure the loop gives back as it
     * ends (claimed, and its group closed since) goes with it, suppressed, and does not replace it.
     */
    @Test
    @SuppressWarnings("unchecked") // the array that hands the loop to the task stepping it
    void aRefusedAsCompletedStepThrowsTheRefusalWithTheFailureItGivesBackSuppressed() throws Exception {
        Throwable thrown = runTask(Duration.ofSeconds(30), () -> {
            Event ready = new Event();
            Generator<Task<Object>, Object, Void>[] loop = new Generator[1];
            CompletableFuture<Throwable> stepped = new CompletableFuture<>();
            Task<Object> parent = Coro.spawn(() -> {
                Coro.spawn(() -> { // runs under parent, which is among the loop's tasks
                    ready.await();
                    try {
                        loop[0].next();
                        stepped.complete(null);
                    } catch (Throwable e) {
                        stepped.complete(e);
                    }
                    return null;
                });
                return "parent";
            });
            Coro.supervisorGroup(g -> {
                Task<Object> first = g.spawn(() -> {
                    throw new IllegalArgumentException("first failure");
                });
                Task<Object> second = g.spawn(() -> {
                    throw new IllegalArgumentException("second failure");
                });
                while (!first.isDone() || !second.isDone()) { // ended, and observed by nobody
                    Coro.yieldNow();
                }
                loop[0] = Coro.asCompleted(List.of(first, second, parent));
                assertThat(loop[0].next()).isNotNull(); // hands the first out; the second stays claimed
                return null;
            }); // the group closes, leaving the second failure to the loop
            ready.set();
            Throwable t = Coro.await(stepped);
            parent.join();
            return t;
        });
        assertThat(thrown).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot wait in Coro.asCompleted for");
        assertThat(thrown.getSuppressed()).extracting(Throwable::getMessage).containsExactly("second failure");
    }

    /** {@code List.of(task)}, typed for {@link Coro#asCompleted} also where the task's type is a wildcard. */
    private static <T> List<Task<T>> onlyOf(Task<T> task) {
        return List.of(task);
    }

    /**
     * The message of the IllegalStateException that {@code waitForRoot} threw in the current task,
     * with its name and {@code root}'s replaced by WAITER and ROOT; or what it returned, if anything
     * else (a wait not refused ends with a null after a second).
     */
    private static String refusal(Task<?> root, Callable<?> waitForRoot) throws Exception {
        String waiter = Coro.currentTask().name();
        try {
            return "returned " + Coro.withTimeoutOrNull(Duration.ofSeconds(1), waitForRoot);
        } catch (IllegalStateException e) {
            // The waiter was made after the root: its number is larger, so it is replaced first.
            return e.getMessage().replace(waiter, "WAITER").replace(root.name(), "ROOT");
        }
    }

    @Test
    void aTaskJoiningItselfIsRejected() {
        String msg = run(() -> {
            try {
                Coro.currentTask().join();
                return "joined";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(msg).startsWith("a task cannot join itself: it would wait forever (task-");
    }

    @Test
    void awaitingAFutureSuspendsTheTaskWithoutBlockingTheCarrier() {
        Scheduler loop = newScheduler(1);
        List<String> order = Coro.run(loop, () -> {
            List<String> log = new CopyOnWriteArrayList<>();
            CompletableFuture<String> f = new CompletableFuture<>();
            Task<Void> waiter = Coro.spawn(() -> {
                log.add("waiting");
                log.add("got " + Coro.await(f));
                return null;
            });
            // Spawned once the waiter runs: on loom the two could start on two carriers in either
            // order. On a one-carrier threadpool it then runs only if the await gave the carrier up.
            until("the waiter runs", () -> !log.isEmpty());
            Task<Void> other = Coro.spawn(() -> {
                log.add("other ran while the waiter was suspended");
                return null;
            });
            other.join();
            new Thread(() -> f.complete("value")).start();
            waiter.join();
            return log;
        });
        assertThat(order).containsExactly("waiting", "other ran while the waiter was suspended", "got value");
    }

    @Test
    void aCancellationThatArrivesWhileTheTaskYieldsIsRaisedByThatYield() throws Exception {
        // asyncio: a sleep(0) in which the task was cancelled raises CancelledError; it does not
        // return and leave the cancellation to the next suspension point. On one carrier another
        // task runs only while this one is suspended in yieldNow: a cancel from it comes during a yield.
        assumeTrue(honoursParallelism(), "needs one carrier: another task then runs only while the yielder yields");
        scheduler = newScheduler(1);
        List<String> log = runTask(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            AtomicBoolean cancelled = new AtomicBoolean();
            AtomicBoolean started = new AtomicBoolean();
            Task<Void> yielder = Coro.spawn(() -> {
                started.set(true);
                for (int i = 0; i < 100_000; i++) {
                    try {
                        Coro.yieldNow();
                    } catch (CancellationException e) {
                        out.add("yieldNow threw " + e.getClass().getSimpleName() + ", the cancel had come: " + cancelled.get());
                        throw e;
                    }
                    if (cancelled.get()) {
                        out.add("yieldNow returned after a cancel that came while it yielded");
                    }
                }
                out.add("never cancelled");
                return null;
            });
            until("the yielder runs", started::get);
            Coro.spawn(() -> {
                yielder.cancel();
                cancelled.set(true);
                return null;
            }).join();
            assertCancelled(yielder);
            return out;
        });
        assertThat(log).containsExactly("yieldNow threw CancellationException, the cancel had come: true");
    }

    @Test
    void tasksThatKeepYieldingOnEveryCarrierLetTasksWokenByATimerOrAPlainThreadRun() {
        // asyncio's sleep(0) loop lets the loop's timers and its I/O callbacks through; so must a
        // yieldNow loop: a task that keeps a carrier busy that way, on every carrier, must not shut
        // out a sleeper whose time is up, nor a task woken by a thread outside the scheduler.
        yieldersLetTasksWokenFromOutsideRun(false);
    }

    @Test
    void tasksThatKeepYieldingWithTheirInterruptStatusSetLetTasksWokenByATimerOrAPlainThreadRun() {
        // The status is the task's (it neither wakes nor cancels it): it must not make a yield that
        // lets tasks woken from outside through return at once instead.
        yieldersLetTasksWokenFromOutsideRun(true);
    }

    private void yieldersLetTasksWokenFromOutsideRun(boolean interrupted) {
        int yielders = Math.max(4, Runtime.getRuntime().availableProcessors());
        List<String> log = run(() -> {
            List<String> out = new CopyOnWriteArrayList<>();
            AtomicInteger woken = new AtomicInteger();
            CompletableFuture<String> fromAPlainThread = new CompletableFuture<>();
            Task<Void> sleeper = Coro.spawn(() -> {
                Coro.sleep(ms(10));
                out.add("sleeper woke");
                woken.incrementAndGet();
                return null;
            });
            Task<Void> awaiter = Coro.spawn(() -> {
                out.add("awaiter got " + Coro.await(fromAPlainThread));
                woken.incrementAndGet();
                return null;
            });
            long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(20); // a bound, not a hang
            List<Task<Boolean>> spinning = new ArrayList<>();
            for (int i = 0; i < yielders; i++) {
                spinning.add(Coro.spawn(() -> {
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                    }
                    while (woken.get() < 2 && System.nanoTime() - giveUpAt < 0) {
                        Coro.yieldNow();
                    }
                    boolean gaveUp = woken.get() < 2;
                    Thread.interrupted();
                    return gaveUp;
                }));
            }
            Thread plain = new Thread(() -> {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                fromAPlainThread.complete("a value");
            });
            plain.start();
            long gaveUp = Coro.gather(spinning).stream().filter(g -> g).count();
            sleeper.join();
            awaiter.join();
            out.add(gaveUp + " of the yielders gave up waiting");
            return out;
        });
        assertThat(log).containsExactlyInAnyOrder("sleeper woke", "awaiter got a value", "0 of the yielders gave up waiting");
        assertThat(log.get(2)).isEqualTo("0 of the yielders gave up waiting");
    }

    @Test
    void aShortSleepOfATaskWhoseCancellationIsPendingThrowsItAgain() throws Exception {
        // Level-triggered: a sleep in a cancelled task throws, however short, even one whose
        // deadline has passed by the time it looks (a nanosecond).
        String got = runTask(() -> {
            Event asleep = new Event();
            Task<String> t = Coro.spawn(() -> {
                try {
                    asleep.set();
                    Coro.sleep(Duration.ofHours(1));
                    return "slept an hour";
                } catch (CancellationException first) {
                    try {
                        Coro.sleep(Duration.ofNanos(1));
                        return "a 1 ns sleep returned in a cancelled task";
                    } catch (CancellationException again) {
                        return "a 1 ns sleep threw the cancellation again";
                    }
                }
            });
            asleep.await();
            t.cancel();
            return t.join();
        });
        assertThat(got).isEqualTo("a 1 ns sleep threw the cancellation again");
    }

    @Test
    void awaitingAFailedFutureRethrowsItsFailure() {
        IllegalStateException boom = new IllegalStateException("failed stage");
        Object got = run(() -> {
            try {
                return Coro.await(CompletableFuture.failedFuture(boom));
            } catch (IllegalStateException e) {
                return e;
            }
        });
        assertThat(got).isSameAs(boom);
        Object wrapped = run(() -> {
            try {
                return Coro.await(CompletableFuture.supplyAsync(() -> {
                    throw new CompletionException(new IOException("async io"));
                }));
            } catch (CompletionException e) {
                return e.getCause().getMessage();
            }
        });
        assertThat(wrapped).isEqualTo("async io");
    }

    @Test
    void awaitingAGuavaListenableFutureSuspendsUntilItCompletes() {
        Scheduler loop = newScheduler(1);
        List<String> log = Coro.run(loop, () -> {
            List<String> out = new CopyOnWriteArrayList<>();
            com.google.common.util.concurrent.SettableFuture<String> f =
                    com.google.common.util.concurrent.SettableFuture.create();
            Task<Void> waiter = Coro.spawn(() -> {
                out.add("waiting");
                out.add("got " + io.coro4j.ListenableFutures.await(f));
                return null;
            });
            // As in awaitingAFutureSuspendsTheTaskWithoutBlockingTheCarrier: spawned once the
            // waiter runs, so that on one threadpool carrier it runs only if the await gave it up.
            until("the waiter runs", () -> !out.isEmpty());
            Coro.spawn(() -> {
                out.add("carrier free");
                return null;
            }).join();
            new Thread(() -> f.set("guava value")).start();
            waiter.join();
            com.google.common.util.concurrent.SettableFuture<String> failed =
                    com.google.common.util.concurrent.SettableFuture.create();
            failed.setException(new IllegalStateException("guava failure"));
            try {
                io.coro4j.ListenableFutures.await(failed);
            } catch (IllegalStateException e) {
                out.add(e.getMessage());
            }
            return out;
        });
        assertThat(log).containsExactly("waiting", "carrier free", "got guava value", "guava failure");
    }

    @Test
    void aTaskIsUsableFromPlainJavaAsAFutureAndAStage() throws Exception {
        AtomicReference<Task<String>> escaped = new AtomicReference<>();
        run(() -> {
            escaped.set(Coro.spawn(() -> {
                Coro.sleep(ms(5));
                return "from a task";
            }));
            return null;
        });
        Task<String> t = escaped.get();
        assertThat(t.isDone()).isTrue();
        assertThat(t.get()).isEqualTo("from a task");
        assertThat(t.get(1, TimeUnit.SECONDS)).isEqualTo("from a task");
        assertThat(t.toCompletionStage().toCompletableFuture().get()).isEqualTo("from a task");
        assertThat(t.join()).isEqualTo("from a task");
    }

    @Test
    void awaitingAMinimalStageSuspendsUntilItCompletes() {
        String got = run(() -> {
            CompletableFuture<String> f = new CompletableFuture<>();
            Task<String> waiter = Coro.spawn(() -> Coro.await(f.minimalCompletionStage()));
            Task<String> child = Coro.spawn(() -> {
                Coro.sleep(ms(5));
                return "from a task";
            });
            String viaTask = Coro.await(child.toCompletionStage());
            new Thread(() -> f.complete("minimal")).start();
            return waiter.join() + ", " + viaTask;
        });
        assertThat(got).isEqualTo("minimal, from a task");
        // Cancelling a task that awaits a minimal stage cancels the task; the stage cannot be.
        String cancelled = run(() -> {
            CompletableFuture<String> never = new CompletableFuture<>();
            AtomicBoolean started = new AtomicBoolean();
            Task<String> waiter = Coro.spawn(() -> {
                started.set(true);
                return Coro.await(never.minimalCompletionStage());
            });
            until("the waiter runs", started::get); // cancelled before it started, it would never await
            Coro.sleep(ms(10));
            waiter.cancel();
            try {
                return waiter.join();
            } catch (CancellationException e) {
                return "cancelled, stage done: " + never.isDone();
            }
        });
        assertThat(cancelled).isEqualTo("cancelled, stage done: false");
        // A CompletableFuture whose toCompletableFuture() is another object can be cancelled, and is.
        String copied = run(() -> {
            CompletableFuture<String> never = new CompletableFuture<>() {
                @Override
                public CompletableFuture<String> toCompletableFuture() {
                    return thenApply(v -> v);
                }
            };
            AtomicBoolean started = new AtomicBoolean();
            Task<String> waiter = Coro.spawn(() -> {
                started.set(true);
                return Coro.await(never);
            });
            // Cancelled before it started, the waiter would never await the stage, so never cancel it
            // (a carrier that stalls 10 ms before it runs the waiter did that).
            until("the waiter runs", started::get);
            Coro.sleep(ms(10));
            waiter.cancel();
            try {
                return waiter.join();
            } catch (CancellationException e) {
                return "cancelled, stage cancelled: " + never.isCancelled();
            }
        });
        assertThat(copied).isEqualTo("cancelled, stage cancelled: true");
    }

    /** A task cancelled while it awaits a future cancels the future too: nobody waits for its result any more. */
    @Test
    void cancellingATaskThatAwaitsAFutureCancelsTheFuture() {
        CompletableFuture<String> plain = new CompletableFuture<>();
        com.google.common.util.concurrent.SettableFuture<String> guava =
                com.google.common.util.concurrent.SettableFuture.create();
        List<String> got = run(() -> {
            // Cancelled on the way to their wait or while they wait: either way the await ends
            // cancelled and cancels the future. (Cancelled before they start, they would never
            // get to it.)
            AtomicInteger started = new AtomicInteger();
            Task<String> a = Coro.spawn(() -> {
                started.incrementAndGet();
                return Coro.await(plain);
            });
            Task<String> b = Coro.spawn(() -> {
                started.incrementAndGet();
                return io.coro4j.ListenableFutures.await(guava);
            });
            yieldUntil(() -> started.get() == 2);
            a.cancel();
            b.cancel();
            List<String> out = new ArrayList<>();
            for (Task<String> t : List.of(a, b)) {
                try {
                    out.add(t.join());
                } catch (CancellationException e) {
                    // The task's own exception, as it is (not CompletableFuture.join's copy, JDK 23+).
                    out.add(e.getMessage().replace(t.name(), "<name>"));
                }
            }
            return out;
        });
        assertThat(got).containsExactly("task <name> was cancelled", "task <name> was cancelled");
        assertThat(plain.isCancelled()).as("the CompletableFuture").isTrue();
        assertThat(guava.isCancelled()).as("the ListenableFuture").isTrue();
    }

    // ---- gather ----

    /**
     * A task's stage is "completed when the task ends": a gather or an asCompleted loop that has
     * learned of the end (returned, or handed the task out) finds the stages taken before it
     * complete, as a join does. They were woken before the task's end had completed its stages
     * (a gather by a completion callback on the task's result, the loop by its end callback, both
     * run before the stages), and ran on another carrier at once. Before the fix, on loom: 8 of
     * 20,000 gathers and 3 of 20,000 loops found the stage undone (144 of 20,000 gathers alone, in a
     * probe without the loops); on threadpool 1 of 20,000 gathers in that probe, none in this test.
     */
    @Test
    void aGatherOrAnAsCompletedLoopThatLearnedOfATasksEndFindsItsStageComplete() {
        String out = run(() -> {
            int rounds = Stress.scaled(20_000);
            int gathers = 0;
            int loops = 0;
            for (int i = 0; i < rounds; i++) {
                Task<Integer> t = Coro.spawn(() -> 1);
                CompletableFuture<Integer> stage = t.toCompletableFuture();
                Coro.gather(t);
                if (!stage.isDone()) {
                    gathers++;
                }
                Task<Integer> u = Coro.spawn(() -> 2);
                CompletableFuture<Integer> stage2 = u.toCompletableFuture();
                try (Generator<Task<Integer>, Object, Void> loop = Coro.asCompleted(List.of(u))) {
                    loop.next();
                    if (!stage2.isDone()) {
                        loops++;
                    }
                }
            }
            return "stages undone: after " + gathers + " gathers, after " + loops + " loops";
        });
        assertThat(out).isEqualTo("stages undone: after 0 gathers, after 0 loops");
    }

    @Test
    void gatherReturnsResultsInTheOrderGiven() {
        List<Integer> r = run(() -> Coro.gather(
                Coro.spawn(() -> {
                    Coro.sleep(ms(30));
                    return 1;
                }),
                Coro.spawn(() -> 2),
                Coro.spawn(() -> {
                    Coro.sleep(ms(10));
                    return 3;
                })));
        assertThat(r).containsExactly(1, 2, 3);
    }

    @Test
    void gatherFailsFastCancellingTheOthersAndSuppressingTheirFailures() {
        List<String> cleanedUp = new CopyOnWriteArrayList<>();
        long t0 = System.nanoTime();
        // The failure comes once the two others run: cancelled before it started, a task never
        // runs its body, so neither cleans up nor fails (a carrier that stalls 10 ms did that).
        AtomicInteger running = new AtomicInteger();
        Throwable thrown = catchFrom(() -> run(() -> Coro.gather(
                Coro.spawn(() -> {
                    try {
                        running.incrementAndGet();
                        Coro.sleep(Duration.ofSeconds(30));
                        return "slow";
                    } finally {
                        cleanedUp.add("slow");
                    }
                }),
                Coro.spawn(() -> {
                    until("the two others run", () -> running.get() == 2);
                    Coro.sleep(ms(10));
                    throw new IllegalStateException("first failure");
                }),
                Coro.spawn(() -> {
                    try {
                        running.incrementAndGet();
                        Coro.sleep(Duration.ofSeconds(30));
                        return "slow too";
                    } catch (CancellationException e) {
                        throw new IllegalArgumentException("failed while cancelled");
                    }
                }))));
        assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("first failure");
        assertThat(thrown.getSuppressed()).hasSize(1);
        assertThat(thrown.getSuppressed()[0]).hasMessage("failed while cancelled");
        assertThat(cleanedUp).containsExactly("slow");
    }

    @Test
    void aCancelledGatherLeavesWhatItsTasksFailedWithToTheirGroup() {
        // The gather never hands the failure out, so the group that owns the task reports it:
        // here the gathering task's own, where it outranks the cancellation.
        Throwable thrown = run(() -> {
            AtomicBoolean aRuns = new AtomicBoolean();
            Task<List<Object>> gatherer = Coro.spawn(() -> {
                Task<Object> a = Coro.spawn(() -> {
                    aRuns.set(true);
                    return cleanupFails("a");
                });
                return Coro.gather(a, Coro.spawn(() -> sleepRecordingCancel(new ArrayList<>(), "b")));
            });
            // Cancelled before it started, a would never run its cleanup, so never fail (a carrier
            // that stalls 10 ms before it runs a did that): wait for a itself, not for the gatherer.
            until("a runs", aRuns::get);
            Coro.sleep(ms(10)); // the gather waits by now (or the cancel reaches a as the gatherer's child)
            gatherer.cancel();
            return catchFrom(gatherer::join);
        });
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("cleanup of a failed");
        assertThat(thrown.getSuppressed()).singleElement().isInstanceOf(CancellationException.class);
    }

    @Test
    void aFailureOfAGatheredTaskIsReportedWhenATimeoutCancelsTheGather() {
        // The task has started before the timeout is set: a task that the timeout's cancellation
        // reached before it started would never run its body, so would have no cleanup to fail
        // (on a loaded machine a child can take longer than 30 ms to start).
        // withTimeout: the timeout, with the task's failure (its spawner's group reports it).
        Throwable timedOut = catchFrom(() -> run(() -> {
            Task<Object> a = startedCleanupFails("a");
            return Coro.withTimeout(ms(30), () -> Coro.gather(a));
        }));
        assertThat(timedOut).isExactlyInstanceOf(TimeoutExceededException.class);
        assertThat(timedOut.getSuppressed()).singleElement().isExactlyInstanceOf(IllegalStateException.class)
                .hasFieldOrPropertyWithValue("message", "cleanup of a failed");
        // withTimeoutOrNull returns null, and the task's failure fails the task that spawned it.
        Throwable nulled = catchFrom(() -> run(() -> {
            Task<Object> a = startedCleanupFails("a");
            return Coro.withTimeoutOrNull(ms(30), () -> Coro.gather(a));
        }));
        assertThat(nulled).isExactlyInstanceOf(IllegalStateException.class).hasMessage("cleanup of a failed");
    }

    @Test
    void aTaskGatheredByAnotherTaskReportsItsFailureToItsOwnGroupWhenTheGatherIsCancelled() {
        // The owner's body has returned and its group waits for the task; the gathering task is
        // another one. The failure must reach the owner even though its group closes at once.
        String result = run(() -> {
            AtomicReference<Task<Object>> shared = new AtomicReference<>();
            AtomicInteger started = new AtomicInteger();
            Task<Object> owner = Coro.spawn(() -> {
                shared.set(Coro.spawn(() -> {
                    started.incrementAndGet();
                    return cleanupFails("a");
                }));
                return "the owner's body returned";
            });
            until("the task exists", () -> shared.get() != null);
            Task<List<Object>> gatherer = Coro.spawn(() -> {
                started.incrementAndGet();
                return Coro.gather(shared.get());
            });
            // Both started (cancelled before it started, a task never runs its body)
            until("both tasks run", () -> started.get() == 2);
            gatherer.cancel();
            assertThat(catchFrom(gatherer::join)).isExactlyInstanceOf(CancellationException.class);
            return catchFrom(owner::join).getMessage();
        });
        assertThat(result).isEqualTo("cleanup of a failed");
    }

    @Test
    void aCancelledGatherLeavesAloneWhatOthersObservedMeanwhile() {
        // The owner handles a's failure itself (a join, then a gather of its own) while another
        // task still gathers a; cancelling that gather must not make the owner's group report
        // the failure again.
        for (boolean ownGather : new boolean[] {false, true}) {
            String result = run(() -> {
                Task<Object> a = Coro.spawn(() -> {
                    Coro.sleep(ms(30));
                    throw new IllegalStateException("handled by the owner");
                });
                Task<Object> b = Coro.spawn(() -> {
                    Coro.sleep(Duration.ofSeconds(30));
                    return "b";
                });
                Task<List<Outcome<Object>>> other = Coro.spawn(() -> Coro.gatherSettled(List.of(a, b)));
                Coro.sleep(ms(5));
                Throwable handled = ownGather ? catchFrom(() -> Coro.gather(a)) : catchFrom(a::join);
                assertThat(handled).hasMessage("handled by the owner");
                other.cancel();
                assertThat(catchFrom(other::join)).isExactlyInstanceOf(CancellationException.class);
                b.cancel();
                return "returned";
            });
            assertThat(result).as("ownGather=%s", ownGather).isEqualTo("returned");
        }
    }

    /**
     * A task ({@code gatherer}) that gathers, as {@code gather} says, the child {@code c} of
     * another task ({@code owner}) and a task of its own ({@code slow}), which ends when
     * {@code slowMayEnd} is set. {@code c} fails with "c failed" when {@code cMayFail} is set; the
     * owner returns once {@code ownerMayReturn} is set, and its group then closes as soon as
     * {@code c} has ended. Built inside a task; returns once all four wait.
     */
    private record ForeignGather(Task<Object> owner, Task<Object> c, Task<Object> slow, Task<Object> gatherer,
                                 Event cMayFail, Event slowMayEnd, Event ownerMayReturn) {

        interface Body {
            Object gather(Task<Object> c, Task<Object> slow) throws Exception;
        }

        static ForeignGather start(Scheduler scheduler) {
            return start(scheduler, (c, slow) -> Coro.gatherSettled(List.of(c, slow)));
        }

        static ForeignGather start(Scheduler scheduler, Body gather) {
            Event cMayFail = new Event();
            Event slowMayEnd = new Event();
            Event ownerMayReturn = new Event();
            Event cSpawned = new Event();
            AtomicReference<Task<Object>> c = new AtomicReference<>();
            Task<Object> slow = Coro.spawn(() -> {
                slowMayEnd.await();
                return "slow";
            });
            Task<Object> owner = Coro.spawn(() -> {
                c.set(Coro.spawn(() -> {
                    cMayFail.await();
                    throw new IllegalStateException("c failed");
                }));
                cSpawned.set();
                ownerMayReturn.await();
                return "owner returned";
            });
            cSpawned.await();
            Task<Object> gatherer = Coro.spawn(() -> gather.gather(c.get(), slow));
            until("slow, c, the owner and the gatherer wait", () -> scheduler.stats().parkedFibers() == 4);
            return new ForeignGather(owner, c.get(), slow, gatherer, cMayFail, slowMayEnd, ownerMayReturn);
        }

        @SuppressWarnings("unchecked")
        List<Outcome<Object>> settledOutcomes() {
            return (List<Outcome<Object>>) gatherer.join();
        }
    }

    @Test
    void aFailureGatheredByAnotherTaskIsNotReportedAgainByItsGroupClosingFirst() {
        // c's failure is the gather's to hand out from c's end on: the owner's group, closing
        // before the gather returns, must not report it as well.
        String result = run(() -> {
            ForeignGather g = ForeignGather.start(scheduler);
            g.ownerMayReturn().set();
            g.cMayFail().set();
            Object ownerResult = g.owner().join();
            g.slowMayEnd().set();
            List<Outcome<Object>> outcomes = g.settledOutcomes();
            assertThat(outcomes.get(0)).isInstanceOfSatisfying(Outcome.Failure.class,
                    f -> assertThat(f.exception()).hasMessage("c failed"));
            assertThat(outcomes.get(1)).isEqualTo(new Outcome.Success<>("slow"));
            return "owner: " + ownerResult;
        });
        assertThat(result).isEqualTo("owner: owner returned");
    }

    @Test
    void aCancelledGatherGivesAFailureItHeldBackToItsGroup_whileTheGroupIsOpen() {
        Throwable ownerFailure = catchFrom(() -> run(() -> {
            ForeignGather g = ForeignGather.start(scheduler);
            g.cMayFail().set();
            until("c has ended", g.c()::isDone);
            g.gatherer().cancel();
            assertCancelled(g.gatherer());
            g.slowMayEnd().set();
            g.ownerMayReturn().set();
            return g.owner().join();
        }));
        assertThat(ownerFailure).as("what the owner's group reports").hasMessage("c failed");
    }

    @Test
    void aCancelledGatherThrowsAFailureItHeld_whoseGroupClosedMeanwhile_ratherThanLoseIt() {
        List<String> seen = run(() -> {
            ForeignGather g = ForeignGather.start(scheduler);
            g.ownerMayReturn().set();
            g.cMayFail().set();
            Object ownerResult = g.owner().join();
            g.gatherer().cancel();
            Throwable gatherFailure = catchFrom(g.gatherer()::join);
            g.slowMayEnd().set();
            return List.of(String.valueOf(ownerResult), String.valueOf(gatherFailure));
        });
        assertThat(seen).containsExactly("owner returned", "java.lang.IllegalStateException: c failed");
    }

    @Test
    void aFailureAnotherTasksAsCompletedLoopHandsOutLaterIsNotReportedAgainByItsGroup() {
        Event gotFirst = new Event();
        Event loopMayGoOn = new Event();
        String result = run(() -> {
            ForeignGather g = ForeignGather.start(scheduler, (c, slow) -> {
                List<String> seen = new ArrayList<>();
                try (Generator<Task<Object>, Object, Void> done = Coro.asCompleted(List.of(c, slow))) {
                    for (Task<Object> t : done) {
                        seen.add(t == c ? catchFrom(t::join).getMessage() : String.valueOf(t.join()));
                        gotFirst.set();
                        loopMayGoOn.await(); // the first time: c ends meanwhile, and its owner's group closes
                    }
                }
                return seen;
            });
            g.slowMayEnd().set();
            gotFirst.await();
            g.ownerMayReturn().set();
            g.cMayFail().set();
            Object ownerResult = g.owner().join();
            loopMayGoOn.set();
            assertThat(g.gatherer().join()).isEqualTo(List.of("slow", "c failed"));
            return "owner: " + ownerResult;
        });
        assertThat(result).isEqualTo("owner: owner returned");
    }

    @Test
    void aFailureAnAsCompletedLoopHandsOutLater_isNotReportedAgainByItsGroup_whenTheOwnerMadeTheLoopAndAnotherTaskIteratesIt() {
        // The owner makes the loop over its child c and hands it to another task; c ends while
        // that task iterates, and the owner's group closes before the loop hands c out.
        Event slowMayEnd = new Event();
        Event cMayFail = new Event();
        Event ownerMayReturn = new Event();
        Event gotFirst = new Event();
        Event loopMayGoOn = new Event();
        CompletableFuture<Generator<Task<Object>, Object, Void>> handedOver = new CompletableFuture<>();
        AtomicReference<Task<Object>> c = new AtomicReference<>();
        List<String> seen = run(() -> {
            Task<Object> slow = Coro.spawn(() -> {
                slowMayEnd.await();
                return "slow";
            });
            Task<Object> owner = Coro.spawn(() -> {
                c.set(Coro.spawn(() -> {
                    cMayFail.await();
                    throw new IllegalStateException("c failed");
                }));
                handedOver.complete(Coro.asCompleted(List.of(c.get(), slow)));
                ownerMayReturn.await();
                return "owner returned";
            });
            // The first time it waits, c ends, and its owner's group closes.
            Task<List<String>> iterator = iterateHandedOverLoop(handedOver, gotFirst, loopMayGoOn);
            slowMayEnd.set();
            gotFirst.await();
            ownerMayReturn.set();
            cMayFail.set();
            Object ownerResult = owner.join();
            loopMayGoOn.set();
            List<String> out = new ArrayList<>(iterator.join());
            out.add("owner: " + ownerResult);
            return out;
        });
        assertThat(seen).containsExactly("slow", "c failed", "owner: owner returned");
    }

    /**
     * Spawns a task that iterates the {@code asCompleted} loop another task hands over: it notes
     * each task's result or failure message, sets {@code gotFirst} and waits for
     * {@code loopMayGoOn} after each.
     */
    private static Task<List<String>> iterateHandedOverLoop(CompletableFuture<Generator<Task<Object>, Object, Void>> handedOver,
                                                           Event gotFirst, Event loopMayGoOn) {
        return Coro.spawn(() -> {
            List<String> handedOut = new ArrayList<>();
            try (Generator<Task<Object>, Object, Void> done = Coro.await(handedOver)) {
                for (Task<Object> t : done) {
                    String seen;
                    try {
                        seen = String.valueOf(t.join());
                    } catch (RuntimeException e) {
                        seen = e.getMessage();
                    }
                    handedOut.add(seen);
                    gotFirst.set();
                    loopMayGoOn.await();
                }
            }
            return handedOut;
        });
    }

    @Test
    void aFailureThatEndedBeforeAnotherTaskFirstIteratesTheOwnersAsCompletedLoop_isTheLoopsToHandOut_notAlsoTheGroups() {
        // c1 and c2 fail before the other task takes the loop's first task (c1); the owner's group
        // then closes while the loop still holds c2.
        Event ownerMayReturn = new Event();
        Event gotFirst = new Event();
        Event loopMayGoOn = new Event();
        CompletableFuture<Generator<Task<Object>, Object, Void>> handedOver = new CompletableFuture<>();
        List<String> seen = run(() -> {
            Task<Object> owner = Coro.spawn(() -> {
                Task<Object> c1 = Coro.spawn(() -> {
                    throw new IllegalStateException("c1 failed");
                });
                Task<Object> c2 = Coro.spawn(() -> {
                    throw new IllegalStateException("c2 failed");
                });
                until("c1 and c2 have ended", () -> c1.isDone() && c2.isDone());
                handedOver.complete(Coro.asCompleted(List.of(c1, c2))); // claims both at once, in this order
                ownerMayReturn.await();
                return "owner returned";
            });
            Task<List<String>> iterator = iterateHandedOverLoop(handedOver, gotFirst, loopMayGoOn);
            gotFirst.await();
            ownerMayReturn.set();
            Object ownerResult = owner.join();
            loopMayGoOn.set();
            List<String> out = new ArrayList<>(iterator.join());
            out.add("owner: " + ownerResult);
            return out;
        });
        assertThat(seen).containsExactly("c1 failed", "c2 failed", "owner: owner returned");
    }

    @Test
    void closingAnAsCompletedLoopEarlyThrowsAFailureItHeld_whoseGroupClosedMeanwhile_ratherThanLoseIt() {
        Event gotFirst = new Event();
        Event loopMayStop = new Event();
        List<String> seen = run(() -> {
            ForeignGather g = ForeignGather.start(scheduler, (c, slow) -> {
                try (Generator<Task<Object>, Object, Void> done = Coro.asCompleted(List.of(c, slow))) {
                    Task<Object> first = done.next().value();
                    assertThat(first).isSameAs(slow);
                    gotFirst.set();
                    loopMayStop.await(); // c ends meanwhile, and its owner's group closes
                    return "stopped after " + first.join();
                }
            });
            g.slowMayEnd().set();
            gotFirst.await();
            g.ownerMayReturn().set();
            g.cMayFail().set();
            Object ownerResult = g.owner().join();
            loopMayStop.set();
            return List.of(String.valueOf(ownerResult), String.valueOf(catchFrom(g.gatherer()::join)));
        });
        assertThat(seen).containsExactly("owner returned", "java.lang.IllegalStateException: c failed");
    }

    @Test
    void failuresGatheredByAnotherTask_racingTheirGroupClosingAndTheGatherBeingCancelled_areEachReportedOnce() {
        // Per round, at random: which of four children fail, when each ends, when their owner
        // returns (its group then closes and reports what nobody else answers for), and whether
        // and when the gathering task is cancelled. Each failure must come out exactly once: in
        // the gather's outcomes, in what the gather throws, or in what the owner throws.
        int rounds = Stress.scaled(1_000);
        int children = 4;
        List<String> wrong = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            Random random = new Random(round);
            boolean[] fails = new boolean[children];
            int[] childYields = new int[children];
            for (int i = 0; i < children; i++) {
                fails[i] = random.nextInt(3) != 0;
                childYields[i] = random.nextInt(4);
            }
            int ownerYields = random.nextInt(4);
            int cancelYields = random.nextBoolean() ? random.nextInt(4) : -1;
            String reported = run(() -> {
                Event go = new Event();
                Event spawned = new Event();
                List<Task<Object>> kids = new CopyOnWriteArrayList<>();
                Task<Object> owner = Coro.spawn(() -> {
                    for (int i = 0; i < children; i++) {
                        int id = i;
                        kids.add(Coro.spawn(() -> {
                            go.await();
                            yieldTimes(childYields[id]);
                            if (fails[id]) {
                                throw new IllegalStateException("child " + id);
                            }
                            return id;
                        }));
                    }
                    spawned.set();
                    go.await();
                    yieldTimes(ownerYields);
                    return "owner";
                });
                spawned.await();
                Task<List<Outcome<Object>>> gatherer = Coro.spawn(() -> Coro.gatherSettled(List.copyOf(kids)));
                until("the children, their owner and the gatherer wait",
                        () -> scheduler.stats().parkedFibers() == children + 2);
                go.set();
                if (cancelYields >= 0) {
                    yieldTimes(cancelYields);
                    gatherer.cancel();
                }
                Map<String, Integer> count = new TreeMap<>();
                try {
                    for (Outcome<Object> o : gatherer.join()) {
                        if (o instanceof Outcome.Failure<Object> f) {
                            countEach(f.exception(), count);
                        }
                    }
                } catch (CancellationException e) {
                    countEach(e, count);
                } catch (IllegalStateException e) {
                    countEach(e, count);
                }
                try {
                    owner.join();
                } catch (IllegalStateException e) {
                    countEach(e, count);
                }
                // A cancelled gather cancels the children too: one cancelled before it threw
                // has no failure to report.
                Map<String, Integer> expected = new TreeMap<>();
                for (int i = 0; i < children; i++) {
                    if (fails[i] && !kids.get(i).isCancelled()) {
                        expected.put("child " + i, 1);
                    }
                }
                return count.equals(expected) ? null : count + " instead of " + expected;
            });
            if (reported != null) {
                wrong.add("round " + round + ": " + reported);
            }
        }
        assertThat(wrong).as("rounds where a failure was lost or reported twice (of %d)", rounds).isEmpty();
    }

    private static void yieldTimes(int n) {
        for (int i = 0; i < n; i++) {
            Coro.yieldNow();
        }
    }

    /** Counts {@code t}'s message if it names a child, and those of what it carries as suppressed. */
    private static void countEach(Throwable t, Map<String, Integer> count) {
        if (t.getMessage() != null && t.getMessage().startsWith("child ")) {
            count.merge(t.getMessage(), 1, Integer::sum);
        }
        for (Throwable s : t.getSuppressed()) {
            countEach(s, count);
        }
    }

    @Test
    void aFailFastGatherWhoseFirstEndedTaskWasCancelledThrowsARealFailureOfTheOthers() {
        // b is cancelled (plainly) before the gather; the gather, failing fast on it, cancels a,
        // whose cleanup fails: that real failure is what the gather throws, not b's cancellation.
        Throwable thrown = catchFrom(() -> run(() -> {
            Event started = new Event();
            Task<Object> a = Coro.spawn(() -> {
                started.set();
                return cleanupFails("a");
            });
            Task<Object> b = Coro.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return "b";
            });
            started.await();
            b.cancel();
            until("b has ended", b::isDone);
            return Coro.gather(a, b);
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("cleanup of a failed");
    }

    @Test
    void aFailFastGatherInAnotherTaskIsTheOnlyOneToReportTheFailureItThrows() {
        // The owner's body has returned, so its group closes as soon as the failing task ends;
        // the gathering task is another one, still waiting for a sibling's slow cleanup.
        String result = run(() -> {
            AtomicReference<Task<Object>> shared = new AtomicReference<>();
            Event fail = new Event();
            Task<Object> owner = Coro.spawn(() -> {
                shared.set(Coro.spawn(() -> {
                    fail.await();
                    throw new IllegalStateException("a failed");
                }));
                return "the owner's body returned";
            });
            until("the task exists", () -> shared.get() != null);
            Event cStarted = new Event();
            Task<List<Object>> gatherer = Coro.spawn(() -> {
                Task<Object> c = Coro.spawn(() -> {
                    cStarted.set();
                    try {
                        Coro.sleep(Duration.ofSeconds(30));
                        return "c";
                    } catch (CancellationException e) {
                        until("the owner has ended", owner::isDone); // a cleanup that outlasts the owner
                        return "c cleaned up";
                    }
                });
                return Coro.gather(shared.get(), c);
            });
            cStarted.await();
            // The gather claims a's failure once registered. Each of the four parks in one place
            // only (a in its event, the owner waiting for a, c asleep, the gatherer in the gather),
            // so four parked fibers mean the gather is registered.
            until("a, the owner, c and the gatherer wait", () -> scheduler.stats().parkedFibers() == 4);
            fail.set();
            Throwable g = catchFrom(gatherer::join);
            String o;
            try {
                o = String.valueOf(owner.join());
            } catch (RuntimeException e) {
                o = e.toString();
            }
            return "gatherer: " + g.getMessage() + "; owner: " + o;
        });
        assertThat(result).isEqualTo("gatherer: a failed; owner: the owner's body returned");
    }

    @Test
    void aGroupThrowsTheFailureItsBodysGatherThrewWithTheOtherOnIt() {
        // a fails before b, so the group heard of a first; the gather, called once both have
        // ended, throws b's failure (its first task) carrying a's. The group must keep that one.
        // a waits for b to start: a child that a's failure cancelled before it started never would.
        AtomicBoolean bStarted = new AtomicBoolean();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> a = g.spawn(() -> {
                yieldUntil(bStarted::get);
                throw new IllegalStateException("A");
            });
            Task<Object> b = g.spawn(() -> {
                bStarted.set(true);
                while (!a.isDone()) {
                    scheduler.currentFiber().yieldNow(); // no suspension point: a's failure cannot stop it
                }
                throw new IllegalArgumentException("B");
            });
            while (!(a.isDone() && b.isDone())) {
                scheduler.currentFiber().yieldNow();
            }
            return Coro.gather(b, a);
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("B");
        assertThat(thrown.getSuppressed()).singleElement().isExactlyInstanceOf(IllegalStateException.class);
    }

    /**
     * A fail-fast gather of tasks that have failed when it is called throws the failure of the
     * first in the order given, also while that task's end is still on its way to the gather (its
     * end runs its views' callbacks first, and here one of those waits). b has ended completely,
     * a gather of it returned; a has failed, its end held in the callback until the gather waits.
     * If this throws "b failed", the gather took the failures in the order their ends reached it.
     */
    @Test
    void aFailFastGatherThrowsTheFirstInTheOrderGivenOfTheTasksFailedWhenItIsCalled_alsoOneWhoseEndHasNotReachedItYet() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Event aMayFail = new Event();
            Task<Object> a = Coro.spawn(() -> {
                aMayFail.await();
                throw new IllegalStateException("a failed");
            });
            HeldEnd held = new HeldEnd(a);
            aMayFail.set();
            held.awaitHeld();
            Task<Object> b = Coro.spawn(() -> {
                throw new IllegalArgumentException("b failed");
            });
            Coro.gatherSettled(List.of(b)); // returns once b's end has reached whatever waited for it
            assertThat(a.isDone()).as("a is done").isTrue();
            Coro.spawn(() -> {
                // Parked: a in the callback, and this task's parent in the gather, waiting for a's end.
                until("the gather waits", () -> scheduler.stats().parkedFibers() == 2);
                held.release();
                return null;
            });
            return Coro.gather(a, b);
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("a failed");
        assertThat(thrown.getSuppressed()).singleElement().isExactlyInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aGroupThrowsALaterFailureThatCarriesTheFirst_ratherThanDropIt() {
        // b fails with X first; d, cancelled for it, fails in its cleanup with Z, which carries X.
        // Z cannot go on X (a loop), so the group throws Z, with X on it.
        IllegalStateException x = new IllegalStateException("X");
        RuntimeException z = new RuntimeException("Z");
        z.addSuppressed(x);
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            // b fails once d runs: cancelled before it started, d would never run its cleanup (on
            // two carriers b can start and fail first while the one that took d stalls).
            Event dRuns = new Event();
            g.spawn(() -> {
                try {
                    dRuns.set();
                    Coro.sleep(Duration.ofSeconds(30));
                    return "d";
                } catch (CancellationException e) {
                    throw z;
                }
            });
            g.spawn(() -> failsOnceSetWith(dRuns, x));
            Coro.sleep(Duration.ofSeconds(30));
            return "body";
        })));
        assertThat(thrown).isSameAs(z);
        assertThat(z.getSuppressed()).containsExactly(x);
    }

    @Test
    void aGroupKeepsAnEarlierFailureThatCarriesTheOneItsBodyRethrew() {
        // d fails (Z) first; c's gather(d, b) attaches b's X to Z; then the body rethrows X. Z
        // carries X, so X cannot carry Z: the group must throw Z, with X on it. d waits for b and
        // c to start: children that d's failure cancelled before they started never would.
        RuntimeException z = new RuntimeException("Z");
        IllegalStateException x = new IllegalStateException("X");
        AtomicInteger started = new AtomicInteger();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> d = g.spawn(() -> {
                yieldUntil(() -> started.get() == 2);
                throw z;
            });
            Task<Object> b = g.spawn(() -> {
                started.incrementAndGet();
                yieldUntil(d::isDone);
                throw x;
            });
            Task<Object> c = g.spawn(() -> {
                started.incrementAndGet();
                yieldUntil(() -> d.isDone() && b.isDone());
                return Coro.gather(d, b);
            });
            yieldUntil(() -> d.isDone() && b.isDone() && c.isDone());
            return Coro.gather(b);
        })));
        assertThat(thrown).isSameAs(z);
        assertThat(z.getSuppressed()).containsExactly(x);
    }

    /** Lets other fibers run until {@code done} holds; no suspension point, so no cancellation. */
    private void yieldUntil(BooleanSupplier done) {
        while (!done.getAsBoolean()) {
            scheduler.currentFiber().yieldNow();
        }
    }

    private void awaitBoth(AtomicInteger arrived) {
        arrived.incrementAndGet();
        while (arrived.get() < 2) {
            scheduler.currentFiber().yieldNow();
        }
    }

    /**
     * Holds a task's end, once it comes, in a callback of the task's {@code CompletableFuture} view:
     * on the task's own fiber, after {@code isDone()} turned true and before the end reaches anything
     * waiting for the task (a join, a gather, an asCompleted loop), until {@link #release()}.
     */
    private final class HeldEnd {
        private final AtomicReference<Fiber> held = new AtomicReference<>();
        private final AtomicBoolean released = new AtomicBoolean();

        HeldEnd(Task<?> task) {
            task.toCompletableFuture().whenComplete((v, e) -> {
                Fiber f = scheduler.currentFiber();
                held.set(f);
                while (!released.get()) {
                    f.park();
                }
            });
        }

        /** Waits until the task's end is held in the callback. */
        void awaitHeld() {
            until("the task's end waits in its view's callback", () -> held.get() != null);
        }

        /** Lets the held end go on; call after {@link #awaitHeld()}. */
        void release() {
            released.set(true);
            held.get().unpark();
        }
    }

    /** A task body that fails with an {@link IllegalStateException} of {@code message} once {@code gate} is set. */
    private static <T> T failsOnceSet(Event gate, String message) {
        gate.await();
        throw new IllegalStateException(message);
    }

    /** A task body that throws {@code failure} once {@code gate} is set. */
    private static <T> T failsOnceSetWith(Event gate, RuntimeException failure) {
        gate.await();
        throw failure;
    }

    /** Spawns a task that runs {@link #cleanupFails}, and returns it once it has started. */
    private static Task<Object> startedCleanupFails(String name) {
        Event started = new Event();
        Task<Object> t = Coro.spawn(() -> {
            started.set();
            return cleanupFails(name);
        });
        started.await();
        return t;
    }

    private static Object cleanupFails(String name) {
        try {
            Coro.sleep(Duration.ofSeconds(30));
            return name;
        } catch (CancellationException e) {
            throw new IllegalStateException("cleanup of " + name + " failed");
        }
    }

    @Test
    void gatheringTheSameFailedTasksAgainThrowsTheSameException_whicheverFailedFirst() {
        // The first gather sees b fail first and throws B with a's cleanup failure suppressed;
        // the second finds both ended and sees a first: it must throw B again, not a's failure
        // without B (B already carries it, so it could not be suppressed there).
        List<Throwable> thrown = run(() -> Coro.supervisorGroup(g -> {
            // b fails once a runs: cancelled before it started, a would never run its cleanup.
            Event aRuns = new Event();
            Task<Object> a = g.spawn(() -> {
                aRuns.set();
                return cleanupFails("a");
            });
            Task<Object> b = g.spawn(() -> failsOnceSetWith(aRuns, new IllegalArgumentException("B")));
            Throwable first = catchFrom(() -> Coro.gather(a, b));
            Throwable again = catchFrom(() -> Coro.gather(a, b));
            return List.of(first, again);
        }));
        assertThat(thrown.get(0)).hasMessage("B");
        assertThat(thrown.get(0).getSuppressed()).extracting(Throwable::getMessage).containsExactly("cleanup of a failed");
        assertThat(thrown.get(1)).isSameAs(thrown.get(0));
        assertThat(thrown.get(1).getSuppressed()).hasSize(1);
    }

    @Test
    void aGroupWhoseGatherWasCancelledThrowsTheChildsFailureWithoutASuppressionLoop() {
        Throwable thrown = run(() -> {
            AtomicBoolean aStarted = new AtomicBoolean();
            Task<Object> t = Coro.spawn(() -> Coro.taskGroup(g -> {
                Task<Object> a = g.spawn(() -> {
                    aStarted.set(true);
                    return cleanupFails("a");
                });
                return Coro.gather(a);
            }));
            until("a runs", aStarted::get); // cancelled before it started, a would never fail
            t.cancel();
            return catchFrom(t::join);
        });
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("cleanup of a failed");
        assertThat(reachesItself(thrown)).as("the failure is among what it carries").isFalse();
    }

    /** Whether {@code t} is reached again through the suppressed exceptions and causes it carries. */
    private static boolean reachesItself(Throwable t) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Throwable> todo = new ArrayList<>(List.of(t.getSuppressed()));
        if (t.getCause() != null) {
            todo.add(t.getCause());
        }
        while (!todo.isEmpty()) {
            Throwable x = todo.remove(todo.size() - 1);
            if (x == t) {
                return true;
            }
            if (seen.add(x)) {
                todo.addAll(List.of(x.getSuppressed()));
                if (x.getCause() != null) {
                    todo.add(x.getCause());
                }
            }
        }
        return false;
    }

    @Test
    void gatherSettledReturnsEveryOutcome() {
        List<Outcome<String>> r = run(() -> Coro.gatherSettled(List.of(
                Coro.spawn(() -> "ok"),
                Coro.spawn(() -> {
                    throw new IllegalStateException("bad");
                }))));
        assertThat(r.get(0)).isEqualTo(new Outcome.Success<>("ok"));
        assertThat(r.get(1).isSuccess()).isFalse();
        assertThat(((Outcome.Failure<String>) r.get(1)).exception()).hasMessage("bad");
        assertThatThrownBy(() -> r.get(1).getOrThrow()).hasMessage("bad");
    }

    @Test
    void aCancelledGatherCancelsItsTasksAndPropagatesTheCancellation() {
        List<String> cancelled = new CopyOnWriteArrayList<>();
        String result = run(() -> {
            AtomicInteger started = new AtomicInteger();
            Task<String> a = Coro.spawn(() -> {
                started.incrementAndGet();
                return sleepRecordingCancel(cancelled, "a");
            });
            Task<String> b = Coro.spawn(() -> {
                started.incrementAndGet();
                return sleepRecordingCancel(cancelled, "b");
            });
            Task<List<String>> gathering = Coro.spawn(() -> {
                started.incrementAndGet();
                return Coro.gather(a, b);
            });
            // All started: cancelled before it started, a task never runs its body
            until("the three tasks run", () -> started.get() == 3);
            gathering.cancel();
            try {
                gathering.join();
                return "joined";
            } catch (CancellationException e) {
                return "cancelled";
            }
        });
        assertThat(result).isEqualTo("cancelled");
        assertThat(cancelled).containsExactlyInAnyOrder("a", "b");
    }

    private static String sleepRecordingCancel(List<String> log, String name) {
        try {
            Coro.sleep(Duration.ofSeconds(30));
            return name;
        } catch (CancellationException e) {
            log.add(name);
            throw e;
        }
    }

    @Test
    void asCompletedYieldsTasksInCompletionOrder() {
        List<Integer> order = run(() -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            List<Event> mayEnd = new ArrayList<>();
            Task<Integer> early = Coro.spawn(() -> 0);
            until("the first task has ended", early::isDone);
            tasks.add(early);
            for (int value : new int[] {60, 10, 35}) {
                Event e = new Event();
                mayEnd.add(e);
                tasks.add(Coro.spawn(() -> {
                    e.await();
                    return value;
                }));
            }
            // The loop's first step hands out the task that had ended, at once, and from then on
            // the loop answers for the others in the order they end: ended one at a time, in an
            // order other than the list's, once that step is past. Each is let end only once the
            // loop has handed out the one before: isDone() turns true before a task's end reaches
            // the loop, so a task let end as soon as the one before is done can, on another
            // carrier, reach the loop first (as with CompletableFuture's isDone and its callbacks).
            Event looping = new Event();
            List<Integer> seen = new CopyOnWriteArrayList<>();
            Task<Void> ender = Coro.spawn(() -> {
                looping.await();
                for (int i : new int[] {1, 2, 0}) {
                    int handedOut = seen.size();
                    mayEnd.get(i).set();
                    until("the loop has handed out task " + i, () -> seen.size() > handedOut);
                }
                return null;
            });
            for (Task<Integer> done : Coro.asCompleted(tasks)) {
                seen.add(done.join());
                looping.set();
            }
            ender.join();
            return seen;
        });
        assertThat(order).containsExactly(0, 10, 35, 60);
    }

    @Test
    void asCompletedYieldsTasksThatHadAlreadyEndedInTheOrderGiven() {
        List<Integer> order = run(() -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            for (int value : new int[] {3, 1, 2}) {
                tasks.add(Coro.spawn(() -> value));
            }
            until("all three have ended", () -> tasks.stream().allMatch(Task::isDone));
            List<Integer> seen = new ArrayList<>();
            for (Task<Integer> done : Coro.asCompleted(tasks)) {
                seen.add(done.join());
            }
            return seen;
        });
        assertThat(order).containsExactly(3, 1, 2);
    }

    /**
     * "Already finished" is {@code isDone()}: a task done when the loop is made comes before one
     * done later in the list also while its end is still on its way to the loop (its end runs its
     * views' callbacks first, and here one of those waits). b has ended completely, a gather of it
     * returned; a is done, its end held in the callback until the loop is made. If this fails with
     * [2, 1], the loop took the tasks done at the call in the order their ends reached it.
     */
    @Test
    void asCompletedYieldsTasksDoneWhenItIsCalledInTheOrderGiven_alsoOneWhoseEndHasNotReachedItYet() {
        List<Integer> order = run(() -> {
            Event aMayEnd = new Event();
            Task<Integer> a = Coro.spawn(() -> {
                aMayEnd.await();
                return 1;
            });
            HeldEnd held = new HeldEnd(a);
            aMayEnd.set();
            held.awaitHeld();
            Task<Integer> b = Coro.spawn(() -> 2);
            Coro.gather(b); // returns once b's end has reached whatever waited for it: b ended completely
            boolean aDone = a.isDone();
            Generator<Task<Integer>, Object, Void> loop = Coro.asCompleted(List.of(a, b));
            held.release();
            List<Integer> seen = new ArrayList<>();
            seen.add(aDone ? 0 : -1);
            for (Task<Integer> done : loop) {
                seen.add(done.join());
            }
            return seen;
        });
        assertThat(order).as("a done when the loop was made (0), then the order handed out").containsExactly(0, 1, 2);
    }

    // ---- sleep and timeouts ----

    @Test
    void sleepLastsAtLeastItsDuration() {
        long elapsed = run(() -> {
            long t0 = System.nanoTime();
            Coro.sleep(ms(30));
            return System.nanoTime() - t0;
        });
        assertThat(elapsed).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    }

    /** A wake-up for another reason does not end a sleep early: here, a future the task no longer awaits completes. */
    @Test
    void aSleepWokenForAnotherReasonStillLastsItsDuration() {
        long slept = run(() -> {
            CompletableFuture<String> f = new CompletableFuture<>();
            AtomicBoolean sleeping = new AtomicBoolean();
            Task<Long> sleeper = Coro.spawn(() -> {
                // The await gives up, but leaves a wake-up on the future for when it completes.
                assertThat(Coro.withTimeoutOrNull(ms(1), () -> Coro.await(f))).isNull();
                sleeping.set(true);
                long t0 = System.nanoTime();
                Coro.sleep(ms(100));
                return System.nanoTime() - t0;
            });
            until("the sleeper is about to sleep", sleeping::get);
            f.complete("wakes the sleeper");
            return sleeper.join();
        });
        assertThat(slept).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
    }

    /**
     * On one carrier (an event loop, as asyncio's), tasks that sleep the same time one after the
     * other wake in the order they went to sleep, as in asyncio and kotlinx.coroutines: their
     * deadlines are in that order. Ten sleepers 50 us apart, five rounds. Before, the timer ran
     * the timers of one tick (about a millisecond) newest first whenever it had taken them in one
     * at a time: rounds came out as [9, 8, 7, 6, 5, 4, 3, 2, 1, 0] or [6, 5, 4, 3, 2, 1, 0, 7, 8, 9].
     * Only on a scheduler whose carriers are its own (on loom, tasks woken together run in parallel).
     */
    @Test
    void onOneCarrierTasksThatSleepTheSameTimeOneAfterTheOtherWakeInThatOrder() throws Exception {
        assumeTrue(honoursParallelism(), "needs one carrier: woken tasks then run in the order they were woken");
        Scheduler loop = newScheduler(1);
        List<List<Integer>> rounds = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            List<Integer> order = new CopyOnWriteArrayList<>();
            await(CompletableFuture.supplyAsync(() -> Coro.run(loop, () -> {
                for (int i = 0; i < 10; i++) {
                    int k = i;
                    AtomicBoolean asleep = new AtomicBoolean();
                    Coro.spawn(() -> {
                        asleep.set(true);
                        Coro.sleep(ms(20));
                        order.add(k);
                        return null;
                    });
                    while (!asleep.get()) {
                        Coro.yieldNow(); // the one carrier runs the sleeper up to its sleep
                    }
                    long next = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(50);
                    while (System.nanoTime() - next < 0) {
                        Thread.onSpinWait(); // the next deadline 50 us later, most often in the same tick
                    }
                }
                return null;
            })));
            rounds.add(order);
        }
        List<Integer> inOrder = List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertThat(rounds).containsExactly(inOrder, inOrder, inOrder, inOrder, inOrder);
    }

    /** No thread per sleeper: 1,000,000 concurrent 10 ms sleepers all finish. */
    @Test
    void aMillionConcurrentSleepersAllComplete() {
        // A larger multiplier means more crowds, not a larger one: ten million sleeping tasks
        // are about ten gigabytes of heap.
        int n = Stress.crowd(1_000_000);
        for (int crowd = 0; crowd < Stress.rounds(1_000_000); crowd++) {
            int done = run(() -> {
                AtomicInteger finished = new AtomicInteger();
                Coro.taskGroup(g -> {
                    for (int i = 0; i < n; i++) {
                        g.spawn(() -> {
                            Coro.sleep(ms(10));
                            return finished.incrementAndGet();
                        });
                    }
                    return null;
                });
                return finished.get();
            });
            assertThat(done).as("crowd %d", crowd).isEqualTo(n);
        }
    }

    @Test
    void withTimeoutThrowsATimeoutDistinctFromCancellationAndRunsFinally() {
        List<String> log = new CopyOnWriteArrayList<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.withTimeout(ms(20), () -> {
            try {
                Coro.sleep(Duration.ofSeconds(30));
                return "late";
            } finally {
                log.add("finally");
            }
        })));
        assertThat(thrown).isExactlyInstanceOf(TimeoutExceededException.class).hasMessage("timed out after PT0.02S")
                .isNotInstanceOf(CancellationException.class);
        assertThat(log).containsExactly("finally");
        assertThat(run(() -> Coro.withTimeout(Duration.ofSeconds(10), () -> "in time"))).isEqualTo("in time");
        assertThat(run(() -> Coro.withTimeoutOrNull(ms(10), () -> {
            Coro.sleep(Duration.ofSeconds(30));
            return "late";
        }))).isNull();
    }

    /**
     * A zero timeout has expired before the body starts: the body is cancelled at its first
     * suspension point every time. Before, a timer of zero delay raced that point: a receive from a
     * channel holding an item mostly took it, and now and then timed out.
     */
    @Test
    void aZeroTimeoutCancelsTheBodyAtItsFirstSuspensionPointEveryTime() {
        List<String> outcomes = run(() -> {
            Channel<String> ch = Channel.unbounded();
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < Stress.scaled(200); i++) {
                ch.send("item " + i);
                String got = Coro.withTimeoutOrNull(Duration.ZERO, ch::receive);
                String timedOut;
                try {
                    timedOut = "returned " + Coro.withTimeout(Duration.ZERO, ch::receive);
                } catch (TimeoutExceededException e) {
                    timedOut = e.getMessage();
                }
                String outcome = got + ", " + timedOut + ", " + ch.tryReceive();
                if (!outcome.equals("null, timed out after PT0S, item " + i)) {
                    seen.add("round " + i + ": " + outcome);
                }
            }
            seen.add(Coro.withTimeout(Duration.ZERO, () -> "a body that never suspends"));
            return seen;
        });
        assertThat(outcomes).containsExactly("a body that never suspends");
    }

    /**
     * A join, await or gather of what has ended already does not suspend (as in asyncio and
     * kotlinx.coroutines), so under a zero timeout it returns, every time, and the timeout comes at
     * the body's first real suspension. Whether a wait for a child times out therefore depends on
     * whether the child ended first, on both schedulers alike.
     */
    @Test
    void aWaitForWhatHasEndedAlreadyIsNotASuspensionPoint_underAZeroTimeout() {
        List<String> outcomes = run(() -> {
            Task<String> ended = Coro.spawn(() -> "value");
            ended.join();
            List<String> out = new ArrayList<>();
            for (Map.Entry<String, Callable<Object>> w : waitsOverAlready(ended).entrySet()) {
                out.add(w.getKey() + ": " + Coro.withTimeoutOrNull(Duration.ZERO, w.getValue()));
            }
            out.add("then a suspension: " + Coro.withTimeoutOrNull(Duration.ZERO, () -> {
                ended.join();
                Coro.yieldNow();
                return "not cancelled";
            }));
            return out;
        });
        assertThat(outcomes).containsExactly("join: value", "await of a completed future: value",
                "await of an ended task's stage: value", "gather: [value]",
                "gatherSettled: [Success[value=value]]", "then a suspension: null");
    }

    /**
     * A cancelled task that joins, awaits or gathers what has ended already gets its value, and
     * the cancellation, still pending, at its next suspension point.
     */
    @Test
    void aCancelledTaskGetsWhatHasEndedAlreadyAndIsCancelledAtItsNextSuspension() {
        List<String> outcomes = run(() -> {
            Task<String> ended = Coro.spawn(() -> "value");
            ended.join();
            List<String> out = new ArrayList<>();
            for (Map.Entry<String, Callable<Object>> w : waitsOverAlready(ended).entrySet()) {
                List<String> seen = new ArrayList<>();
                Task<Object> t = Coro.spawn(() -> {
                    Coro.currentTask().cancel();
                    seen.add(w.getKey() + " returned " + w.getValue().call());
                    Coro.yieldNow();
                    return "not cancelled";
                });
                try {
                    seen.add(String.valueOf(t.join()));
                } catch (CancellationException e) {
                    seen.add("then cancelled");
                }
                out.add(String.join(", ", seen));
            }
            return out;
        });
        assertThat(outcomes).containsExactly("join returned value, then cancelled",
                "await of a completed future returned value, then cancelled",
                "await of an ended task's stage returned value, then cancelled",
                "gather returned [value], then cancelled",
                "gatherSettled returned [Success[value=value]], then cancelled");
    }

    /**
     * Closing the scheduler inside a {@code Coro.blocking} call of one of its tasks would wait for
     * that task, which waits for the call: refused, as close() inside the task is, not a hang.
     */
    @Test
    void closingTheSchedulerInsideABlockingCallOfItsTaskIsRefused() throws Exception {
        Scheduler s = newScheduler(2);
        AtomicReference<String> task = new AtomicReference<>();
        Object out = runOrFailAsHung(s, "close() inside a blocking call waits for the task that waits for the call", () -> {
            task.set(Coro.currentTask().name());
            return Coro.blocking(() -> {
                try {
                    s.close();
                    return "closed";
                } catch (IllegalStateException e) {
                    return e;
                }
            });
        });
        assertThat(out).asInstanceOf(THROWABLE).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("close() called inside Coro.blocking(...) of " + task.get() + ", a task of scheduler \""
                        + s.name() + "\": it would wait for that task, which waits for this call to end; call"
                        + " shutdown() instead, or close the scheduler after the blocking call");
        assertThat(s.isShutdown()).as("shut down by the refused close()").isFalse();
    }

    /**
     * A task's end waits for its children; children that have all ended (their outcomes complete)
     * and have only yet to tell their group are not waited for as at a suspension point, as a join
     * of an ended task is not. So a task cancelled after its last suspension point ends with its
     * value, however late such children tell their group: here a completion callback of the child
     * holds it for 200 ms between its outcome and that.
     */
    @Test
    void aTaskCancelledAfterItsLastSuspensionEndsWithItsValueWhileItsEndedChildrenAreStillTellingItsGroup() {
        String got = run(() -> {
            Event go = new Event();
            Task<String> parent = Coro.spawn(() -> {
                Task<String> child = Coro.spawn(() -> {
                    go.await();
                    return "the child's value";
                });
                // Runs on the child's thread when its outcome completes, before its group hears of its end.
                child.toCompletableFuture().whenComplete((v, e) -> {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                    }
                });
                go.set();
                yieldUntil(child::isDone);
                Coro.currentTask().cancel();
                return "the parent's value"; // no suspension point after the cancel
            });
            try {
                return parent.join();
            } catch (CancellationException e) {
                return "cancelled";
            }
        });
        assertThat(got).isEqualTo("the parent's value");
    }

    /**
     * The converse: a child that has been cancelled but has not ended (it runs its shielded
     * cleanup) is still waited for at the end of a task cancelled after its last suspension
     * point, and that wait is a suspension point: the task ends cancelled. A cancel request is
     * not an end. (The child's cleanup goes on only once the parent has returned and waits at its
     * end: the parent, the child and nobody else parked, the main task polling.)
     */
    @Test
    void aTaskCancelledAfterItsLastSuspensionEndsCancelledWhileItsCancelledChildStillRunsItsCleanup() {
        String got = run(() -> {
            Event asleep = new Event();
            Event inCleanup = new Event();
            Event release = new Event();
            AtomicBoolean returning = new AtomicBoolean();
            Task<String> parent = Coro.spawn(() -> {
                Task<Void> child = Coro.spawn(() -> {
                    try {
                        asleep.set();
                        Coro.sleep(Duration.ofHours(1));
                    } finally {
                        Coro.shielded(() -> {
                            inCleanup.set();
                            release.await();
                            return null;
                        });
                    }
                    return null;
                });
                asleep.await();
                child.cancel();
                inCleanup.await();
                Coro.currentTask().cancel();
                returning.set(true);
                return "the parent's value"; // no suspension point after the cancel
            });
            until("the parent waits at its end for its child",
                    () -> returning.get() && scheduler.stats().parkedFibers() == 2);
            release.set();
            try {
                return parent.join();
            } catch (CancellationException e) {
                return "cancelled";
            }
        });
        assertThat(got).isEqualTo("cancelled");
    }

    /**
     * The wait above is no suspension point only while every child it waits for has ended: a
     * child spawned into the group meanwhile (here by a completion callback of the ended child,
     * which may spawn into the group while it is open; any task may) runs, and the cancelled
     * owner's group must cancel it, as it cancels every running child, not wait for it to end.
     */
    @Test
    void aChildSpawnedWhileACancelledTaskWaitsForItsEndedChildrenToTellItsGroupIsCancelled() {
        AtomicReference<Task<Void>> late = new AtomicReference<>();
        AtomicBoolean returning = new AtomicBoolean();
        String got = run(() -> {
            Event go = new Event();
            Task<String> parent = Coro.spawn(() -> Coro.taskGroup(g -> {
                AtomicBoolean started = new AtomicBoolean();
                Task<String> child = g.spawn(() -> {
                    started.set(true);
                    go.await();
                    return "the child's value";
                });
                // Holds this carrier until another one runs the child, so that the child's
                // callback below does not hold this task up (threadpool: a fiber stays on its carrier).
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!started.get() && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                // Runs on the child's thread when its outcome completes, before its group hears of
                // its end: once the parent waits in its group's close, it spawns a long sleeper.
                child.toCompletableFuture().whenComplete((v, e) -> {
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    // the parent and the main task (joining it) parked; this child's fiber runs us
                    while (!(returning.get() && scheduler.stats().parkedFibers() == 2) && System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                    late.set(g.spawn(() -> {
                        Coro.sleep(Duration.ofHours(1));
                        return null;
                    }));
                });
                go.set();
                yieldUntil(child::isDone);
                Coro.currentTask().cancel();
                returning.set(true);
                return "the parent's value"; // no suspension point after the cancel
            }));
            String outcome;
            try {
                outcome = Coro.withTimeoutOrNull(Duration.ofSeconds(5), parent::join);
                if (outcome == null) {
                    outcome = "still waiting after 5 s for the late child, not cancelled: " + late.get();
                }
            } catch (CancellationException e) {
                outcome = "cancelled";
            }
            if (late.get() != null) {
                late.get().cancel(); // let a hung parent end
            }
            try {
                parent.join();
            } catch (CancellationException ignored) {
                // either way
            }
            return outcome + ", late child cancelled: " + (late.get() != null && late.get().isCancelled());
        });
        assertThat(got).isEqualTo("cancelled, late child cancelled: true");
    }

    /** Waits for what has ended already: of {@code ended}, and of a completed future. */
    private static Map<String, Callable<Object>> waitsOverAlready(Task<String> ended) {
        Map<String, Callable<Object>> waits = new java.util.LinkedHashMap<>();
        waits.put("join", ended::join);
        waits.put("await of a completed future", () -> Coro.await(CompletableFuture.completedFuture("value")));
        waits.put("await of an ended task's stage", () -> Coro.await(ended.toCompletionStage()));
        waits.put("gather", () -> Coro.gather(ended));
        waits.put("gatherSettled", () -> Coro.gatherSettled(List.of(ended)));
        return waits;
    }

    @Test
    void anInnerTimeoutNeverSwallowsAnOuterCancel() {
        String result = run(() -> {
            AtomicBoolean inside = new AtomicBoolean();
            Task<String> t = Coro.spawn(() -> Coro.withTimeoutOrNull(Duration.ofSeconds(30), () -> {
                inside.set(true);
                Coro.sleep(Duration.ofSeconds(30));
                return "slept";
            }));
            // Cancelled before it started, t would end cancelled without ever entering the inner
            // timeout: the test would pass whatever the timeout does with the cancel.
            until("t runs inside the inner timeout", inside::get);
            Coro.sleep(ms(20));
            t.cancel();
            try {
                return "returned " + t.join();
            } catch (CancellationException e) {
                return "cancelled";
            }
        });
        assertThat(result).isEqualTo("cancelled");
    }

    @Test
    void nestedTimeoutsReportTheOneThatExpired() {
        String result = run(() -> {
            try {
                return Coro.withTimeout(ms(20), () -> Coro.withTimeout(Duration.ofSeconds(30), () -> {
                    Coro.sleep(Duration.ofSeconds(30));
                    return "slept";
                }));
            } catch (TimeoutExceededException e) {
                return e.getMessage();
            }
        });
        assertThat(result).isEqualTo("timed out after PT0.02S");
    }

    @Test
    void anOuterTimeoutsCancellationPassesThroughAnInnerTimeoutAsItIs() {
        // The inner timeout did not expire: the outer one's cancellation goes through it unchanged,
        // and the outer TimeoutExceededException carries nothing of it.
        List<Object> got = run(() -> {
            Throwable[] inside = new Throwable[1];
            Throwable[] between = new Throwable[1];
            try {
                Coro.withTimeout(Duration.ZERO, () -> {
                    try {
                        return Coro.withTimeout(Duration.ofSeconds(30), () -> {
                            try {
                                Coro.sleep(Duration.ofSeconds(30));
                                return "slept";
                            } catch (CancellationException e) {
                                inside[0] = e;
                                throw e;
                            }
                        });
                    } catch (CancellationException e) {
                        between[0] = e;
                        throw e;
                    }
                });
                return List.of("no timeout");
            } catch (TimeoutExceededException e) {
                return List.of("same cancellation out of the inner timeout: " + (between[0] == inside[0]),
                        "suppressed on the outer timeout: " + e.getSuppressed().length);
            }
        });
        assertThat(got).containsExactly("same cancellation out of the inner timeout: true", "suppressed on the outer timeout: 0");
    }

    // ---- cancellation ----

    @Test
    void cancellationIsCooperativeRunsFinallyAndTheAwaiterGetsCancellationException() {
        List<String> log = new CopyOnWriteArrayList<>();
        AtomicBoolean started = new AtomicBoolean();
        String result = run(() -> {
            Task<String> t = Coro.spawn(() -> {
                started.set(true);
                try {
                    Coro.sleep(Duration.ofSeconds(30));
                    return "slept";
                } finally {
                    log.add("finally");
                }
            });
            until("the task runs", started::get); // cancelled before it started, it would never run its finally
            assertThat(t.cancel()).isTrue();
            t.cancel(); // idempotent: a second request changes nothing
            try {
                t.join();
                return "joined";
            } catch (CancellationException e) {
                assertThat(t.isCancelled()).isTrue();
                assertThat(t.cancel()).isFalse();
                return "cancelled";
            }
        });
        assertThat(result).isEqualTo("cancelled");
        assertThat(log).containsExactly("finally");
    }

    /**
     * Cancel racing completion: exactly one outcome wins, and it agrees with what {@code cancel()}
     * said. Each round of three: one where the task has certainly ended before the cancel (it
     * completes; cancel says so), one where it certainly waits (it is cancelled), and one where
     * the two race (either, consistently: a join that returns gets the task's value, and a
     * cancellation came from a cancel that said it would).
     */
    @Test
    void cancelRacingCompletionHasExactlyOneOutcome() {
        int rounds = Stress.scaled(1_000);
        int[] counts = run(() -> {
            int[] c = new int[4]; // ended first: completed; waiting: cancelled; racing: completed, cancelled
            for (int i = 0; i < rounds; i++) {
                Task<Integer> ended = Coro.spawn(() -> 1);
                while (!ended.isDone()) {
                    Coro.yieldNow();
                }
                assertThat(ended.cancel()).as("cancel of an ended task").isFalse();
                assertThat(ended.join()).isEqualTo(1);
                assertThat(ended.isCancelled()).isFalse();
                assertThat(ended.state()).isEqualTo(java.util.concurrent.Future.State.SUCCESS);
                c[0]++;

                Task<Integer> waiting = Coro.spawn(() -> {
                    Coro.sleep(Duration.ofSeconds(30)); // bounded: a cancel that does nothing fails the test
                    return 1;
                });
                assertThat(waiting.cancel()).as("cancel of a waiting task").isTrue();
                assertThat(catchFrom(waiting::join)).isExactlyInstanceOf(CancellationException.class);
                assertThat(waiting.isCancelled()).isTrue();
                assertThat(waiting.state()).isEqualTo(java.util.concurrent.Future.State.CANCELLED);
                c[1]++;

                Task<Integer> racing = Coro.spawn(() -> {
                    Coro.yieldNow();
                    return 1;
                });
                if (i % 2 == 0) {
                    Coro.yieldNow();
                }
                boolean accepted = racing.cancel();
                Integer value;
                try {
                    value = racing.join();
                } catch (CancellationException e) {
                    value = null;
                }
                if (value != null) {
                    assertThat(value).isEqualTo(1);
                    assertThat(racing.isCancelled()).isFalse();
                    assertThat(racing.state()).isEqualTo(java.util.concurrent.Future.State.SUCCESS);
                    assertThat(racing.resultNow()).isEqualTo(1);
                    c[2]++;
                } else {
                    assertThat(accepted).as("a cancelled task's cancel() said it had not ended").isTrue();
                    assertThat(racing.isCancelled()).isTrue();
                    assertThat(racing.state()).isEqualTo(java.util.concurrent.Future.State.CANCELLED);
                    assertThat(catchFrom(racing::resultNow)).isExactlyInstanceOf(IllegalStateException.class);
                    c[3]++;
                }
                assertThat(racing.cancel()).as("cancel after the outcome").isFalse();
            }
            return c;
        });
        assertThat(counts[0]).isEqualTo(rounds);
        assertThat(counts[1]).isEqualTo(rounds);
        assertThat(counts[2] + counts[3]).isEqualTo(rounds);
    }

    // ---- the interrupt status ----

    /**
     * The common idiom {@code catch (InterruptedException e) { Thread.currentThread().interrupt(); }}
     * leaves the status set: it must stay the task's, across its suspensions, without turning
     * each park into a busy loop, and must not reach the task that runs next on the same carrier.
     */
    @Test
    void aTasksInterruptStatusIsItsOwnAndSurvivesSuspensionWithoutBusyWaiting() {
        Scheduler one = newScheduler(1);
        long[] seen = Coro.run(one, () -> {
            Event slept = new Event();
            Event go = new Event();
            Task<long[]> interrupted = Coro.spawn(() -> {
                Thread.currentThread().interrupt();
                boolean afterYields = true;
                for (int i = 0; i < 200; i++) {
                    Coro.yieldNow(); // on loom, some of them park for a nanosecond
                    afterYields &= Thread.currentThread().isInterrupted();
                }
                long before = one.stats().suspensions();
                Coro.sleep(ms(30)); // a timed park
                boolean afterSleep = Thread.currentThread().isInterrupted();
                slept.set();
                go.await(); // an untimed one, set once it has parked
                boolean afterAwait = Thread.currentThread().isInterrupted();
                long parks = one.stats().suspensions() - before;
                return new long[] {afterSleep ? 1 : 0, afterAwait ? 1 : 0, parks, afterYields ? 1 : 0};
            });
            slept.await();
            // Waits without suspending, which would count: on one threadpool carrier the task has
            // parked already; on loom, which runs it on another carrier, Thread.yield lets it.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (one.stats().parkedFibers() != 1) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("timed out after 30 s waiting until the task parks in go.await()");
                }
                Thread.yield();
            }
            go.set();
            long[] r = interrupted.join(); // it ends with its status still set
            boolean next = Coro.spawn(() -> Thread.currentThread().isInterrupted()).join();
            boolean main = Thread.currentThread().isInterrupted();
            return new long[] {r[0], r[1], r[2], next ? 1 : 0, main ? 1 : 0, r[3]};
        });
        assertThat(seen[5]).as("status after each of 200 yields").isEqualTo(1);
        assertThat(seen[0]).as("status after Coro.sleep").isEqualTo(1);
        assertThat(seen[1]).as("status after Event.await").isEqualTo(1);
        // Its sleep, its await and the main task's await, with room for a spurious wake-up or two;
        // a park that returns at once because the status is set loops thousands of times in 30 ms.
        assertThat(seen[2]).as("suspensions while the status was set").isBetween(2L, 8L);
        assertThat(seen[3]).as("status seen by the task run next on the carrier").isZero();
        assertThat(seen[4]).as("status of the task that joined it").isZero();
    }

    /**
     * An interrupt sent from another thread to the thread a task's code saw as
     * {@code Thread.currentThread()} (its own virtual thread on loom, its carrier on threadpool,
     * where it reaches whichever task runs there then or next, or none) neither wakes nor cancels a
     * suspended task, on either scheduler: a sleep lasts its time, a receive waits for its item.
     */
    @Test
    void anInterruptSentFromAnotherThreadNeitherWakesNorCancelsASuspendedTask() {
        List<String> seen = Coro.run(scheduler, () -> {
            Channel<String> items = Channel.rendezvous();
            CompletableFuture<Thread> receiversThread = new CompletableFuture<>();
            CompletableFuture<Thread> sleepersThread = new CompletableFuture<>();
            Task<String> receiver = Coro.spawn(() -> {
                receiversThread.complete(Thread.currentThread());
                return items.receive();
            });
            Task<Long> sleeper = Coro.spawn(() -> {
                sleepersThread.complete(Thread.currentThread());
                long start = System.nanoTime();
                Coro.sleep(ms(100));
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            });
            CompletableFuture<Void> interrupted = CompletableFuture.runAsync(() -> {
                receiversThread.join().interrupt();
                sleepersThread.join().interrupt();
            });
            Coro.await(interrupted);
            Coro.sleep(ms(20)); // room for a wake-up that the interrupt would wrongly make
            boolean receiverDone = receiver.isDone();
            items.send("item");
            long slept = sleeper.join();
            return List.of("receiver done before the send: " + receiverDone, receiver.join(),
                    "slept at least 100 ms: " + (slept >= 100));
        });
        assertThat(seen).containsExactly("receiver done before the send: false", "item", "slept at least 100 ms: true");
    }

    /**
     * A task's context class loader is its own, as a virtual thread's is: set, it survives the
     * task's suspensions without reaching tasks run on the same carrier meanwhile, and the
     * children the task spawns start with it.
     */
    @Test
    void aTasksContextClassLoaderIsItsOwnAndItsChildrenStartWithIt() {
        ClassLoader mine = new ClassLoader("tck-loader", null) { };
        Scheduler one = newScheduler(1);
        List<Object> seen = Coro.run(one, () -> {
            ClassLoader original = Thread.currentThread().getContextClassLoader();
            Task<List<Object>> a = Coro.spawn(() -> {
                Thread.currentThread().setContextClassLoader(mine);
                Coro.sleep(ms(30));
                ClassLoader after = Thread.currentThread().getContextClassLoader();
                ClassLoader child = Coro.spawn(() -> Thread.currentThread().getContextClassLoader()).join();
                return List.of(after.getName(), child.getName());
            });
            Coro.sleep(ms(10)); // a is asleep with its loader set
            boolean other = Coro.spawn(() -> Thread.currentThread().getContextClassLoader() == original).join();
            boolean main = Thread.currentThread().getContextClassLoader() == original;
            return List.of(a.join(), other, main);
        });
        assertThat(seen).containsExactly(List.of("tck-loader", "tck-loader"), true, true);
    }

    /**
     * A task starts with none of the {@link InheritableThreadLocal} values of the thread that calls
     * {@link Coro#run}, nor does a task it spawns, on either scheduler: on threadpool a task runs on
     * a carrier made before, and on loom its virtual thread, which the JDK would start with its
     * starter's values, is made without them. What follows a program into its tasks is its
     * {@link CoroutineLocal} values, which {@code Coro.run} takes from the calling thread.
     */
    @Test
    void aTaskStartsWithNoneOfTheInheritableThreadLocalValuesOfTheThreadCallingRun() throws Exception {
        InheritableThreadLocal<String> inherited = new InheritableThreadLocal<>();
        CoroutineLocal<String> local = new CoroutineLocal<>("local");
        CompletableFuture<List<String>> seen = new CompletableFuture<>();
        Thread.ofPlatform().name("tck-run-caller").start(() -> {
            inherited.set("the caller's");
            local.set("the caller's");
            try {
                seen.complete(Coro.run(scheduler, () -> List.of(String.valueOf(inherited.get()), local.get(),
                        Coro.spawn(() -> String.valueOf(inherited.get()) + ", " + local.get()).join())));
            } catch (Throwable t) {
                seen.completeExceptionally(t);
            }
        });
        assertThat(seen.get(30, TimeUnit.SECONDS)).containsExactly("null", "the caller's", "null, the caller's");
    }

    /**
     * A {@code ScopedValue} bound by a task is the task's, as a virtual thread's bindings are its
     * own: they survive its suspensions, and tasks that run on the same carrier meanwhile (a
     * one-carrier scheduler here) neither see them nor lose their own.
     */
    @Test
    void scopedValueBindingsStayWithTheTaskThatMadeThemAcrossSuspensions() throws Exception {
        Object key = ScopedValues.newInstance();
        Scheduler one = newScheduler(1);
        List<Object> seen = Coro.run(one, () -> {
            Task<List<Object>> a = Coro.spawn(() -> binding(key, "a"));
            Task<List<Object>> c = Coro.spawn(() -> binding(key, "c"));
            Coro.sleep(ms(10)); // both are asleep inside their bindings now
            Object other = Coro.spawn(() -> ScopedValues.valueOf(key)).join();
            Object main = ScopedValues.valueOf(key);
            return List.of(a.join(), c.join(), other, main, ScopedValues.valueOf(key));
        });
        assertThat(seen).containsExactly(List.of("a", "a", "unbound"), List.of("c", "c", "unbound"),
                "unbound", "unbound", "unbound");
    }

    /**
     * As GeneratorTck's aBindingOfTheResumerIsNotTheBodys, for a body that suspends its task
     * (an async generator): after the task has been off its carrier and back, the body still sees
     * none of its resumer's bindings, and its own.
     */
    @Test
    void aGeneratorBodyThatSuspendsItsTaskSeesItsOwnBindingsNotItsResumers() throws Exception {
        Object key = ScopedValues.newInstance();
        List<Object> seen = run(() -> ScopedValues.call(key, "the resumer's", () -> {
            Generator<Object, Object, Void> g = Generator.of(co -> {
                Coro.sleep(ms(1));
                co.yield(ScopedValues.valueOf(key));
                ScopedValues.call(key, "the body's", () -> {
                    Coro.sleep(ms(1));
                    co.yield(ScopedValues.valueOf(key));
                    return null;
                });
                return null;
            });
            List<Object> out = new ArrayList<>();
            out.add(g.next().value());
            out.add(g.next().value());
            out.add(ScopedValues.valueOf(key));
            g.close();
            return out;
        }));
        assertThat(seen).containsExactly("unbound", "the body's", "the resumer's");
    }

    /** Binds {@code key} to {@code value} around two sleeps; what the task sees inside, then after. */
    private static List<Object> binding(Object key, String value) throws Exception {
        List<Object> inside = ScopedValues.call(key, value, () -> {
            Coro.sleep(ms(20));
            Object afterOne = ScopedValues.valueOf(key);
            Coro.sleep(ms(20));
            return List.of(afterOne, ScopedValues.valueOf(key));
        });
        List<Object> all = new ArrayList<>(inside);
        all.add(ScopedValues.valueOf(key));
        return all;
    }

    // ---- structured concurrency ----

    @Test
    void theFirstChildFailureCancelsTheSiblingsAndTheGroupBody() {
        List<String> log = new CopyOnWriteArrayList<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            // The failure waits for the sibling to run: cancelled before it started, the sibling
            // would never run its body, so log nothing (a carrier that stalls 10 ms did that).
            Event siblingRuns = new Event();
            g.spawn(() -> {
                siblingRuns.set();
                return sleepRecordingCancel(log, "sibling");
            });
            g.spawn(() -> {
                siblingRuns.await();
                Coro.sleep(ms(10));
                throw new IllegalStateException("child failed");
            });
            try {
                Coro.sleep(Duration.ofSeconds(30));
            } catch (CancellationException e) {
                log.add("body");
                throw e;
            }
            return "body finished";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed");
        assertThat(log).containsExactlyInAnyOrder("sibling", "body");
    }

    @Test
    void aGroupCancelsEveryRunningChildAmongManyFinishedOnes() {
        // 20,000 children, every tenth sleeps and the rest end within 40 ms, spawned in waves so
        // that children end in another order than they started and while others are being added
        // (the group's bookkeeping of running children changes under it all the time): cancelling
        // must still reach each sleeper exactly once, and nothing may be left waiting.
        int children = 20_000;
        AtomicInteger cancelled = new AtomicInteger();
        AtomicInteger quickDone = new AtomicInteger();
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> runTask(Duration.ofSeconds(30), () -> Coro.taskGroup(g -> {
            for (int i = 0; i < children; i++) {
                if (i % 10 == 0) {
                    g.spawn(() -> {
                        try {
                            Coro.sleep(Duration.ofMinutes(10));
                        } catch (CancellationException e) {
                            cancelled.incrementAndGet();
                            throw e;
                        }
                        return null;
                    });
                } else {
                    int nap = i % 10 == 5 ? 40 : i % 4; // some end long after being moved
                    g.spawn(() -> {
                        Coro.sleep(ms(nap)); // ends after compactions have moved it
                        return quickDone.incrementAndGet();
                    });
                }
                if (i % 200 == 199) {
                    Coro.sleep(ms(2)); // most of the wave ends, the last of it still runs
                }
            }
            while (quickDone.get() < children - children / 10) {
                Coro.sleep(ms(1));
            }
            throw new IllegalStateException("stop the sleepers");
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("stop the sleepers");
        assertThat(cancelled.get()).isEqualTo(children / 10);
    }

    @Test
    void aSupervisorGroupLetsAChildFailWithoutCancellingItsSiblings() {
        List<String> log = new CopyOnWriteArrayList<>();
        String result = run(() -> Coro.supervisorGroup(g -> {
            Task<String> failing = g.spawn(() -> {
                throw new IllegalStateException("child failed");
            });
            Task<String> sibling = g.spawn(() -> {
                Coro.sleep(ms(30));
                log.add("sibling finished");
                return "ok";
            });
            try {
                failing.join();
            } catch (IllegalStateException e) {
                log.add("joined failure: " + e.getMessage());
            }
            return sibling.join();
        }));
        assertThat(result).isEqualTo("ok");
        assertThat(log).containsExactlyInAnyOrder("joined failure: child failed", "sibling finished");
        Throwable unjoined = catchFrom(() -> run(() -> Coro.supervisorGroup(g -> {
            g.spawn(() -> {
                throw new IllegalStateException("nobody joined me");
            });
            return "body";
        })));
        assertThat(unjoined).hasMessage("nobody joined me");
    }

    @Test
    void threeChildrenFailingAtOnceAreAllReportedEveryTime() {
        int runs = Stress.scaled(1_000);
        int wrong = run(() -> {
            int bad = 0;
            for (int i = 0; i < runs; i++) {
                AtomicInteger arrived = new AtomicInteger();
                try {
                    Coro.taskGroup(g -> {
                        for (int c = 0; c < 3; c++) {
                            int id = c;
                            g.spawn(() -> {
                                arrived.incrementAndGet();
                                // A barrier that is no suspension point: a sibling's failure
                                // cannot cancel this child before it fails too.
                                while (arrived.get() < 3) {
                                    scheduler.currentFiber().yieldNow();
                                }
                                throw new IllegalStateException("child " + id);
                            });
                        }
                        return null;
                    });
                    bad++;
                } catch (IllegalStateException e) {
                    List<String> all = new ArrayList<>();
                    all.add(e.getMessage());
                    for (Throwable s : e.getSuppressed()) {
                        all.add(s.getMessage());
                    }
                    if (!all.containsAll(List.of("child 0", "child 1", "child 2")) || all.size() != 3) {
                        bad++;
                    }
                }
            }
            return bad;
        });
        assertThat(wrong).as("runs where not all three failures were reported").isZero();
    }

    @Test
    void aChildFailureNobodyAwaitedFailsItsParent() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Coro.spawn(() -> {
                throw new IllegalStateException("unobserved");
            });
            return "parent returned";
        }));
        assertThat(thrown).hasMessage("unobserved");
    }

    /**
     * Asking a task's {@code state()}, as asking {@code isDone()}, neither joins nor gathers it: a
     * failure only looked at so is still reported. {@code resultNow()} of a failed task hands the
     * failure out, as the cause of its IllegalStateException, and then the group does not.
     */
    @Test
    void aChildFailureOnlyLookedAtThroughStateStillFailsItsParent_resultNowHandsItOut() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Task<Object> child = Coro.spawn(() -> {
                throw new IllegalStateException("looked at, not handled");
            });
            while (!child.isDone()) {
                Coro.yieldNow();
            }
            assertThat(child.state()).isEqualTo(java.util.concurrent.Future.State.FAILED);
            assertThat(child.isCancelled()).isFalse();
            return "parent returned";
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("looked at, not handled");
        IllegalStateException failure = new IllegalStateException("handed out by resultNow");
        Throwable handedOut = run(() -> {
            Task<Object> child = Coro.spawn(() -> {
                throw failure;
            });
            while (!child.isDone()) {
                Coro.yieldNow();
            }
            return catchFrom(child::resultNow);
        });
        assertThat(handedOut).isExactlyInstanceOf(IllegalStateException.class).hasCause(failure)
                .hasMessageStartingWith("Task completed with exception (task-")
                .hasMessageEndingWith("): java.lang.IllegalStateException: handed out by resultNow");
    }

    /**
     * {@code exceptionNow()}, as {@code resultNow()}: a failed task hands out its failure (and then
     * its group does not report it); a task that has not ended, was cancelled or returned is refused
     * with a message naming the task, as {@code resultNow()}'s do.
     */
    @Test
    void exceptionNowHandsOutTheFailureAndNamesTheTaskWhenItRefuses() {
        IllegalStateException failure = new IllegalStateException("handed out by exceptionNow");
        List<String> seen = run(() -> {
            Event go = new Event();
            Task<Object> failed = Coro.spawn(() -> {
                throw failure;
            });
            Task<String> running = Coro.spawn(() -> {
                go.await();
                return "value";
            });
            Task<String> cancelled = Coro.spawn(() -> {
                new Event().await();
                return "never";
            });
            List<String> out = new ArrayList<>();
            out.add(catchFrom(running::exceptionNow).getMessage().replace(running.name(), "RUNNING"));
            go.set();
            running.join();
            out.add(catchFrom(running::exceptionNow).getMessage().replace(running.name(), "RUNNING"));
            cancelled.cancel();
            while (!cancelled.isDone() || !failed.isDone()) {
                Coro.yieldNow();
            }
            out.add(catchFrom(cancelled::exceptionNow).getMessage().replace(cancelled.name(), "CANCELLED"));
            out.add("failed: " + (failed.exceptionNow() == failure));
            return out;
        });
        assertThat(seen).containsExactly("Task has not completed (RUNNING)", "Task completed with a result (RUNNING)",
                "Task was cancelled (CANCELLED)", "failed: true");
    }

    @Test
    void aRunningTaskStaysReachableWithoutAUserReference() {
        // The child sleeps until cancelled, so it still runs when looked at however slow the
        // collection is; only the weak reference leads to it from the test.
        AtomicInteger cancelled = new AtomicInteger();
        AtomicBoolean started = new AtomicBoolean();
        run(() -> {
            WeakReference<Task<Integer>> ref = new WeakReference<>(Coro.spawn(() -> {
                try {
                    started.set(true);
                    Coro.sleep(Duration.ofSeconds(30));
                    return 0;
                } catch (CancellationException e) {
                    cancelled.incrementAndGet();
                    throw e;
                }
            }));
            // Cancelled before it started, the child would never count its cancellation.
            until("the child runs", started::get);
            System.gc();
            Coro.sleep(ms(10));
            Task<Integer> child = ref.get();
            assertThat(child).as("task still referenced by its parent while running").isNotNull();
            assertThat(child.isDone()).isFalse();
            child.cancel();
            return null;
        });
        assertThat(cancelled.get()).isEqualTo(1);
    }

    @Test
    void aParentWaitsForItsChildrenBeforeFinishing() {
        AtomicInteger childDone = new AtomicInteger();
        run(() -> {
            Coro.spawn(() -> {
                Coro.sleep(ms(30));
                return childDone.incrementAndGet();
            });
            return null;
        });
        assertThat(childDone.get()).isEqualTo(1);
    }

    @Test
    void aGroupNeverReturnsWhileAChildSpawnedIntoItFromOutsideStillRuns() throws Exception {
        // A thread outside the group spawns into it once per round, at a moment that drifts
        // around the group's close: each spawn must either be refused or be waited for. Rounds
        // go on for two seconds and until enough spawns were accepted (30 s at most; both scale
        // with the stress multiplier, as the spawns needed do).
        long start = System.nanoTime();
        long minimum = TimeUnit.MILLISECONDS.toNanos(Stress.scaled(2_000));
        long maximum = TimeUnit.MILLISECONDS.toNanos(Math.max(30_000, Stress.scaled(30_000)));
        int enough = Stress.scaled(20);
        AtomicInteger outlived = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicReference<GroupRound> current = new AtomicReference<>();
        BooleanSupplier goOn = () -> {
            long elapsed = System.nanoTime() - start;
            return outlived.get() == 0 && elapsed < maximum && (elapsed < minimum || accepted.get() < enough);
        };
        Thread outsider = Thread.ofPlatform().daemon().name("tck-outsider").start(() -> {
            double spread = 64;
            GroupRound seen = null;
            Random random = new Random(42);
            while (goOn.getAsBoolean()) {
                GroupRound r = current.get();
                if (r == null || r == seen) {
                    Thread.onSpinWait();
                    continue;
                }
                seen = r;
                for (int i = random.nextInt((int) spread + 1); i > 0; i--) {
                    Thread.onSpinWait();
                }
                try {
                    r.group.spawn(() -> {
                        long began = System.nanoTime();
                        while (System.nanoTime() - began < 200_000) { // 0.2 ms, no suspension point
                            if (r.returned) {
                                outlived.incrementAndGet();
                                break;
                            }
                            Thread.onSpinWait();
                        }
                        return null;
                    });
                    accepted.incrementAndGet();
                    spread = Math.min(spread * 1.1, 1 << 20);
                } catch (IllegalStateException closed) {
                    refused.incrementAndGet();
                    spread = Math.max(spread / 1.1, 4);
                }
            }
        });
        runTask(() -> {
            while (goOn.getAsBoolean()) {
                GroupRound[] round = new GroupRound[1];
                Coro.taskGroup(g -> {
                    round[0] = new GroupRound(g);
                    current.set(round[0]);
                    return null;
                });
                round[0].returned = true;
            }
            return null;
        });
        outsider.join();
        assertThat(outlived.get()).as("children still running when their group returned").isZero();
        assertThat(accepted.get()).as("spawns accepted by an open group (the race was exercised)").isGreaterThanOrEqualTo(enough);
        assertThat(refused.get()).as("spawns refused by a closed group").isPositive();
    }

    @Test
    void aSpawnFromOutsideThatTheShutDownSchedulerRefusesDoesNotStrandTheGroup() throws Exception {
        // The owner waits in the group's close for a child spawned from another thread, whose
        // start the shut-down scheduler then refuses: the owner must be woken and the group close.
        long limit = TimeUnit.MILLISECONDS.toNanos(Stress.scaled(3_000));
        long start = System.nanoTime();
        int rounds = 0;
        int refused = 0;
        while (System.nanoTime() - start < limit) {
            rounds++;
            Scheduler s = newScheduler(2);
            CompletableFuture<TaskGroup> group = new CompletableFuture<>();
            AtomicInteger attempts = new AtomicInteger();
            AtomicInteger rejections = new AtomicInteger();
            Thread spawner = Thread.ofPlatform().daemon().name("tck-outside-spawner").start(() -> {
                TaskGroup g = group.join();
                while (true) {
                    attempts.incrementAndGet();
                    try {
                        g.spawn(() -> null);
                    } catch (RejectedExecutionException expected) {
                        rejections.incrementAndGet();
                    } catch (IllegalStateException closed) {
                        return;
                    }
                }
            });
            CompletableFuture<String> done = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("tck-group-owner").start(() -> {
                try {
                    done.complete(Coro.run(s, () -> Coro.taskGroup(g -> {
                        s.shutdown();
                        group.complete(g);
                        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
                        while (attempts.get() < 3 && System.nanoTime() - until < 0) {
                            Thread.onSpinWait();
                        }
                        return "closed";
                    })));
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
            assertThat(done.get(10, TimeUnit.SECONDS)).as("round %d", rounds).isEqualTo("closed");
            spawner.join(10_000);
            assertThat(spawner.isAlive()).isFalse();
            refused += rejections.get();
        }
        assertThat(refused).as("spawns refused in %d rounds (the race was exercised)", rounds).isPositive();
    }

    @Test
    void gatherInsideATaskGroupReportsEachFailureOnce() {
        // Both fail: a barrier that is no suspension point keeps the first failure from
        // cancelling the other child before it has run.
        AtomicInteger arrived = new AtomicInteger();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> a = g.spawn(() -> {
                awaitBoth(arrived);
                throw new IllegalStateException("A");
            });
            Task<Object> b = g.spawn(() -> {
                awaitBoth(arrived);
                throw new IllegalArgumentException("B");
            });
            return Coro.gather(a, b);
        })));
        assertThat(thrown.getMessage()).isIn("A", "B");
        assertThat(thrown.getSuppressed()).singleElement()
                .extracting(Throwable::getMessage).isEqualTo(thrown.getMessage().equals("A") ? "B" : "A");
        Throwable again = run(() -> Coro.supervisorGroup(g -> {
            Task<Object> a = g.spawn(() -> {
                throw new IllegalStateException("A");
            });
            Task<Object> b = g.spawn(() -> {
                throw new IllegalArgumentException("B");
            });
            // Both fail before the gathers: a gather waiting for both would cancel b when a fails,
            // and b, not started yet, would never fail.
            yieldUntil(() -> a.isDone() && b.isDone());
            Throwable last = null;
            for (int i = 0; i < 3; i++) {
                try {
                    Coro.gather(a, b);
                } catch (RuntimeException e) {
                    last = e;
                }
            }
            return last;
        }));
        assertThat(again.getSuppressed()).as("after three gathers of the same failed tasks").hasSize(1);
    }

    @Test
    void joinsThatEndEarlyLeaveNothingBehindOnTheTaskTheyJoined() {
        // Each caller joins a long-lived task under a short timeout and ends; nothing the join
        // registered may keep the callers reachable while the joined task lives on.
        int callers = 50;
        List<WeakReference<Task<String>>> refs = new ArrayList<>();
        String result = run(() -> {
            Event release = new Event();
            Task<String> longLived = Coro.spawn(() -> {
                release.await();
                return "long-lived done";
            });
            for (int i = 0; i < callers; i++) {
                Task<String> caller = Coro.spawn(() -> {
                    String r = Coro.withTimeoutOrNull(ms(1), longLived::join);
                    return r == null ? "timed out" : r;
                });
                assertThat(caller.join()).isEqualTo("timed out");
                refs.add(new WeakReference<>(caller));
            }
            long reachable = stillReachable(refs);
            release.set();
            return reachable + " callers still reachable; " + longLived.join();
        });
        assertThat(result).isEqualTo("0 callers still reachable; long-lived done");
    }

    /**
     * How many of {@code refs} are still reachable after collections for up to 10 s, the calling
     * task sleeping between them; called inside a task.
     */
    private static long stillReachable(List<? extends WeakReference<?>> refs) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (refs.stream().anyMatch(r -> r.get() != null) && System.nanoTime() - deadline < 0) {
            System.gc();
            Coro.sleep(ms(10));
        }
        return refs.stream().filter(r -> r.get() != null).count();
    }

    /**
     * A join that gave up before the task ended (its caller timed out) handed nothing out: a
     * failure that comes later is still the parent's to report, as if nobody had joined.
     */
    @Test
    void aFailureAfterAJoinGaveUpStillFailsTheParent() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Event gate = new Event();
            Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "failed after the join gave up"));
            Object joined = Coro.withTimeoutOrNull(ms(1), child::join);
            gate.set();
            return "parent returned; joined " + joined;
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("failed after the join gave up");
    }

    /** As above, for the waits of plain Java that give up: a timed-out and an interrupted get. */
    @Test
    void aFailureAfterAPlainJavaGetGaveUpStillFailsTheParent() throws Exception {
        for (boolean timed : new boolean[] {true, false}) {
            CompletableFuture<Task<Object>> escaped = new CompletableFuture<>();
            Event gate = new Event();
            AtomicReference<Object> gaveUp = new AtomicReference<>();
            Thread plain = new Thread(() -> {
                Task<Object> child = escaped.join();
                try {
                    if (timed) {
                        child.get(10, TimeUnit.MILLISECONDS);
                    } else {
                        Thread.currentThread().interrupt();
                        child.get();
                    }
                } catch (Exception e) {
                    gaveUp.set(e.getClass().getSimpleName());
                }
                gate.set();
            });
            plain.start();
            Throwable thrown = catchFrom(() -> run(() -> {
                Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "failed after the get gave up"));
                escaped.complete(child);
                return "parent returned";
            }));
            plain.join();
            assertThat(gaveUp.get()).isEqualTo(timed ? "TimeoutException" : "InterruptedException");
            assertThat(thrown).as("timed: %s", timed).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("failed after the get gave up");
        }
    }

    /**
     * A timed get with a null unit is refused with a {@link NullPointerException} naming the
     * argument, before it waits: it does not count as observing the task, whose later failure
     * still fails its parent (nothing is lost silently).
     */
    @Test
    void aTimedGetWithANullUnitIsRefusedNamingItAndLeavesTheFailureToTheParent() {
        AtomicReference<Throwable> refused = new AtomicReference<>();
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> run(() -> {
            Event gate = new Event();
            Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "failed after the get was refused"));
            refused.set(org.assertj.core.api.Assertions.catchThrowable(() -> child.get(1, null)));
            gate.set();
            return "parent returned";
        }));
        assertThat(refused.get()).isExactlyInstanceOf(NullPointerException.class).hasMessage("unit must not be null");
        assertThat(thrown).as("the child's failure, not lost").isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("failed after the get was refused");
    }

    /** A plain Java get that waits until the task fails hands the failure out, and the group does not report it again. */
    @Test
    void aPlainJavaGetThatSawTheFailureLeavesNothingForTheGroup() throws Exception {
        CompletableFuture<Task<Object>> escaped = new CompletableFuture<>();
        AtomicReference<Throwable> got = new AtomicReference<>();
        CountDownLatch waiting = new CountDownLatch(1);
        Thread plain = new Thread(() -> {
            Task<Object> child = escaped.join();
            waiting.countDown();
            try {
                child.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                got.set(e);
            }
        });
        plain.start();
        String r = run(() -> {
            Event gate = new Event();
            Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "seen by the get"));
            escaped.complete(child);
            Coro.blocking(() -> {
                waiting.await();
                Thread.sleep(20); // the get is waiting by now, or has not started: either way it sees the end
                return null;
            });
            gate.set();
            Coro.withTimeoutOrNull(Duration.ofSeconds(30), () -> {
                while (got.get() == null) {
                    Coro.sleep(ms(1));
                }
                return null;
            });
            return "parent returned";
        });
        plain.join();
        assertThat(r).isEqualTo("parent returned");
        assertThat(got.get()).isExactlyInstanceOf(java.util.concurrent.ExecutionException.class)
                .hasRootCauseMessage("seen by the get");
    }

    /** One group of {@link #aGroupNeverReturnsWhileAChildSpawnedIntoItFromOutsideStillRuns}. */
    private static final class GroupRound {
        final TaskGroup group;
        volatile boolean returned;

        GroupRound(TaskGroup group) {
            this.group = group;
        }
    }

    @Test
    void aChildFailureInAGroupCancelledByATimeoutIsThrownNotTheTimeout() {
        for (boolean orNull : new boolean[] {false, true}) {
            Throwable thrown = catchFrom(() -> run(() -> {
                Callable<String> body = () -> Coro.taskGroup(g -> {
                    AtomicBoolean started = new AtomicBoolean();
                    g.spawn(() -> {
                        started.set(true);
                        try {
                            Coro.sleep(Duration.ofSeconds(30));
                        } catch (CancellationException e) {
                            throw new IllegalStateException("child cleanup failed");
                        }
                        return null;
                    });
                    // A child that the timeout's cancellation reached before it started would never
                    // run its body (on a loaded machine, starting can take longer than the timeout);
                    // the body lets it start first, without a suspension point, so uncancelled.
                    yieldUntil(started::get);
                    Coro.sleep(Duration.ofSeconds(30));
                    return "body";
                });
                return orNull ? Coro.withTimeoutOrNull(ms(30), body) : Coro.withTimeout(ms(30), body);
            }));
            assertThat(thrown).as("orNull=" + orNull).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("child cleanup failed");
            assertThat(thrown.getSuppressed()).as("the body's cancellation, for the record").singleElement()
                    .isInstanceOf(CancellationException.class)
                    .hasFieldOrPropertyWithValue("message", "cancelled by an enclosing timeout or task group");
        }
    }

    @Test
    void aChildFailureBeforeTheTimeoutExpiredIsThrownNotTheTimeout() {
        Throwable thrown = catchFrom(() -> run(() -> Coro.withTimeout(ms(20), () -> Coro.taskGroup(g -> {
            Task<Object> child = g.spawn(() -> {
                throw new IllegalStateException("child failed first");
            });
            // No suspension point until the child has failed and the timeout has expired (the
            // fiber's yieldNow is none: it lets the child run where there is one carrier).
            long start = System.nanoTime();
            while (!child.isDone() || System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(60)) {
                scheduler.currentFiber().yieldNow();
            }
            Coro.sleep(Duration.ofSeconds(30));
            return "body";
        }))));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed first");
    }

    @Test
    void aBodyFailingAfterAChildFailedReportsTheChildFirst() {
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            g.spawn(() -> {
                throw new IllegalStateException("child failed first");
            });
            try {
                Coro.sleep(Duration.ofSeconds(30));
            } catch (CancellationException e) {
                throw new IllegalArgumentException("body failed while cancelled");
            }
            return "body";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed first");
        assertThat(thrown.getSuppressed()).singleElement().isExactlyInstanceOf(IllegalArgumentException.class)
                .hasFieldOrPropertyWithValue("message", "body failed while cancelled");
    }

    @Test
    void aTimeoutThatExpiresWhileAGroupWaitsForItsChildrenIsThrown() {
        AtomicReference<Task<String>> child = new AtomicReference<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.withTimeout(ms(30), () -> Coro.taskGroup(g -> {
            child.set(g.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return "child";
            }));
            return "body returned";
        }))));
        assertThat(thrown).isExactlyInstanceOf(TimeoutExceededException.class).hasMessage("timed out after PT0.03S");
        assertThat(child.get().isCancelled()).isTrue();
        String orNull = run(() -> Coro.withTimeoutOrNull(ms(30), () -> Coro.taskGroup(g -> {
            g.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return "child";
            });
            return "body returned";
        })));
        assertThat(orNull).isNull();
    }

    @Test
    void aTaskCancelledWhileItWaitsForItsChildrenEndsCancelled() {
        String result = run(() -> {
            AtomicReference<Task<String>> grandchild = new AtomicReference<>();
            Task<String> parent = Coro.spawn(() -> {
                grandchild.set(Coro.spawn(() -> {
                    Coro.sleep(Duration.ofSeconds(30));
                    return "grandchild";
                }));
                return "parent body returned";
            });
            until("the parent waits for its child", () -> grandchild.get() != null);
            Coro.sleep(ms(10));
            parent.cancel();
            try {
                return parent.join();
            } catch (CancellationException e) {
                return "cancelled; child cancelled: " + grandchild.get().isCancelled();
            }
        });
        assertThat(result).isEqualTo("cancelled; child cancelled: true");
    }

    /** Failures are reported in the order they happened: the first is thrown, a later one rides on it. */
    @Test
    void aGroupThrowsItsFirstChildFailureWithALaterOneSuppressed() {
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            // Fails only once the other child's failure has cancelled it: always second. The other
            // fails once it runs: cancelled before it started, it would never run its cleanup.
            Event secondRuns = new Event();
            g.spawn(() -> {
                secondRuns.set();
                return cleanupFails("second");
            });
            g.spawn(() -> failsOnceSet(secondRuns, "first"));
            Coro.sleep(Duration.ofSeconds(30));
            return "body";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("first");
        assertThat(thrown.getSuppressed()).singleElement().isExactlyInstanceOf(IllegalStateException.class)
                .hasFieldOrPropertyWithValue("message", "cleanup of second failed");
    }

    /** Only a supervisor group lets a joined child fail: a default group fails even if its body caught it. */
    @Test
    void aChildFailureTheBodyJoinedAndCaughtStillFailsADefaultGroup() {
        List<String> log = new CopyOnWriteArrayList<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> child = g.spawn(() -> {
                throw new IllegalStateException("child failed");
            });
            // No suspension point: the body is cancelled once the child has failed, and the join
            // of a finished task then returns its failure without suspending.
            while (!child.isDone()) {
                scheduler.currentFiber().yieldNow();
            }
            try {
                child.join();
            } catch (IllegalStateException e) {
                log.add("body caught " + e.getMessage());
            }
            return "body returned";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed");
        assertThat(thrown.getSuppressed()).isEmpty();
        assertThat(log).containsExactly("body caught child failed");
    }

    /**
     * A child spawned into a group whose children a failure has cancelled starts cancelled: its
     * body never runs, not even up to a first suspension point (a body without one would otherwise
     * run to its end and succeed).
     */
    @Test
    void aChildSpawnedAfterAFailureCancelledTheGroupStartsCancelled() {
        List<String> log = new CopyOnWriteArrayList<>();
        AtomicReference<Task<Object>> late = new AtomicReference<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> sibling = g.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return null;
            });
            g.spawn(() -> {
                throw new IllegalStateException("child failed");
            });
            // No suspension point: the body is cancelled too, yet it may still spawn. The sibling
            // ends cancelled once the group has cancelled its children, in its sleep or before it
            // started (then its body never runs: waiting for its catch block could wait for ever).
            while (!sibling.isDone()) {
                scheduler.currentFiber().yieldNow();
            }
            late.set(g.spawn(() -> {
                log.add("the late child's body ran"); // it must not: it never starts
                return null;
            }));
            return "body returned";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed");
        assertThat(log).isEmpty();
        assertThat(late.get().isCancelled()).isTrue();
    }

    /** A body failure that carries the child failure thrown instead is not attached to it: that would make a loop. */
    @Test
    void aBodyFailureWrappingTheChildFailureIsNotSuppressedOnIt() {
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> sibling = g.spawn(() -> {
                Coro.sleep(Duration.ofSeconds(30));
                return null;
            });
            Task<Object> child = g.spawn(() -> {
                throw new IllegalStateException("child failed");
            });
            // The sibling ends cancelled once the child's failure has come first, in its sleep or
            // before it started (then its body never runs: waiting for its catch block could wait for ever).
            while (!sibling.isDone()) {
                scheduler.currentFiber().yieldNow();
            }
            try {
                return child.join();
            } catch (IllegalStateException e) {
                throw new IllegalArgumentException("body wrapped it", e);
            }
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed");
        assertThat(thrown.getSuppressed()).isEmpty();
        assertThat(thrown.getCause()).isNull();
    }

    /** A child's failure wakes the waiting body at once, not only when the last child has ended. */
    @Test
    void aChildFailureCancelsTheBodyWhileASiblingStillRuns() {
        AtomicBoolean bodyCancelled = new AtomicBoolean();
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> runTask(Duration.ofSeconds(30), () -> Coro.taskGroup(g -> {
            // Waits at no cancellation point, so it ends only once the body has seen its
            // cancellation (or after a minute, so that a broken group still ends).
            g.spawn(() -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!bodyCancelled.get() && System.nanoTime() - deadline < 0) {
                    scheduler.currentFiber().yieldNow();
                }
                return null;
            });
            g.spawn(() -> {
                throw new IllegalStateException("child failed");
            });
            try {
                new Event().await();
            } catch (CancellationException e) {
                bodyCancelled.set(true);
                throw e;
            }
            return "body";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("child failed");
    }

    // ---- async generators, blocking, context ----

    @Test
    void aGeneratorBodyCanAwaitAndBeIteratedFromATask() {
        List<Integer> got = run(() -> {
            Generator<Integer, Object, Void> ticks = Generator.of(co -> {
                for (int i = 0; i < 5; i++) {
                    Coro.sleep(ms(2));
                    co.yield(i);
                }
                return null;
            });
            List<Integer> seen = new ArrayList<>();
            for (int v : ticks) {
                seen.add(v);
            }
            return seen;
        });
        assertThat(got).containsExactly(0, 1, 2, 3, 4);
    }

    @Test
    void blockingRunsOffTheCarrierAndCarriesTheContext() throws Exception {
        Scheduler loop = newScheduler(1);
        CoroutineLocal<String> user = new CoroutineLocal<>("user");
        List<String> log = Coro.run(loop, () -> {
            List<String> out = new CopyOnWriteArrayList<>();
            user.set("alice");
            CountDownLatch ticked = new CountDownLatch(1);
            Task<Void> ticker = Coro.spawn(() -> {
                for (int i = 0; i < 3; i++) {
                    Coro.sleep(ms(5));
                    out.add("tick");
                }
                ticked.countDown();
                return null;
            });
            // The one carrier is free for the ticker only if the blocking call is off it.
            String seen = Coro.blocking(() -> ticked.await(10, TimeUnit.SECONDS)
                    ? user.get() : "no ticks while it blocked");
            out.add("blocking saw " + seen);
            ticker.join();
            return out;
        });
        assertThat(log).containsExactly("tick", "tick", "tick", "blocking saw alice");
    }

    @Test
    void blockingRethrowsWhatTheBodyThrewUnchanged() {
        CompletionException wrapped = new CompletionException(new IOException("disk"));
        CompletionException bare = new CompletionException("no cause", null);
        IOException checked = new IOException("checked");
        for (Exception thrown : List.of(wrapped, bare, checked)) {
            Object got = run(() -> {
                try {
                    return Coro.blocking(() -> {
                        throw thrown;
                    });
                } catch (Exception e) {
                    return e;
                }
            });
            assertThat(got).isSameAs(thrown);
        }
    }

    /** Task operations in a blocking call fail with a message that says where they were called. */
    @Test
    void aTaskOperationInsideABlockingCallSaysItIsInsideOne() {
        Channel<String> ch = Channel.unbounded();
        Object got = run(() -> {
            try {
                return Coro.blocking(ch::receive);
            } catch (Exception e) {
                return e;
            }
        });
        assertThat(got).isInstanceOf(IllegalStateException.class).asInstanceOf(THROWABLE).hasMessage(
                "Channel.receive called inside Coro.blocking(...), whose body runs on a thread of its own,"
                        + " outside the task: do task operations before or after the blocking call");
    }

    @Test
    void cancellingATaskInABlockingCallInterruptsItWaitsForItAndPropagates() {
        List<String> log = new CopyOnWriteArrayList<>();
        String result = run(() -> {
            Task<String> t = Coro.spawn(() -> Coro.blocking(() -> {
                log.add("call started");
                try {
                    Thread.sleep(30_000);
                    return "slept";
                } catch (InterruptedException e) {
                    Thread.sleep(20); // the task waits for this: the call has not ended yet
                    log.add("call interrupted and ended");
                    throw e;
                }
            }));
            until("the call has started", () -> log.contains("call started"));
            t.cancel();
            try {
                return t.join();
            } catch (CancellationException e) {
                log.add("awaiter got the cancellation");
                // The task's own exception, as it is (not CompletableFuture.join's copy, JDK 23+).
                Throwable own = e;
                return "interrupted suppressed: "
                        + (own.getSuppressed().length == 1 && own.getSuppressed()[0] instanceof InterruptedException);
            }
        });
        assertThat(result).isEqualTo("interrupted suppressed: true");
        assertThat(log).containsExactly("call started", "call interrupted and ended", "awaiter got the cancellation");
        assertThat(Thread.currentThread().isInterrupted()).isFalse();
    }

    /** A task waiting for its interrupted blocking call to end suspends: on a single carrier, others still run. */
    @Test
    void waitingForAnInterruptedBlockingCallToEndLeavesTheCarrierFree() throws Exception {
        Scheduler loop = newScheduler(1);
        AtomicBoolean started = new AtomicBoolean();
        AtomicBoolean interrupted = new AtomicBoolean();
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<String> result = CompletableFuture.supplyAsync(() -> Coro.run(loop, () -> {
            Task<String> t = Coro.spawn(() -> Coro.blocking(() -> {
                started.set(true);
                try {
                    Thread.sleep(60_000);
                    return "slept";
                } catch (InterruptedException e) {
                    interrupted.set(true);
                    // Ends only once another task has run on the one carrier (or after two minutes).
                    release.await(120, TimeUnit.SECONDS);
                    throw e;
                }
            }));
            until("the call has started", started::get);
            t.cancel();
            until("the call was interrupted", interrupted::get);
            release.countDown();
            try {
                return t.join();
            } catch (CancellationException e) {
                return "cancelled after the call ended";
            }
        }));
        assertThat(await(result)).isEqualTo("cancelled after the call ended");
    }

    @Test
    void aTimeoutAroundABlockingCallInterruptsItAndTheTaskGoesOnUninterrupted() {
        String result = run(() -> {
            String timedOut;
            try {
                timedOut = Coro.withTimeout(ms(30), () -> Coro.blocking(() -> {
                    Thread.sleep(30_000);
                    return "slept";
                }));
            } catch (TimeoutExceededException e) {
                timedOut = e.getMessage();
            }
            // The interrupt was the timeout's: the task's thread does not keep it.
            String after = Coro.blocking(() -> {
                Thread.sleep(5);
                return "a later blocking call slept";
            });
            return timedOut + "; " + after;
        });
        assertThat(result).isEqualTo("timed out after PT0.03S; a later blocking call slept");
    }

    /**
     * A task group whose child fails cancels the body's blocking call; what the call threw as it
     * was interrupted is not lost with the group's own cancellation: it is suppressed on the
     * failure the group throws, as a timeout carries it onto its TimeoutExceededException
     * ({@link #aTimeoutAroundABlockingCallInterruptsItAndTheTaskGoesOnUninterrupted}).
     */
    @Test
    void aBlockingCallsFailureWhenItsTaskGroupCancelsItIsSuppressedOnTheGroupsFailure() {
        IOException cleanup = new IOException("the call's cleanup failed");
        IllegalStateException childFailure = new IllegalStateException("child failed");
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            AtomicBoolean started = new AtomicBoolean();
            g.spawn(() -> {
                until("the call has started", started::get);
                throw childFailure;
            });
            return Coro.blocking(() -> {
                started.set(true);
                try {
                    Thread.sleep(60_000);
                    return "slept";
                } catch (InterruptedException e) {
                    throw cleanup;
                }
            });
        })));
        assertThat(thrown).isSameAs(childFailure);
        assertThat(thrown.getSuppressed()).containsExactly(cleanup);
    }

    /**
     * {@code withTimeoutOrNull} returns null when its timeout interrupts a blocking call; what the call
     * threw for another reason than the interrupt, which {@code withTimeout} carries suppressed, goes
     * to the uncaught-exception handler instead of vanishing with the null. The call's plain
     * {@link InterruptedException} is no failure: nothing is reported for it.
     */
    @Test
    void aBlockingCallsFailureWhenWithTimeoutOrNullExpiresIsReportedNotLost() throws Exception {
        IOException cleanup = new IOException("the call's cleanup failed when interrupted");
        capturingUncaught("Coro.withTimeoutOrNull", reported -> {
            // A timeout that expires before the call starts (its task descheduled for 30 ms on a loaded
            // machine) never runs it, and then there is nothing to report: such a run is tried again.
            AtomicBoolean started = new AtomicBoolean();
            String result = null;
            for (int attempt = 0; attempt < 100 && !started.get(); attempt++) {
                reported.clear();
                result = run(() -> Coro.withTimeoutOrNull(ms(30), () -> Coro.blocking(() -> {
                    started.set(true);
                    try {
                        Thread.sleep(60_000);
                        return "slept";
                    } catch (InterruptedException e) {
                        throw cleanup;
                    }
                })));
            }
            assertThat(started).as("the call started in one of 100 runs").isTrue();
            assertThat(result).isNull();
            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e).isInstanceOf(IllegalStateException.class).hasMessage(
                        "a failure that ended beside the timeout (after PT0.03S) of Coro.withTimeoutOrNull, which"
                                + " returned null; reported here so that it is not lost (Coro.withTimeout throws it"
                                + " suppressed on its TimeoutExceededException)");
                assertThat(e.getCause()).isSameAs(cleanup);
            });

            reported.clear();
            String plain = run(() -> Coro.withTimeoutOrNull(ms(30), () -> Coro.blocking(() -> {
                Thread.sleep(60_000);
                return "slept";
            })));
            assertThat(plain).isNull();
            assertThat(reported).isEmpty();
        });
    }

    /**
     * Set by the call that {@link BlockingCallInInitializer} makes when it has ended, and read by the
     * initializer when {@code Coro.blocking} has come back.
     */
    static final AtomicBoolean BLOCKING_CALL_ENDED = new AtomicBoolean();

    /**
     * The call {@link BlockingCallInInitializer} makes: not a lambda of that class, whose code could
     * not run before the class is initialized (the call would wait for the initializer that waits
     * for it).
     */
    static final Callable<String> BLOCKING_CALL = () -> {
        try {
            Thread.sleep(1_000); // the call's work: far longer than starting it takes
            return "the call's value";
        } finally {
            BLOCKING_CALL_ENDED.set(true);
        }
    };

    /**
     * Makes a blocking call in its static initializer, under a native frame: where a threadpool
     * fiber cannot suspend (a loom one can, pinning its carrier). Initialized once per JVM.
     */
    static final class BlockingCallInInitializer {
        static final String RESULT;

        static {
            String r;
            try {
                r = Coro.blocking(BLOCKING_CALL);
            } catch (Throwable e) {
                r = "threw " + e;
            }
            RESULT = r + "; call ended: " + BLOCKING_CALL_ENDED.get();
        }
    }

    /**
     * Coro.blocking where the task cannot suspend (a class initializer): whether it returns the
     * call's value or refuses, it does not come back while the call still runs, left to itself
     * with its outcome lost (as it does not when the task is cancelled: the task waits for the call).
     */
    @Test
    void aBlockingCallInAClassInitializerHasEndedWhenCoroBlockingComesBack() {
        // Where the task can wait there (loom), the thread that makes the call needs a carrier of its own.
        assumeTrue(aPinnedWaitLeavesAnotherCarrier(), PINNED_WAIT_NEEDS_ANOTHER_CARRIER);
        String result = run(() -> BlockingCallInInitializer.RESULT);
        assertThat(result).endsWith("; call ended: true");
    }

    /**
     * Waits of a task in its static initializer, under the native frame through which the JVM
     * runs it: a threadpool fiber cannot suspend there (a loom one can, pinning its carrier).
     * Each outcome: "returned", or the message of what was thrown. Initialized once per JVM.
     */
    static final class WaitsInItsInitializer {
        static final List<String> OUTCOMES = new ArrayList<>();

        static {
            OUTCOMES.add(outcomeOf(() -> Coro.sleep(ms(1))));
            OUTCOMES.add(outcomeOf(Coro::yieldNow));
        }

        private static String outcomeOf(Runnable wait) {
            try {
                wait.run();
                return "returned";
            } catch (RuntimeException e) {
                return e.getMessage();
            }
        }
    }

    /**
     * A task that waits where it cannot suspend, in a class initializer (threadpool), is told so
     * and what to do about it; not to replace a synchronized block that it is not in (the advice
     * for the other reason, a monitor held, on JDK 21 to 23).
     */
    @Test
    void aWaitRefusedInAClassInitializerSaysSoAndWhatToDo() {
        List<String> outcomes = run(() -> WaitsInItsInitializer.OUTCOMES);
        assertThat(outcomes).hasSize(2).allSatisfy(o -> {
            if (!o.equals("returned")) {
                assertThat(o).startsWith("this fiber cannot suspend here (").contains("class initializer")
                        .doesNotContain("synchronized");
            }
        });
    }

    /**
     * A task's completion callbacks run on the thread that completed it, outside any task: on
     * threadpool, a carrier. A plain-Java join there (a stage chained on a task's view that waits
     * for another task) must not block that carrier for ever: the task it waits for may need that
     * very carrier to run (with one carrier it always does). It either returns the task's value
     * (loom: the callback runs on a virtual thread, which may block) or is refused with an
     * {@link IllegalStateException} saying why, as {@code Coro.run} is refused there.
     */
    @Test
    void aPlainJoinInACompletionCallbackOnACarrierDoesNotBlockItForEver() throws Exception {
        aPlainWaitInACompletionCallbackOnACarrierDoesNotBlockItForEver("join", Task::join);
    }

    /**
     * As {@link #aPlainJoinInACompletionCallbackOnACarrierDoesNotBlockItForEver}, for
     * {@link Task#get()}: it either returns the task's value or is refused with an
     * {@link IllegalStateException} that names the carrier, never blocks the only carrier for ever.
     */
    @Test
    void aPlainGetInACompletionCallbackOnACarrierDoesNotBlockItForEver() throws Exception {
        aPlainWaitInACompletionCallbackOnACarrierDoesNotBlockItForEver("get", t -> {
            try {
                return t.get();
            } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
                throw new CompletionException(e);
            }
        });
    }

    /** The two tests above: {@code waitFor} ({@code Task.what}) of a task in a completion callback. */
    private void aPlainWaitInACompletionCallbackOnACarrierDoesNotBlockItForEver(String what,
            Function<Task<String>, String> waitFor) throws Exception {
        Scheduler one = newScheduler(1);
        Object out = runOrFailAsHung(one, "the " + what + " in the callback blocks the only carrier, which the task it"
                + " waits for needs (scheduler " + one + ")", () -> {
            Task<String> slow = Coro.spawn(() -> {
                Coro.sleep(ms(20));
                return "slow";
            });
            Task<String> quick = Coro.spawn(() -> "quick");
            CompletableFuture<String> both = quick.toCompletableFuture().thenApply(q -> q + " then " + waitFor.apply(slow));
            try {
                return Coro.await(both);
            } catch (IllegalStateException refused) {
                slow.join();
                return refused;
            }
        });
        if (out instanceof IllegalStateException refused) {
            assertThat(refused).hasMessageContaining("carrier").hasMessageContaining("Task." + what);
        } else {
            assertThat(out).isEqualTo("quick then slow");
        }
    }

    @Test
    void aBlockingCallRunsOutsideTheTaskOnEveryScheduler() throws Exception {
        CoroutineLocal<String> user = new CoroutineLocal<>("user");
        List<String> log = run(() -> {
            user.set("task value");
            List<String> out = new ArrayList<>();
            out.add(Coro.blocking(() -> {
                List<String> inside = new ArrayList<>();
                inside.add("current task " + Coro.currentTask());
                inside.add("sees " + user.get());
                user.set("set inside the call");
                try {
                    Coro.sleep(ms(1));
                } catch (IllegalStateException e) {
                    inside.add(e.getMessage());
                }
                inside.add(Coro.run(scheduler, () -> "a nested Coro.run"));
                return String.join("; ", inside);
            }));
            out.add("after the call " + user.get());
            return out;
        });
        assertThat(log).containsExactly("current task null; sees task value;"
                + " Coro.sleep called inside Coro.blocking(...), whose body runs on a thread of its own, outside the task:"
                + " do task operations before or after the blocking call; a nested Coro.run",
                "after the call task value");
    }

    @Test
    void aTasksUncheckedCompletionExceptionCrossesEveryBoundaryAsItIs() {
        CompletionException mine = new CompletionException("mine", new IllegalArgumentException("inner"));
        CompletionException causeless = new CompletionException("no cause", null);
        for (CompletionException thrown : List.of(mine, causeless)) {
            assertThatThrownBy(() -> run(() -> {
                throw thrown;
            })).isSameAs(thrown);
            List<Object> seen = run(() -> {
                Task<Object> t = Coro.spawn(() -> {
                    throw thrown;
                });
                List<Object> out = new ArrayList<>();
                try {
                    t.join();
                } catch (CompletionException e) {
                    out.add(e);
                }
                out.add(((Outcome.Failure<Object>) Coro.gatherSettled(List.of(t)).get(0)).exception());
                try {
                    Coro.gather(List.of(t));
                } catch (CompletionException e) {
                    out.add(e);
                }
                return out;
            });
            assertThat(seen).as("join, gatherSettled, gather").hasSize(3).allMatch(e -> e == thrown);
        }
    }

    @Test
    void aFailureOfATaskThatAsCompletedNeverReachedFailsItsParent() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Event gate = new Event();
            Task<Integer> bad = Coro.spawn(() -> failsOnceSet(gate, "never handed out"));
            Task<Integer> good = Coro.spawn(() -> 1);
            try (Generator<Task<Integer>, Object, Void> completed = Coro.asCompleted(List.of(bad, good))) {
                for (Task<Integer> t : completed) {
                    assertThat(t).isSameAs(good);
                    break; // the loop stops before it reaches the failing task
                }
            }
            gate.set();
            return "returned";
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("never handed out");
    }

    /** A task asCompleted handed out counts as observed, joined or not: what its failure means is the loop's call. */
    @Test
    void aFailedTaskThatAsCompletedHandedOutDoesNotFailItsParent() {
        String result = run(() -> {
            Task<Integer> bad = Coro.spawn(() -> {
                throw new IllegalStateException("handed out");
            });
            int handedOut = 0;
            try (Generator<Task<Integer>, Object, Void> completed = Coro.asCompleted(List.of(bad))) {
                for (Task<Integer> t : completed) {
                    assertThat(t).isSameAs(bad);
                    handedOut++;
                }
            }
            return handedOut + " handed out; parent returned";
        });
        assertThat(result).isEqualTo("1 handed out; parent returned");
    }

    @Test
    void coroutineLocalsAreInheritedBySpawnAndSurviveSuspension() {
        CoroutineLocal<Integer> id = CoroutineLocal.withInitial("id", () -> -1);
        int tasks = 50;
        int mismatches = run(() -> {
            id.set(1000);
            AtomicInteger bad = new AtomicInteger();
            List<Task<Void>> all = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                int mine = i;
                all.add(Coro.spawn(() -> {
                    if (id.get() != 1000) {
                        bad.incrementAndGet();
                    }
                    id.set(mine);
                    for (int k = 0; k < 50; k++) {
                        Coro.yieldNow();
                        if (k % 10 == 0) {
                            Coro.sleep(ms(1));
                        }
                        if (id.get() != mine) {
                            bad.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            Coro.gather(all);
            if (id.get() != 1000) {
                bad.incrementAndGet();
            }
            return bad.get();
        });
        assertThat(mismatches).isZero();
        assertThat(id.get()).as("outside any task: the thread's own value").isEqualTo(-1);
    }

    /**
     * A task spawning into a group passes its own values to the child, not the group owner's; a
     * spawn from outside any task passes the owner's. Coro.run passes the calling thread's.
     */
    @Test
    void aSpawnedTaskStartsWithTheSpawningTasksCoroutineLocals() throws Exception {
        CoroutineLocal<String> where = new CoroutineLocal<>("where");
        where.set("the thread calling Coro.run");
        try {
            List<String> seen = run(() -> Coro.taskGroup(g -> {
                List<String> out = new ArrayList<>();
                out.add(where.get());
                where.set("the group's owner");
                out.add(g.spawn(() -> {
                    where.set("a child");
                    return g.spawn(where::get).join();
                }).join());
                out.add(Coro.blocking(() -> g.spawn(where::get)).join());
                return out;
            }));
            assertThat(seen).containsExactly("the thread calling Coro.run", "a child", "the group's owner");
            assertThat(where.get()).isEqualTo("the thread calling Coro.run");
        } finally {
            where.remove();
        }
    }

    /** {@link CoroutineLocal#with} sets the value for its body only, and restores the one before also when the body fails. */
    @Test
    void coroutineLocalWithRestoresThePreviousValue() throws Exception {
        CoroutineLocal<String> local = CoroutineLocal.withInitial("local", () -> "initial");
        List<String> seen = run(() -> {
            List<String> out = new ArrayList<>();
            out.add(local.with("inside", () -> {
                Coro.yieldNow();
                return local.get();
            }));
            out.add(local.get());
            local.set("set");
            try {
                local.with("failing", () -> {
                    throw new IllegalStateException("body failed");
                });
            } catch (IllegalStateException e) {
                out.add(e.getMessage() + ", then " + local.get());
            }
            return out;
        });
        assertThat(seen).containsExactly("inside", "initial", "body failed, then set");
        assertThat(local.with("on a thread", local::get)).isEqualTo("on a thread");
        assertThat(local.get()).isEqualTo("initial");
    }

    /**
     * {@link CoroutineLocal#with} gives back its own local's value and touches no other: what the
     * body set in another local stays set, and a generator body that yields inside it and is
     * finished by another task leaves that task's values alone (it does not put back those of the
     * task that entered it).
     */
    @Test
    void coroutineLocalWithRestoresItsOwnLocalOnly() throws Exception {
        CoroutineLocal<String> mark = new CoroutineLocal<>("mark");
        CoroutineLocal<String> other = new CoroutineLocal<>("other");
        List<String> seen = run(() -> {
            List<String> out = new ArrayList<>();
            mark.with("inside", () -> {
                other.set("set inside");
                return null;
            });
            out.add(mark.get() + ", " + other.get());
            other.set("A's");
            Generator<String, Object, Void> g = Generator.of(co -> mark.with("in the body", () -> {
                co.yield("paused");
                return null;
            }));
            g.next(); // entered by this task
            out.add(Coro.spawn(() -> {
                other.set("B's");
                g.next(); // left by this one
                return mark.get() + ", " + other.get();
            }).join());
            return out;
        });
        // B started inside the main task's with(), so its own value of mark is "in the body"; the
        // body leaving with() in B leaves it so, rather than putting back the main task's null.
        assertThat(seen).containsExactly("null, set inside", "in the body, B's");
    }

    /**
     * The same for the local {@link CoroutineLocal#with} sets: a generator body that yields inside
     * it and is finished by another task leaves that task's value of the local alone, rather than
     * giving it the value the entering task had (which that task set after the other started, and
     * which the other must never see).
     */
    @Test
    void coroutineLocalWithFinishedByAnotherTaskLeavesThatTasksValueOfTheLocal() throws Exception {
        CoroutineLocal<String> mark = new CoroutineLocal<>("mark");
        String seen = run(() -> {
            Generator<String, Object, Void> g = Generator.of(co -> mark.with("in the body", () -> {
                co.yield("paused");
                return null;
            }));
            Event entered = new Event();
            Task<Void> a = Coro.spawn(() -> {
                mark.set("A's");
                g.next(); // entered by A
                entered.set();
                return null;
            });
            Task<String> b = Coro.spawn(() -> {
                mark.set("B's");
                entered.await();
                g.next(); // left by B
                return mark.get();
            });
            a.join();
            return b.join();
        });
        assertThat(seen).as("B's value of the local after the body left with() in B").isEqualTo("B's");
    }

    /**
     * A completion callback that a task's end runs is outside any task: it reads a local's
     * initial value, and what it sets stays in that callback, on every scheduler. It must not
     * stay on the thread for the callbacks of other tasks' ends: on threadpool those run on the
     * same carrier (one here), on loom each on its own task's thread.
     */
    @Test
    void aCoroutineLocalSetInACompletionCallbackIsNotSeenByAnotherTasksCallback() {
        CoroutineLocal<String> local = new CoroutineLocal<>("local");
        Scheduler loop = newScheduler(1);
        String seen = Coro.run(loop, () -> {
            local.set("main");
            Event first = new Event();
            Event second = new Event();
            Task<Integer> one = Coro.spawn(() -> {
                first.await();
                return 1;
            });
            Task<Integer> two = Coro.spawn(() -> {
                second.await();
                return 2;
            });
            CompletableFuture<String> afterOne = one.toCompletableFuture().thenApply(v -> {
                String before = local.get();
                local.set("set by the callback of one");
                return before;
            });
            CompletableFuture<String> afterTwo = two.toCompletableFuture().thenApply(v -> local.get());
            first.set();
            one.join();
            second.set();
            two.join();
            return Coro.await(afterOne) + ", " + Coro.await(afterTwo) + ", " + local.get();
        });
        assertThat(seen).isEqualTo("null, null, main");
    }

    /**
     * "Later sets on either side are not seen by the other" (CoroutineLocal's javadoc): a child's
     * set does not reach its parent, nor a parent's set made after the spawn the child.
     */
    @Test
    void aParentsAndAChildsCoroutineLocalsGoSeparateWaysAtTheSpawn() {
        CoroutineLocal<String> v = new CoroutineLocal<>("v");
        List<String> seen = run(() -> {
            v.set("parent-before");
            Event childSet = new Event();
            Event parentSet = new Event();
            Task<String> child = Coro.spawn(() -> {
                String first = v.get();
                v.set("child");
                childSet.set();
                parentSet.await();
                return first + "," + v.get();
            });
            childSet.await();
            String parentSees = v.get();
            v.set("parent-after");
            parentSet.set();
            return List.of(child.join(), parentSees, v.get());
        });
        assertThat(seen).containsExactly("parent-before,child", "parent-before", "parent-after");
    }

    /**
     * A generator body sees, and sets, the values of whichever task resumes it, not those of the
     * task that made it.
     */
    @Test
    void aGeneratorBodySeesTheCoroutineLocalsOfTheTaskThatResumesIt() {
        CoroutineLocal<String> v = new CoroutineLocal<>("v");
        List<Object> seen = run(() -> {
            v.set("A");
            Generator<String, Object, Void> g = Generator.of(co -> {
                co.yield(v.get());
                co.yield(v.get());
                v.set("set by body in B");
                co.yield(v.get());
                return null;
            });
            List<Object> out = new ArrayList<>();
            out.add(g.next().value());
            out.add(Coro.spawn(() -> {
                v.set("B");
                Object a = g.next().value();
                Object b = g.next().value();
                return a + "/" + b + "/" + v.get();
            }).join());
            out.add(v.get());
            g.close();
            return out;
        });
        assertThat(seen).containsExactly("A", "B/set by body in B/set by body in B", "A");
    }

    // ---- waits that end early, misuse ----

    /**
     * As {@link #joinsThatEndEarlyLeaveNothingBehindOnTheTaskTheyJoined}, but the callers await
     * the long-lived task's stage or a long-lived plain future, or loop over the task with
     * asCompleted, under a short timeout: a completion callback cannot be taken off a future, so
     * what it holds must not be the caller.
     */
    @Test
    void awaitsAndAsCompletedLoopsThatEndEarlyLeaveNothingBehindOnWhatTheyWaitedFor() {
        int callers = 50;
        List<String> results = new ArrayList<>();
        for (String how : List.of("await of its stage", "await of a future", "asCompleted")) {
            List<WeakReference<Task<String>>> refs = new ArrayList<>();
            CompletableFuture<String> future = new CompletableFuture<>();
            String result = run(() -> {
                Event release = new Event();
                Task<String> longLived = Coro.spawn(() -> {
                    release.await();
                    return "long-lived done";
                });
                for (int i = 0; i < callers; i++) {
                    Task<String> caller = Coro.spawn(() -> {
                        Object r = switch (how) {
                            case "await of its stage" ->
                                    Coro.withTimeoutOrNull(ms(1), () -> Coro.await(longLived.toCompletionStage()));
                            // A stage of it that an await cannot cancel, as a cancelled await would cancel the future.
                            case "await of a future" ->
                                    Coro.withTimeoutOrNull(ms(1), () -> Coro.await(future.minimalCompletionStage()));
                            default -> {
                                try (var loop = Coro.asCompleted(List.of(longLived))) {
                                    yield Coro.withTimeoutOrNull(ms(1), () -> {
                                        for (Task<String> t : loop) {
                                            return t;
                                        }
                                        return "none";
                                    });
                                }
                            }
                        };
                        return r == null ? "timed out" : "returned " + r;
                    });
                    assertThat(caller.join()).isEqualTo("timed out");
                    refs.add(new WeakReference<>(caller));
                }
                long reachable = stillReachable(refs);
                release.set();
                future.complete("done");
                return how + ": " + reachable + " callers still reachable; " + longLived.join();
            });
            results.add(result);
        }
        assertThat(results).containsExactly(
                "await of its stage: 0 callers still reachable; long-lived done",
                "await of a future: 0 callers still reachable; long-lived done",
                "asCompleted: 0 callers still reachable; long-lived done");
    }

    /**
     * An asCompleted loop over a long-lived task and a short one, stopped early under a short
     * timeout and closed, or closed before its first step, leaves nothing on the long-lived task
     * that keeps the short one reachable: the completion callback the loop put on the long-lived
     * task, which cannot be taken off, must not hold the loop's list of tasks once the loop has
     * ended. A service that repeatedly races a long-lived task against fresh ones would otherwise
     * keep every one of them (with its result) for as long as the long-lived task runs.
     */
    @Test
    void anAsCompletedLoopThatEndedEarlyDoesNotKeepTheOtherTasksItWaitedFor() {
        int loops = 50;
        List<String> results = new ArrayList<>();
        for (boolean stepped : new boolean[] {true, false}) {
            results.add(run(() -> {
                Event release = new Event();
                Task<String> longLived = Coro.spawn(() -> {
                    release.await();
                    return "long-lived done";
                });
                List<WeakReference<Task<String>>> refs = new ArrayList<>();
                for (int i = 0; i < loops; i++) {
                    Task<String> other = Coro.spawn(() -> {
                        new Event().await(); // never set: only its cancellation ends it
                        return "other done";
                    });
                    try (var loop = Coro.asCompleted(List.of(longLived, other))) {
                        if (stepped) {
                            Object r = Coro.withTimeoutOrNull(ms(1), () -> {
                                for (Task<String> t : loop) {
                                    return t;
                                }
                                return "none";
                            });
                            assertThat(r).isNull();
                        }
                    }
                    other.cancel();
                    assertThatThrownBy(other::join).isInstanceOf(CancellationException.class);
                    refs.add(new WeakReference<>(other));
                }
                long reachable = stillReachable(refs);
                release.set();
                return (stepped ? "stopped early: " : "closed before its first step: ") + reachable + " of " + loops
                        + " other tasks still reachable; " + longLived.join();
            }));
        }
        assertThat(results).containsExactly(
                "stopped early: 0 of 50 other tasks still reachable; long-lived done",
                "closed before its first step: 0 of 50 other tasks still reachable; long-lived done");
    }

    /** As {@link #aFailureAfterAJoinGaveUpStillFailsTheParent}, but the wait that gives up is Coro.await of the task's stage. */
    @Test
    void aFailureAfterAnAwaitOfTheTasksStageGaveUpStillFailsTheParent() {
        List<String> out = new ArrayList<>();
        for (boolean completable : new boolean[] {false, true}) {
            String r;
            try {
                r = run(() -> {
                    Event gate = new Event();
                    Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "failed after the await gave up"));
                    Object awaited = Coro.withTimeoutOrNull(ms(1),
                            () -> Coro.await(completable ? child.toCompletableFuture() : child.toCompletionStage()));
                    gate.set();
                    return "parent returned; awaited " + awaited;
                });
            } catch (IllegalStateException e) {
                r = "parent failed: " + e.getMessage();
            }
            out.add((completable ? "toCompletableFuture: " : "toCompletionStage: ") + r);
        }
        assertThat(out).containsExactly("toCompletionStage: parent failed: failed after the await gave up",
                "toCompletableFuture: parent failed: failed after the await gave up");
    }

    /** Misuse gets a clear exception: a null task given to gather / asCompleted. */
    @Test
    void aNullTaskIsRejectedNamingIt() {
        List<String> out = run(() -> {
            Task<Object> t = Coro.spawn(() -> 1);
            List<Task<Object>> withNull = new ArrayList<>();
            withNull.add(t);
            withNull.add(null);
            List<String> r = new ArrayList<>();
            r.add("gather(list): " + catchFrom(() -> Coro.gather(withNull)).getMessage());
            r.add("gather(varargs): " + catchFrom(() -> Coro.gather(t, null)).getMessage());
            r.add("asCompleted: " + catchFrom(() -> Coro.asCompleted(withNull)).getMessage());
            t.join();
            return r;
        });
        assertThat(out).containsExactly("gather(list): task must not be null", "gather(varargs): task must not be null",
                "asCompleted: task must not be null");
    }

    /**
     * TaskGroup's class javadoc: "A child's real failure outranks a cancellation: it is thrown
     * instead, with the cancellation suppressed" -- also when the cancellation comes while the
     * group waits for its children.
     */
    @Test
    void aChildFailureOutranksACancellationThatCameWhileTheGroupWaited_withTheCancellationSuppressed() {
        List<String> out = new ArrayList<>();
        for (boolean whileWaiting : new boolean[] {false, true}) {
            Throwable thrown = catchFrom(() -> run(() -> Coro.withTimeout(ms(30), () -> Coro.taskGroup(g -> {
                AtomicBoolean started = new AtomicBoolean();
                g.spawn(() -> {
                    started.set(true);
                    try {
                        Coro.sleep(Duration.ofSeconds(30));
                    } catch (CancellationException e) {
                        throw new IllegalStateException("child cleanup failed");
                    }
                    return null;
                });
                // A child that the timeout's cancellation reached before it started would never run
                // its body, so would have no cleanup to fail: it starts first (no suspension point
                // here, so no cancellation either), however slowly a loaded machine starts it.
                yieldUntil(started::get);
                if (!whileWaiting) {
                    Coro.sleep(Duration.ofSeconds(30));
                }
                return "body";
            }))));
            out.add("whileWaiting=" + whileWaiting + ": " + thrown + " suppressed="
                    + java.util.Arrays.toString(thrown.getSuppressed()));
        }
        assertThat(out).containsExactly(
                "whileWaiting=false: java.lang.IllegalStateException: child cleanup failed suppressed="
                        + "[io.coro4j.Task$ScopeCancelledException: cancelled by an enclosing timeout or task group]",
                "whileWaiting=true: java.lang.IllegalStateException: child cleanup failed suppressed="
                        + "[io.coro4j.Task$ScopeCancelledException: cancelled by an enclosing timeout or task group]");
    }

    /** Waiting for your own task would never end: every way of waiting refuses it, naming the task. */
    @Test
    void waitingForYourOwnTaskIsRejectedByEveryWaitingCall() {
        List<String> out = run(() -> {
            @SuppressWarnings("unchecked")
            Task<Object> self = (Task<Object>) Coro.currentTask();
            List<String> r = new ArrayList<>();
            for (String how : List.of("join", "gather", "asCompleted", "await")) {
                try {
                    Object v = Coro.withTimeoutOrNull(ms(200), () -> switch (how) {
                        case "join" -> self.join();
                        case "gather" -> Coro.gather(self);
                        case "asCompleted" -> {
                            for (Task<Object> t : Coro.asCompleted(List.of(self))) {
                                yield t;
                            }
                            yield "none";
                        }
                        default -> Coro.await(self.toCompletionStage());
                    });
                    r.add(how + ": " + (v == null ? "hung until the 200 ms timeout" : v));
                } catch (IllegalStateException e) {
                    r.add(how + ": " + e.getMessage().replace(self.name(), "SELF"));
                }
            }
            return r;
        });
        assertThat(out).containsExactly(
                "join: a task cannot join itself: it would wait forever (SELF)",
                "gather: a task cannot gather itself: it would wait forever (SELF)",
                "asCompleted: a task cannot wait for itself in Coro.asCompleted: it would wait forever (SELF)",
                "await: a task cannot await itself: it would wait forever (SELF)");
    }

    /**
     * {@link Task#get()} (a {@link java.util.concurrent.Future} method, the one plain Java reaches
     * for) of the caller's own task, or of a task it runs under, can only wait for ever (timed: until
     * it times out), blocking the carrier meanwhile: it is refused as {@link Task#join()} is, with
     * the same message. The timed get comes first, so that a get not refused shows as a timeout
     * instead of hanging the test.
     */
    @Test
    void getOfYourOwnTaskOrOfATaskYouRunUnderIsRejected() {
        List<String> out = run(() -> {
            Task<?> root = Coro.currentTask();
            List<String> r = new ArrayList<>();
            r.add("timed, self: " + getRefusal(root, true));
            r.add("timed, ancestor: " + Coro.spawn(() -> getRefusal(root, true)).join());
            if (r.stream().noneMatch(s -> s.contains("timed out"))) {
                r.add("self: " + getRefusal(root, false));
                r.add("ancestor: " + Coro.spawn(() -> getRefusal(root, false)).join());
            }
            return r;
        });
        String tail = ", a task it runs under: a task ends only after the tasks spawned under it, so this would wait"
                + " forever; hand the value over another way (a Channel, a CompletableFuture)";
        assertThat(out).containsExactly(
                "timed, self: a task cannot get itself: it would wait forever (ROOT)",
                "timed, ancestor: WAITER cannot get ROOT" + tail,
                "self: a task cannot get itself: it would wait forever (ROOT)",
                "ancestor: WAITER cannot get ROOT" + tail);
    }

    /**
     * The message of the IllegalStateException that the current task's {@code target.get()} threw
     * (timed: 200 ms), its name and {@code target}'s replaced by WAITER and ROOT; or what it did instead.
     */
    private static String getRefusal(Task<?> target, boolean timed) {
        String waiter = Coro.currentTask().name();
        try {
            return "returned " + (timed ? target.get(200, TimeUnit.MILLISECONDS) : target.get());
        } catch (java.util.concurrent.TimeoutException e) {
            return "timed out after 200 ms";
        } catch (IllegalStateException e) {
            // A waiter other than the target was made after it: its number is larger, so it is replaced first.
            return e.getMessage().replace(waiter, target.name().equals(waiter) ? "ROOT" : "WAITER")
                    .replace(target.name(), "ROOT");
        } catch (Exception e) {
            return "threw " + e;
        }
    }

    /**
     * A {@link Coro#blocking} call runs outside its task, which waits for the call to end: a plain
     * join or get (of the task, or of its {@code CompletableFuture} stage), inside the call, of that
     * task or of a task it runs under would wait for ever, on
     * every scheduler. It is refused with an {@link IllegalStateException} that says why, as a task
     * joining itself is. Bounded: a wait that is not refused shows as a hang of 20 s.
     */
    @Test
    void waitingInsideABlockingCallForTheTaskThatWaitsForTheCallIsRejected() throws Exception {
        Object out = runOrFailAsHung(scheduler, "a join inside Coro.blocking waits for the task that waits for the call", () -> {
            Task<?> root = Coro.currentTask();
            List<String> r = new ArrayList<>();
            for (String how : List.of("join", "get", "join root", "stage get", "stage timed get", "stage join")) {
                r.add(how + ": " + Coro.spawn(() -> {
                    Task<?> me = Coro.currentTask();
                    Task<?> target = how.equals("join root") ? root : me;
                    return Coro.blocking(() -> {
                        try {
                            return "returned " + switch (how) {
                                case "get" -> target.get();
                                case "stage get" -> target.toCompletableFuture().get();
                                case "stage timed get" -> target.toCompletableFuture().get(20, TimeUnit.SECONDS);
                                case "stage join" -> target.toCompletableFuture().join();
                                default -> target.join();
                            };
                        } catch (IllegalStateException e) {
                            // me was made after root: its number is larger, so it is replaced first.
                            return e.getMessage().replace(me.name(), "ME").replace(root.name(), "ROOT");
                        }
                    });
                }).join());
            }
            return r;
        });
        String tail = ", which waits for the call to end: it would wait forever; wait for it after the blocking call";
        assertThat(out).isEqualTo(List.of(
                "join: Task.join of ME called inside Coro.blocking(...) of ME" + tail,
                "get: Task.get of ME called inside Coro.blocking(...) of ME" + tail,
                "join root: Task.join of ROOT called inside Coro.blocking(...) of ME" + tail,
                "stage get: Task.toCompletableFuture().get of ME called inside Coro.blocking(...) of ME" + tail,
                "stage timed get: Task.toCompletableFuture().get of ME called inside Coro.blocking(...) of ME" + tail,
                "stage join: Task.toCompletableFuture().join of ME called inside Coro.blocking(...) of ME" + tail));
    }

    /**
     * A generator iterated inside a {@link Coro#blocking} call runs inside that call, also where its
     * body runs on a thread of its own (loom): a join there of the task that waits for the call is
     * refused as it is in the call's own body, instead of waiting forever, and a task operation
     * there says it is inside a blocking call. Bounded: a wait that is not refused shows as a hang of 20 s.
     */
    @Test
    void aGeneratorIteratedInsideABlockingCallIsInsideTheCall() throws Exception {
        Object out = runOrFailAsHung(scheduler, "a join, in a generator iterated inside Coro.blocking, waits for the task"
                + " that waits for the call", () -> {
            Task<?> me = Coro.currentTask();
            return Coro.blocking(() -> {
                Generator<String, Object, Void> g = Generator.of(co -> {
                    try {
                        Coro.sleep(ms(1));
                        co.yield("slept");
                    } catch (IllegalStateException e) {
                        co.yield(e.getMessage());
                    }
                    try {
                        co.yield("joined " + me.join());
                    } catch (IllegalStateException e) {
                        co.yield(e.getMessage().replace(me.name(), "ME"));
                    }
                    return null;
                });
                List<String> seen = new ArrayList<>();
                for (String s : g) {
                    seen.add(s);
                }
                return seen;
            });
        });
        assertThat(out).isEqualTo(List.of(
                "Coro.sleep called inside Coro.blocking(...), whose body runs on a thread of its own, outside the task:"
                        + " do task operations before or after the blocking call",
                "Task.join of ME called inside Coro.blocking(...) of ME, which waits for the call to end: it would"
                        + " wait forever; wait for it after the blocking call"));
    }

    /**
     * As {@link #waitingInsideABlockingCallForTheTaskThatWaitsForTheCallIsRejected}, with the wait
     * in the body of a generator that the blocking call resumes: the body runs inside the call
     * (loom: on a thread of the generator's own), so the wait is refused the same way on every
     * scheduler, whether the generator was made inside the call or made and first stepped by the
     * task before it. Bounded: a wait that is not refused shows as a hang of 20 s.
     */
    @Test
    void waitingInAGeneratorResumedInsideABlockingCallForTheTaskThatWaitsForTheCallIsRejected() throws Exception {
        Object out = runOrFailAsHung(scheduler, "a join in a generator resumed inside Coro.blocking waits for the task that"
                + " waits for the call", () -> {
            List<String> r = new ArrayList<>();
            for (String how : List.of("join, made inside", "get, made inside", "join, stepped before")) {
                r.add(how + ": " + Coro.spawn(() -> {
                    Task<?> me = Coro.currentTask();
                    Generator<String, Object, Void> waits = Generator.of(me.scheduler(), co -> {
                        co.yield("first");
                        co.yield("returned " + (how.startsWith("get") ? me.get() : me.join()));
                        return null;
                    });
                    if (how.endsWith("before")) {
                        waits.next(); // its body starts in the task, pauses at "first"
                    }
                    return Coro.blocking(() -> {
                        Generator<String, Object, Void> g = how.endsWith("before") ? waits
                                : Generator.of(me.scheduler(), co -> {
                                    co.yield("returned " + (how.startsWith("get") ? me.get() : me.join()));
                                    return null;
                                });
                        try {
                            return String.valueOf(g.next());
                        } catch (IllegalStateException e) {
                            return e.getMessage().replace(me.name(), "ME");
                        } finally {
                            g.close();
                        }
                    });
                }).join());
            }
            return r;
        });
        String tail = " called inside Coro.blocking(...) of ME, which waits for the call to end: it would wait forever;"
                + " wait for it after the blocking call";
        assertThat(out).isEqualTo(List.of(
                "join, made inside: Task.join of ME" + tail,
                "get, made inside: Task.get of ME" + tail,
                "join, stepped before: Task.join of ME" + tail));
    }

    /**
     * A task operation in the body of a generator that a {@link Coro#blocking} call steps runs
     * inside the call (loom: on the generator's own thread): it is refused with the message that
     * says it was called inside a blocking call, on every scheduler, not the one for code outside
     * any task.
     */
    @Test
    void aTaskOperationInAGeneratorSteppedInsideABlockingCallSaysSo() {
        String out = run(() -> Coro.blocking(() -> {
            try (Generator<String, Object, Void> g = Generator.of(scheduler, co -> {
                Coro.yieldNow();
                co.yield("yielded");
                return null;
            })) {
                return "stepped: " + g.next();
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        }));
        assertThat(out).isEqualTo("Coro.yieldNow called inside Coro.blocking(...), whose body runs on a thread of its own,"
                + " outside the task: do task operations before or after the blocking call");
    }

    /**
     * A completion callback that a task's end runs on its thread runs before the task's group hears
     * of that end: a plain join or get there of a task the ended one runs under (its parent) would
     * wait for ever, the parent waiting for its child's end. It is refused with an
     * {@link IllegalStateException} on every scheduler (threadpool: also as the carrier must not
     * block), not left to hang the callback, the child and the parent. Bounded: a wait that is not
     * refused shows as a hang of 20 s.
     */
    @Test
    void aPlainWaitInAChildsCompletionCallbackForItsParentIsRefused() throws Exception {
        for (String what : List.of("join", "get")) {
            Object out = runOrFailAsHung(scheduler, "a " + what + " of the parent in its child's completion callback waits for the"
                    + " parent, which waits for the child's end (scheduler " + scheduler + ")", () -> {
                Task<?> root = Coro.currentTask();
                CompletableFuture<String> seen = new CompletableFuture<>();
                Event registered = new Event();
                Task<String> child = Coro.spawn(() -> {
                    registered.await();
                    return "child";
                });
                child.toCompletableFuture().whenComplete((v, e) -> {
                    try {
                        seen.complete("returned " + (what.equals("get") ? root.get() : root.join()));
                    } catch (IllegalStateException refused) {
                        seen.complete(refused.getMessage().replace(root.name(), "ROOT"));
                    } catch (Exception other) {
                        seen.complete("threw " + other);
                    }
                });
                registered.set();
                return Coro.await(seen);
            });
            assertThat(out).isEqualTo("Task." + what + " of ROOT called in a completion callback run by the end of a task"
                    + " that runs under it, before its group hears of that end: it would wait forever; chain on"
                    + " toCompletableFuture() instead");
        }
    }

    /**
     * Observing a task (join, gather, get, resultNow, its stage) keeps its failure from a group that
     * reports the failures nobody observed: the spawner's own and a supervisor group. A default
     * task group fails with every child failure, observed or not, as asyncio's TaskGroup does: the
     * failure resultNow handed out is still the group's to throw, as the javadoc of resultNow,
     * state, toCompletionStage and gather says.
     */
    @Test
    void aDefaultGroupThrowsAChildFailureThatResultNowHandedOut() {
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicReference<Throwable> handedOut = new AtomicReference<>();
        Throwable thrown = catchFrom(() -> run(() -> Coro.taskGroup(g -> {
            Task<Object> c = g.spawn(() -> {
                throw boom;
            });
            try {
                new Event().await(); // cancelled by c's failure
            } catch (CancellationException e) {
                handedOut.set(catchFrom(c::resultNow));
            }
            return "body returned";
        })));
        assertThat(handedOut.get()).isExactlyInstanceOf(IllegalStateException.class).hasCause(boom);
        assertThat(thrown).isSameAs(boom);
    }

    /**
     * A timed get is refused wherever an untimed one is, as {@link Task#get(long, TimeUnit)} says:
     * not only of the caller's own task or one it runs under, but also inside a {@link Coro#blocking}
     * call of the task and in a completion callback that the end of a task running under it runs,
     * where it could only time out. Bounded: a get not refused times out after 200 ms.
     */
    @Test
    void aTimedGetIsRefusedInsideABlockingCallAndInAChildsCompletionCallbackAsTheUntimedOneIs() throws Exception {
        Object out = runOrFailAsHung(scheduler, "a timed get refused or timed out", () -> {
            Task<?> root = Coro.currentTask();
            String inBlocking = Coro.spawn(() -> {
                Task<?> me = Coro.currentTask();
                return Coro.blocking(() -> timedGetOutcome(me).replace(me.name(), "ME"));
            }).join();
            CompletableFuture<String> inCallback = new CompletableFuture<>();
            Event registered = new Event();
            Task<String> child = Coro.spawn(() -> {
                registered.await();
                return "child";
            });
            child.toCompletableFuture().whenComplete((v, e) -> inCallback.complete(timedGetOutcome(root).replace(root.name(), "ROOT")));
            registered.set();
            return List.of(inBlocking, Coro.await(inCallback));
        });
        assertThat(out).isEqualTo(List.of(
                "Task.get of ME called inside Coro.blocking(...) of ME, which waits for the call to end: it would wait"
                        + " forever; wait for it after the blocking call",
                "Task.get of ROOT called in a completion callback run by the end of a task that runs under it, before its"
                        + " group hears of that end: it would wait forever; chain on toCompletableFuture() instead"));
    }

    /** What {@code target.get(200 ms)} did: returned, timed out, or the message of its refusal. */
    private static String timedGetOutcome(Task<?> target) {
        try {
            return "returned " + target.get(200, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            return "timed out";
        } catch (IllegalStateException e) {
            return e.getMessage();
        } catch (Exception e) {
            return "threw " + e;
        }
    }

    @Test
    void anAsCompletedLoopClosedBeforeItsFirstStepLeavesTheFailureToItsGroup() {
        Throwable thrown = catchFrom(() -> run(() -> Coro.supervisorGroup(g -> {
            Event gate = new Event();
            Task<Object> c = g.spawn(() -> failsOnceSet(gate, "c failed"));
            Task<Object> sibling = g.spawn(() -> {
                try (Generator<Task<Object>, Object, Void> done = Coro.asCompleted(List.of(c))) {
                    return "closed its loop before the first step"; // nothing claimed, nothing handed out
                }
            });
            sibling.join();
            gate.set();
            return "body returned";
        })));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("c failed");
    }

    @Test
    void anAsCompletedLoopNeverSteppedLeavesTheFailureToItsGroup() {
        Throwable thrown = catchFrom(() -> run(() -> {
            Event gate = new Event();
            Task<Object> c = Coro.spawn(() -> failsOnceSet(gate, "c failed"));
            Coro.spawn(() -> {
                Coro.asCompleted(List.of(c)); // made and dropped
                return null;
            }).join();
            gate.set();
            return "main returned";
        }));
        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class).hasMessage("c failed");
    }

    @Test
    void awaitingADoneListenableFutureWithTheTasksInterruptStatusSetReturnsItsValue() {
        String result = run(() -> {
            com.google.common.util.concurrent.SettableFuture<String> f =
                    com.google.common.util.concurrent.SettableFuture.create();
            f.set("value");
            Thread.currentThread().interrupt(); // the task's own status: it neither wakes nor cancels it
            String v;
            try {
                v = io.coro4j.ListenableFutures.await(f);
            } catch (RuntimeException e) {
                v = "threw " + e;
            }
            return v + ", interrupted=" + Thread.interrupted();
        });
        assertThat(result).isEqualTo("value, interrupted=true");
    }
    /**
     * A join from plain Java that hands a failure out counts as observing the task from the
     * moment it is called, as a plain {@code get} does: its supervisor group does not report the
     * failure as well. The plain thread's only wait is the join, so once it waits it has called it.
     */
    @Test
    void aFailureAPlainJavaJoinHandsOutIsNotAlsoReportedByItsSupervisorGroup() throws Exception {
        int doubles = 0;
        for (int round = 0; round < 200; round++) {
            Event gate = new Event();
            CompletableFuture<String> joined = new CompletableFuture<>();
            Throwable groupThrew = null;
            try {
                run(() -> Coro.supervisorGroup(g -> {
                    Task<Object> c = g.spawn(() -> failsOnceSet(gate, "c failed"));
                    Thread plain = Thread.ofPlatform().start(() -> {
                        try {
                            c.join();
                            joined.complete("returned");
                        } catch (RuntimeException e) {
                            joined.complete("join threw " + e.getMessage());
                        }
                    });
                    until("the plain thread waits in join", () -> plain.getState() == Thread.State.WAITING);
                    gate.set();
                    return null;
                }));
            } catch (IllegalStateException e) {
                groupThrew = e;
            }
            assertThat(joined.get(10, TimeUnit.SECONDS)).isEqualTo("join threw c failed");
            if (groupThrew != null) {
                doubles++;
            }
        }
        assertThat(doubles).as("rounds where the group reported the failure the plain join handed out").isZero();
    }

    /**
     * A loop stepped inside its group answers for the tasks from then on, also after its maker
     * has left the group and the group has closed: the failure of a task that ended meanwhile is
     * the loop's to hand out, once, and the group does not report it as well.
     */
    @Test
    void aLoopSteppedInsideItsGroupHandsOutAFailureAfterTheGroupClosed_once() {
        List<String> seen = run(() -> {
            AtomicReference<Generator<Task<Object>, Object, Void>> loop = new AtomicReference<>();
            AtomicReference<java.util.Iterator<Task<Object>>> steps = new AtomicReference<>();
            List<String> out = new ArrayList<>();
            try {
                Coro.supervisorGroup(g -> {
                    Event gate = new Event();
                    Task<Object> a = g.spawn(() -> "a");
                    Task<Object> c = g.spawn(() -> failsOnceSet(gate, "c failed"));
                    loop.set(Coro.asCompleted(List.of(a, c)));
                    steps.set(loop.get().iterator());
                    out.add("loop handed out " + steps.get().next().join());
                    gate.set();
                    return null; // the group waits for c, which fails while the loop answers for it
                });
                out.add("group returned");
            } catch (IllegalStateException e) {
                out.add("group threw " + e.getMessage());
            }
            try (Generator<Task<Object>, Object, Void> done = loop.get()) {
                while (steps.get().hasNext()) {
                    out.add("loop handed out " + catchFrom(steps.get().next()::join).getMessage());
                }
            }
            return out;
        });
        assertThat(seen).containsExactly("loop handed out a", "group returned", "loop handed out c failed");
    }

    private static Throwable catchFrom(Runnable r) {
        try {
            r.run();
        } catch (Throwable t) {
            return t;
        }
        throw new AssertionError("expected an exception");
    }

    /** A CancellationException of the user's own: a library's "job stopped" signal, say. */
    private static final class Stopped extends CancellationException {
        private static final long serialVersionUID = 1L;

        Stopped(String message) {
            super(message);
        }
    }

    /**
     * "Failures cross task boundaries as they are when unchecked" (Coro's javadoc), cancellations
     * included: a join, gather, await or Coro.run hands out the cancellation the task or future
     * ended with, not the copy that CompletableFuture's join() throws in its place since JDK 23
     * (a new CancellationException with the message "join").
     */
    @Test
    void aCancellationCrossesJoinGatherAwaitAndRunAsItWas() throws Exception {
        Stopped stopped = new Stopped("stopped: shutting down");
        List<String> out = runTask(() -> {
            List<String> r = new ArrayList<>();
            Task<String> thrower = Coro.spawn(() -> {
                throw stopped;
            });
            r.add("join of a task that threw it: " + (catchFrom(thrower::join) == stopped));
            Event never = new Event();
            Task<String> cancelled = Coro.spawn(() -> {
                never.await();
                return "set";
            });
            Coro.yieldNow();
            cancelled.cancel();
            r.add("join of a cancelled task: " + catchFrom(cancelled::join).getMessage().replace(cancelled.name(), "T"));
            Task<String> other = Coro.spawn(() -> "other");
            r.add("gather: " + catchFrom(() -> Coro.gather(cancelled, other)).getMessage().replace(cancelled.name(), "T"));
            CompletableFuture<String> future = new CompletableFuture<>();
            future.completeExceptionally(stopped);
            r.add("await of a future: " + (catchFrom(() -> Coro.await(future)) == stopped));
            return r;
        });
        assertThat(out).containsExactly("join of a task that threw it: true",
                "join of a cancelled task: task T was cancelled",
                "gather: task T was cancelled",
                "await of a future: true");
        assertThat(catchFrom(() -> run(() -> {
            throw stopped;
        }))).as("Coro.run of a main that threw it").isSameAs(stopped);
    }

    /**
     * A future failed with a CompletionException that has no cause: that exception is the failure
     * (its message says what went wrong), not a wrapper to take off, leaving an empty one.
     */
    @Test
    void awaitingAFutureFailedWithACauselessCompletionExceptionRethrowsIt() throws Exception {
        CompletionException noCause = new CompletionException("upstream refused the request", null);
        List<Throwable> out = runTask(() -> {
            CompletableFuture<String> done = new CompletableFuture<>();
            done.completeExceptionally(noCause);
            CompletableFuture<String> later = new CompletableFuture<>();
            Coro.spawn(() -> {
                Coro.sleep(ms(5));
                return later.completeExceptionally(noCause);
            });
            return List.of(catchFrom(() -> Coro.await(done)), catchFrom(() -> Coro.await(later)));
        });
        assertThat(out).containsExactly(noCause, noCause);
    }

    /**
     * withTimeout's javadoc: "an outer cancellation is never mistaken for it". The timeout expires,
     * and while the body unwinds from it (in a catch or finally) the task is cancelled by someone
     * else: the task's cancellation propagates, as in asyncio (a timeout re-raises CancelledError
     * when the task has other cancel requests), not a TimeoutExceededException nor null, which would
     * let a cancelled task go on and even end normally.
     */
    @Test
    void aCancellationThatComesWhileATimeoutUnwindsPropagates_notTheTimeoutNorNull() throws Exception {
        List<String> out = runTask(() -> {
            List<String> r = new ArrayList<>();
            for (boolean orNull : new boolean[] {false, true}) {
                Callable<String> body = () -> {
                    try {
                        Coro.sleep(Duration.ofSeconds(30));
                        return "slept";
                    } catch (CancellationException timedOut) {
                        Coro.currentTask().cancel(); // as another task or thread would, at this very moment
                        throw timedOut;
                    }
                };
                Task<Object> t = Coro.spawn(() -> orNull ? Coro.withTimeoutOrNull(ms(10), body) : Coro.withTimeout(ms(10), body));
                String how = orNull ? "withTimeoutOrNull: " : "withTimeout: ";
                try {
                    r.add(how + "returned " + t.join());
                } catch (CancellationException e) {
                    r.add(how + "cancelled");
                } catch (TimeoutExceededException e) {
                    r.add(how + e.getMessage());
                }
            }
            return r;
        });
        assertThat(out).containsExactly("withTimeout: cancelled", "withTimeoutOrNull: cancelled");
    }

    /**
     * Coro.await: "Suspends until stage completes and returns its value"; a task's stage is a copy
     * that its holder may complete ("completing it has no effect on the task"). Awaiting one its
     * holder completed (a fallback value) or cancelled returns that value or throws that
     * cancellation, at once: it does not wait for the task and hand out the task's outcome instead.
     */
    @Test
    void awaitingATasksStageThatItsHolderCompletedReturnsWhatItHolds() throws Exception {
        List<String> out = runTask(() -> {
            Event never = new Event();
            Task<String> slow = Coro.spawn(() -> {
                never.await();
                return "from the task";
            });
            List<String> r = new ArrayList<>();
            for (String how : List.of("complete", "cancel", "completeExceptionally")) {
                CompletableFuture<String> stage = slow.toCompletableFuture();
                for (int i = 0; i < 20; i++) { // awaits that give up leave nothing behind on the stage
                    Coro.withTimeoutOrNull(ms(1), () -> Coro.await(stage));
                }
                r.add("dependents after 20 awaits that gave up: " + stage.getNumberOfDependents());
                switch (how) {
                    case "complete" -> stage.complete("fallback");
                    case "cancel" -> stage.cancel(true);
                    default -> stage.completeExceptionally(new IllegalStateException("given up"));
                }
                try {
                    r.add(how + ": " + Coro.withTimeout(Duration.ofSeconds(5), () -> Coro.await(stage)));
                } catch (TimeoutExceededException e) {
                    r.add(how + ": still waiting for the task after 5 s");
                } catch (IllegalStateException e) { // a CancellationException too
                    r.add(how + ": " + e.getClass().getSimpleName());
                }
            }
            slow.cancel();
            return r;
        });
        String none = "dependents after 20 awaits that gave up: 0";
        assertThat(out).containsExactly(none, "complete: fallback", none, "cancel: CancellationException",
                none, "completeExceptionally: IllegalStateException");
    }

    /**
     * toCompletionStage: "an await of such a stage [one its holder completed before the task ended]
     * returns what it was completed with", and the task's failure is its group's to report. An await
     * woken only by the task's end (the holder's thread was still running the stage's dependents,
     * so it had not yet woken the await) returned the task's failure instead, and the group, which
     * the end told the await had observed it, did not report it: 'await threw child failed; stage
     * holds fallback; not reported' in 3 of 3 rounds on both schedulers.
     */
    @Test
    void anAwaitWokenByTheTaskEndAfterTheHolderCompletedTheStageReturnsTheHoldersValue() {
        List<String> out = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            String r;
            AtomicReference<String> got = new AtomicReference<>();
            try {
                r = run(() -> Coro.supervisorGroup(g -> {
                    Event gate = new Event();
                    Task<Object> child = g.spawn(() -> failsOnceSet(gate, "child failed"));
                    CompletableFuture<Object> stage = child.toCompletableFuture();
                    AtomicBoolean awaiting = new AtomicBoolean();
                    Task<String> awaiter = g.spawn(() -> {
                        awaiting.set(true);
                        try {
                            return "await returned " + Coro.await(stage);
                        } catch (IllegalStateException e) {
                            return "await threw " + e.getMessage();
                        }
                    });
                    until("the awaiter awaits", awaiting::get);
                    Coro.sleep(ms(50)); // suspended in the await (else it finds the stage done: passes too)
                    CountDownLatch inDependent = new CountDownLatch(1);
                    stage.thenRun(() -> { // on the holder's thread, inside its complete, before it wakes anyone
                        inDependent.countDown();
                        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                        while (!awaiter.isDone() && System.nanoTime() - end < 0) {
                            Thread.onSpinWait();
                        }
                    });
                    Thread holder = Thread.ofPlatform().daemon().name("tck-stage-holder")
                            .start(() -> stage.complete("fallback"));
                    Coro.blocking(() -> inDependent.await(10, TimeUnit.SECONDS));
                    gate.set(); // the child fails while the holder's complete is still under way
                    String a = awaiter.join();
                    Coro.blocking(() -> {
                        holder.join();
                        return null;
                    });
                    got.set(a + "; stage holds " + stage.getNow(null));
                    return "not reported";
                }));
            } catch (IllegalStateException e) {
                r = "reported: " + e.getMessage();
            }
            out.add(got.get() + "; " + r);
        }
        String expected = "await returned fallback; stage holds fallback; reported: child failed";
        assertThat(out).containsExactly(expected, expected, expected);
    }

    /**
     * "Nothing is lost silently": a task's stage whose holder completed it (a fallback, a timeout
     * of its own) will never show the task's failure, so that failure is the group's to report, as
     * after a get(timeout) or an await that gave up.
     */
    @Test
    void aFailureAfterTheHolderCompletedTheTasksStageStillFailsTheParent() {
        List<String> out = new ArrayList<>();
        for (String how : List.of("complete", "completeOnTimeout", "orTimeout", "cancel")) {
            String r;
            try {
                r = run(() -> {
                    Event gate = new Event();
                    Task<Object> child = Coro.spawn(() -> failsOnceSet(gate, "failed after its stage was completed"));
                    CompletableFuture<Object> stage = child.toCompletableFuture();
                    switch (how) {
                        case "complete" -> stage.complete("fallback");
                        case "completeOnTimeout" -> stage.completeOnTimeout("fallback", 1, TimeUnit.MILLISECONDS);
                        case "orTimeout" -> stage.orTimeout(1, TimeUnit.MILLISECONDS);
                        default -> stage.cancel(true);
                    }
                    until("the stage is done", stage::isDone);
                    gate.set();
                    return "parent returned";
                });
            } catch (IllegalStateException e) {
                r = "parent failed: " + e.getMessage();
            }
            out.add(how + ": " + r);
        }
        assertThat(out).containsExactly("complete: parent failed: failed after its stage was completed",
                "completeOnTimeout: parent failed: failed after its stage was completed",
                "orTimeout: parent failed: failed after its stage was completed",
                "cancel: parent failed: failed after its stage was completed");
    }

    /**
     * A holder completing a task's stage in the instant the task fails: either the stage shows the
     * failure (the task counted it as observed, so its group does not report it), or the holder's
     * value won (the stage will never show the failure, so the group reports it); never both, never
     * neither. The holder is a plain thread, so the two race on one carrier too.
     */
    @Test
    void aHolderCompletingATasksStageAsTheTaskFails_eitherTheStageShowsTheFailureOrTheGroupReportsIt() throws Exception {
        int rounds = Stress.scaled(1_000);
        SplittableRandom random = new SplittableRandom(42);
        // One thread is the holder of every round's stage, and spins for its next round: a thread
        // started, or woken, per round would take longer to run than the child takes to fail.
        ConcurrentLinkedQueue<Runnable> holderRounds = new ConcurrentLinkedQueue<>();
        AtomicBoolean over = new AtomicBoolean();
        Thread holder = Thread.ofPlatform().daemon().name("tck-stage-holder").start(() -> {
            while (!over.get()) {
                Runnable r = holderRounds.poll();
                if (r != null) {
                    r.run();
                } else {
                    Thread.onSpinWait();
                }
            }
        });
        Map<String, Integer> seen = new TreeMap<>();
        try {
            // The holder's delay after the child starts, steered to where the two meet: longer
            // after a round the holder won, shorter after one the task's end won.
            long holderDelay = 1_000;
            for (int round = 0; round < rounds; round++) {
                long childDelay = random.nextLong(500);
                long delay = holderDelay;
                AtomicBoolean holderSpins = new AtomicBoolean();
                AtomicBoolean started = new AtomicBoolean();
                CompletableFuture<Boolean> holderWon = new CompletableFuture<>();
                AtomicReference<CompletableFuture<Object>> stage = new AtomicReference<>();
                String reported;
                try {
                    reported = run(() -> Coro.supervisorGroup(g -> {
                        Task<Object> child = g.spawn(() -> {
                            while (!holderSpins.get()) {
                                Thread.onSpinWait();
                            }
                            started.set(true);
                            ChannelTck.spin(childDelay);
                            throw new IllegalStateException("child failed");
                        });
                        CompletableFuture<Object> view = child.toCompletableFuture();
                        stage.set(view);
                        holderRounds.add(() -> {
                            holderSpins.set(true);
                            while (!started.get()) {
                                Thread.onSpinWait();
                            }
                            ChannelTck.spin(delay);
                            holderWon.complete(view.complete("fallback"));
                        });
                        return "not reported";
                    }));
                } catch (IllegalStateException e) {
                    reported = "reported: " + e.getMessage();
                }
                boolean won = holderWon.get(20, TimeUnit.SECONDS);
                CompletableFuture<Object> view = stage.get();
                String shows = view.isCompletedExceptionally()
                        ? "stage shows: " + catchFrom(view::join).getCause().getMessage()
                        : "stage holds: " + view.getNow(null);
                seen.merge(reported + "; " + shows + "; holder's complete returned " + won, 1, Integer::sum);
                long step = 1 + random.nextLong(200);
                holderDelay = won ? holderDelay + step : Math.max(0, holderDelay - step);
            }
        } finally {
            over.set(true);
            holder.join();
        }
        assertThat(seen.keySet()).as("outcomes of %d rounds: %s", rounds, seen).isSubsetOf(
                "reported: child failed; stage holds: fallback; holder's complete returned true",
                "not reported; stage shows: child failed; holder's complete returned false");
    }

    /**
     * Two holders completing one stage of a running task at the same instant (complete against
     * cancel or completeExceptionally): exactly one wins, and the one whose call returns false
     * finds the stage done, as {@link CompletableFuture}'s contract says ("false if it was already
     * completed"), with the winner's outcome. Plain threads, both spinning, so the two calls meet.
     */
    @Test
    void twoHoldersCompletingOneStageAtOnce_theLoserFindsItDoneWithTheWinnersOutcome() throws Exception {
        int rounds = Stress.scaled(20_000);
        Event release = new Event();
        Map<String, Integer> seen = run(() -> Coro.taskGroup(g -> {
            Task<Object> child = g.spawn(() -> {
                release.await();
                return "child ended";
            });
            try {
                return Coro.blocking(() -> raceTwoHolders(child, rounds));
            } finally {
                release.set();
            }
        }));
        assertThat(seen.keySet()).as("outcomes of %d rounds: %s", rounds, seen).isSubsetOf(
                "holder 0 won; holder 1 found: holder 0's value",
                "holder 1 won; holder 0 found: holder 1's failure or cancellation");
    }

    private static Map<String, Integer> raceTwoHolders(Task<Object> child, int rounds) throws Exception {
        // Rounds in batches of stages made beforehand: the two holders go through a batch in
        // step, meeting at each stage, with no third thread between rounds to wait for.
        int batch = 500;
        Map<String, Integer> seen = new TreeMap<>();
        for (int from = 0; from < rounds; from += batch) {
            int n = Math.min(batch, rounds - from);
            List<CompletableFuture<Object>> stages = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                stages.add(child.toCompletableFuture());
            }
            AtomicIntegerArray arrived = new AtomicIntegerArray(n);
            boolean[][] won = new boolean[2][n];
            String[][] found = new String[2][n];
            Thread[] holders = new Thread[2];
            for (int h = 0; h < 2; h++) {
                int me = h;
                holders[h] = Thread.ofPlatform().daemon().name("tck-stage-holder-" + h).start(() -> {
                    for (int i = 0; i < n; i++) {
                        arrived.incrementAndGet(i);
                        for (int spins = 0; arrived.get(i) < 2; spins++) {
                            if (spins < 1_000) {
                                Thread.onSpinWait();
                            } else {
                                Thread.yield(); // the other holder is off its core
                            }
                        }
                        CompletableFuture<Object> view = stages.get(i);
                        won[me][i] = me == 0 ? view.complete("holder 0's value")
                                : i % 2 == 0 ? view.cancel(false)
                                : view.completeExceptionally(new IllegalStateException("holder 1's failure"));
                        // Read at once: the contract says a false return means the stage is done.
                        found[me][i] = !view.isDone() ? "a stage not done"
                                : view.isCompletedExceptionally() ? "holder 1's failure or cancellation"
                                : String.valueOf(view.getNow(null));
                    }
                });
            }
            for (Thread t : holders) {
                t.join(TimeUnit.SECONDS.toMillis(20));
                assertThat(t.isAlive()).as("%s still running after 20 s", t.getName()).isFalse();
            }
            for (int i = 0; i < n; i++) {
                String outcome = won[0][i] && !won[1][i] ? "holder 0 won; holder 1 found: " + found[1][i]
                        : won[1][i] && !won[0][i] ? "holder 1 won; holder 0 found: " + found[0][i]
                        : "both returned " + won[0][i] + "; found " + found[0][i] + " and " + found[1][i];
                seen.merge(outcome, 1, Integer::sum);
            }
        }
        return seen;
    }

    /**
     * A holder whose complete fails with a {@link StackOverflowError} part-way (between claiming
     * the stage and completing it) and then tries again, one frame higher each time, as a thread
     * does that fills its stack and retries on the way back up: the retry returns, and the stage
     * ends done with the holder's value. A claim the error cut short must not leave every later
     * complete, cancel or completeExceptionally waiting for a completion that will never come.
     */
    @Test
    void aHolderWhoseCompleteOverflowsTheStackAndRetriesFindsTheStageDone() throws Exception {
        Event release = new Event();
        String outcome = run(() -> Coro.taskGroup(g -> {
            Task<Object> child = g.spawn(() -> {
                release.await();
                return "child ended";
            });
            try {
                return Coro.blocking(() -> {
                    CompletableFuture<Object> stage = child.toCompletableFuture();
                    AtomicInteger overflows = new AtomicInteger();
                    Thread holder = Thread.ofPlatform().daemon().name("tck-stage-holder").stackSize(64 * 1024)
                            .start(() -> completeOnTheWayUp(stage, overflows));
                    holder.join(TimeUnit.SECONDS.toMillis(5));
                    if (holder.isAlive()) {
                        return "the holder still runs after 5 s, after " + overflows.get() + " overflows; stage done "
                                + stage.isDone();
                    }
                    return "holder returned; stage done " + stage.isDone() + " with " + stage.getNow("nothing")
                            + "; overflowed " + (overflows.get() > 0);
                });
            } finally {
                release.set();
            }
        }));
        assertThat(outcome).isEqualTo("holder returned; stage done true with the holder's value; overflowed true");
    }

    /** Recurses until the stack overflows, then completes {@code stage} at every depth on the way back up. */
    private static void completeOnTheWayUp(CompletableFuture<Object> stage, AtomicInteger overflows) {
        try {
            completeOnTheWayUp(stage, overflows);
        } catch (StackOverflowError e) {
            overflows.incrementAndGet();
            stage.complete("the holder's value"); // overflows again near the bottom: the frame above retries
        }
    }

    /**
     * A holder whose one complete fails with a {@link StackOverflowError} and who never calls the
     * stage again: whatever point of the call the error cut, the stage is done once the task has
     * ended, with the holder's value or the task's. Each round calls complete a few frames higher
     * above a full stack than the last, so that the error strikes at every depth of the call:
     * before the claim, between the claim and the completion, and after it. Where JIT-compiled
     * code inlines the claim and the completion together, no depth falls between them; with
     * {@code -Dcoro4j.test.jvmArgs=-Xint} 3 of the 400 stages were left undone before the task's
     * end learned to finish a holder's claim.
     */
    @Test
    void aHolderCutShortOnceByAStackOverflowNeverLeavesTheStageUndoneAfterTheTaskEnds() throws Exception {
        String outcome = run(() -> {
            int rounds = 400;
            int overflowedInComplete = 0;
            List<String> undone = new ArrayList<>();
            for (int k = 0; k < rounds; k++) {
                Event release = new Event();
                Task<Object> child = Coro.spawn(() -> {
                    release.await();
                    return "child ended";
                });
                CompletableFuture<Object> stage = child.toCompletableFuture();
                int framesUp = k % 200;
                int[] state = Coro.blocking(() -> {
                    int[] s = new int[2];
                    Thread holder = Thread.ofPlatform().daemon().name("tck-stage-holder").stackSize(64 * 1024)
                            .start(() -> completeOnceFramesAboveAFullStack(stage, framesUp, s));
                    holder.join(TimeUnit.SECONDS.toMillis(5));
                    return holder.isAlive() ? null : s;
                });
                if (state == null) {
                    return "holder of round " + k + " still runs after 5 s";
                }
                overflowedInComplete += state[1];
                release.set();
                child.join();
                for (int waited = 0; !stage.isDone() && waited < 1000; waited++) {
                    Coro.sleep(Duration.ofMillis(1));
                }
                if (!stage.isDone()) {
                    undone.add("round " + k);
                }
               
            }
            return "stages left undone after the task ended: " + undone + "; complete overflowed in "
                    + (overflowedInComplete > 0 ? "some rounds" : "no round");
        });
        assertThat(outcome).isEqualTo("stages left undone after the task ended: []; complete overflowed in some rounds");
    }

    /**
     * Recurses until the stack overflows, then, {@code framesUp} frames above the deepest, calls
     * complete once; {@code state[1]} is 1 if that call overflowed.
     */
    private static void completeOnceFramesAboveAFullStack(CompletableFuture<Object> stage, int framesUp, int[] state) {
        try {
            completeOnceFramesAboveAFullStack(stage, framesUp, state);
        } catch (StackOverflowError e) {
            state[0] = framesUp + 1; // the deepest frame that caught it counts as the first
        }
        if (state[0] > 1) {
            state[0]--;
        } else if (state[0] == 1) {
            state[0] = 0;
            try {
                stage.complete("the holder's value");
            } catch (StackOverflowError e) {
                state[1] = 1;
            }
        }
    }

    // ---- memory: a long-lived task keeps only the children that run or have something to report ----

    /**
     * A long-lived task that spawns and joins many short children, some of which fail (the join
     * hands the failure out, and the task catches it), keeps none of them: its own group (a
     * supervisor) has nothing left to report for a joined child.
     */
    @Test
    void aLongLivedTaskThatJoinsFailingChildrenDoesNotRetainThem() {
        String result = run(() -> {
            List<WeakReference<Task<Integer>>> sample = new ArrayList<>();
            int caught = 0;
            for (int i = 0; i < 100_000; i++) {
                int n = i;
                Task<Integer> child = Coro.spawn(() -> {
                    if (n % 2 == 0) {
                        throw new IllegalStateException("child " + n);
                    }
                    return n;
                });
                try {
                    child.join();
                } catch (IllegalStateException e) {
                    caught++;
                }
                if (i % 1000 == 0) {
                    sample.add(new WeakReference<>(child));
                }
            }
            // At most one may stay, held by a stale slot of an interpreted frame (-Xint runs).
            return caught + " caught; " + Math.max(1, stillReachable(sample)) + " of " + sample.size()
                    + " at most still reachable";
        });
        assertThat(result).isEqualTo("50000 caught; 1 of 100 at most still reachable");
    }

    /** The same in a supervisor group: a joined child failure is not kept for the group's end. */
    @Test
    void aSupervisorGroupThatJoinsFailingChildrenDoesNotRetainThem() {
        String result = run(() -> Coro.supervisorGroup(g -> {
            List<WeakReference<Task<Integer>>> sample = new ArrayList<>();
            for (int i = 0; i < 100_000; i++) {
                int n = i;
                Task<Integer> child = g.spawn(() -> {
                    throw new IllegalStateException("child " + n);
                });
                try {
                    child.join();
                } catch (IllegalStateException expected) {
                    // handled
                }
                if (i % 1000 == 0) {
                    sample.add(new WeakReference<>(child));
                }
            }
            return Math.max(1, stillReachable(sample)) + " of " + sample.size() + " at most still reachable";
        }));
        assertThat(result).isEqualTo("1 of 100 at most still reachable");
    }

    @Test
    void aLongLivedTaskThatJoinsSucceedingChildrenDoesNotRetainThem() {
        String result = run(() -> {
            List<WeakReference<Task<Integer>>> sample = new ArrayList<>();
            for (int i = 0; i < 100_000; i++) {
                int n = i;
                Task<Integer> child = Coro.spawn(() -> n);
                child.join();
                if (i % 1000 == 0) {
                    sample.add(new WeakReference<>(child));
                }
            }
            return stillReachable(sample) + " of " + sample.size() + " still reachable";
        });
        assertThat(result).isEqualTo("0 of 100 still reachable");
    }

    /**
     * A long-lived task keeps none of its views ({@link Task#toCompletableFuture()}) that their
     * holder completed or cancelled before it ended (polling it with {@code completeOnTimeout} or
     * {@code orTimeout} does so): a loop doing that for the task's life must not grow with each
     * round, as a join that gives up does not. A view whose {@link Coro#await} gave up is not done:
     * it still gets the task's outcome at the end.
     */
    @Test
    void aLongLivedTaskDoesNotRetainItsViewsThatTheirHolderCompleted() {
        String result = run(() -> {
            Event stop = new Event();
            Task<String> longLived = Coro.spawn(() -> {
                stop.await();
                return "ended";
            });
            CompletionStage<String> awaited = longLived.toCompletionStage();
            Coro.withTimeoutOrNull(Duration.ZERO, () -> Coro.await(awaited));
            List<WeakReference<Object>> completed = new ArrayList<>();
            List<WeakReference<Object>> cancelled = new ArrayList<>();
            for (int i = 0; i < 10_000; i++) {
                CompletableFuture<String> c = longLived.toCompletableFuture();
                c.thenApply(v -> v + "!");
                c.complete("the holder's");
                CompletableFuture<String> k = longLived.toCompletableFuture();
                k.cancel(false);
                if (i % 100 == 0) {
                    completed.add(new WeakReference<>(c));
                    cancelled.add(new WeakReference<>(k));
                }
            }
            String kept = Math.max(1, stillReachable(completed)) + " and " + Math.max(1, stillReachable(cancelled))
                    + " of " + completed.size() + " at most still reachable";
            stop.set();
            return kept + "; " + longLived.join() + ", awaited view: " + Coro.await(awaited);
        });
        // At most one of each may stay, held by a stale slot of an interpreted frame (-Xint runs).
        assertThat(result).isEqualTo("1 and 1 of 100 at most still reachable; ended, awaited view: ended");
    }

    /**
     * An {@link Coro#asCompleted} loop over a long-lived task and a short one, stepped once and
     * closed (wait for the first of them, in a loop, as a server waits for its work or its
     * shutdown), leaves nothing on the long-lived task: the heap does not grow with the rounds.
     * 50,000 rounds kept about 11 MB on both schedulers before (228 bytes a round); the bound is
     * a quarter of that, far above what collections leave behind between two measures.
     */
    @Test
    void anAsCompletedLoopClosedEarlyLeavesNothingOnALongLivedTaskItWaitedFor() {
        String result = run(() -> {
            Event stop = new Event();
            Task<Object> longLived = Coro.spawn(() -> {
                stop.await();
                return "ended";
            });
            Runnable rounds = () -> {
                for (int i = 0; i < 50_000; i++) {
                    Task<Object> quick = Coro.spawn(() -> "quick");
                    try (Generator<Task<Object>, Object, Void> first = Coro.asCompleted(List.of(longLived, quick))) {
                        first.next();
                    }
                }
            };
            rounds.run(); // warm-up: classes loaded and code compiled before the first measure
            long before = usedHeapAfterCollections();
            rounds.run();
            long grown = usedHeapAfterCollections() - before;
            stop.set();
            return (grown < 11_000_000 / 4 ? "grew less than 2.75 MB" : "grew " + grown + " bytes") + "; "
                    + longLived.join();
        });
        assertThat(result).isEqualTo("grew less than 2.75 MB; ended");
    }

    /** The heap in use after a few full collections; called inside a task. */
    private static long usedHeapAfterCollections() {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Coro.sleep(ms(20));
        }
        return rt.totalMemory() - rt.freeMemory();
    }

    /**
     * A finished task held for its outcome (in a list of results, a cache of tasks) keeps neither
     * what its body captured nor the {@link CoroutineLocal} values it had, as the JDK's
     * {@code FutureTask} drops its callable once run: only the outcome.
     */
    @Test
    void aFinishedTaskHeldForItsOutcomeKeepsNeitherItsBodysCapturesNorItsCoroutineLocals() {
        CoroutineLocal<Object> local = new CoroutineLocal<>("tck-local");
        String result = run(() -> {
            List<WeakReference<Object>> captured = new ArrayList<>();
            List<WeakReference<Object>> values = new ArrayList<>();
            List<Task<Integer>> held = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                byte[] input = new byte[1000];
                captured.add(new WeakReference<>(input));
                Task<Integer> t = Coro.spawn(() -> {
                    byte[] value = new byte[1000];
                    values.add(new WeakReference<>(value));
                    local.set(value);
                    Coro.yieldNow();
                    return input.length;
                });
                t.join();
                held.add(t);
            }
            return Math.max(1, stillReachable(captured)) + " captures and " + Math.max(1, stillReachable(values))
                    + " values of 10 at most still reachable; outcomes " + held.stream().mapToInt(Task::join).sum();
        });
        // At most one of each may stay, held by a stale slot of an interpreted frame (-Xint runs).
        assertThat(result).isEqualTo("1 captures and 1 values of 10 at most still reachable; outcomes 10000");
    }

    /**
     * A callback on a task's stage that runs as the task ends runs on the task's thread, but not
     * in the task, which has finished: it cannot spawn a child that would outlive it (and whose
     * failure nobody would report), nor suspend the ended task (which would hold up its group);
     * it is refused as outside any task, as when it runs on the thread that registered it.
     */
    @Test
    void aCallbackRunAsATaskEndsIsNotInTheTask_itCannotSpawnNorSuspendIt() {
        String r = run(() -> {
            Event go = new Event();
            Event never = new Event();
            Task<String> t = Coro.spawn(() -> {
                go.await();
                return "t done";
            });
            CompletableFuture<String> spawning = t.toCompletableFuture().thenApply(v -> {
                Task<Object> child = Coro.spawn(() -> {
                    Coro.sleep(ms(20));
                    throw new IllegalStateException("late child failed");
                });
                return "spawned " + child.name() + " after " + v;
            });
            CompletableFuture<String> awaiting = t.toCompletableFuture().thenApply(v -> {
                never.await();
                return "awaited after " + v;
            });
            go.set();
            String joined = t.join();
            List<String> out = new ArrayList<>(List.of(joined));
            for (CompletableFuture<String> cb : List.of(spawning, awaiting)) {
                try {
                    String v = Coro.withTimeoutOrNull(Duration.ofSeconds(5), () -> Coro.await(cb));
                    out.add(v == null ? "still running after 5 s" : v);
                } catch (IllegalStateException e) {
                    out.add("refused: " + e.getMessage());
                }
            }
            never.set(); // lets a suspended callback, and so the ended task, go on
            return String.join("; ", out);
        });
        assertThat(r).isEqualTo("t done; refused: Coro.spawn" + OUTSIDE + "; refused: Event.await" + OUTSIDE);
    }

    // ---- structured concurrency: cases checked and found correct ----

    /** Children that ignore the cancellation for a while and spawn siblings meanwhile are all waited for. */
    @Test
    void aCancelledGroupWaitsForChildrenThatIgnoreCancellationAndForWhatTheySpawn() throws Exception {
        AtomicInteger running = new AtomicInteger();
        AtomicInteger ended = new AtomicInteger();
        AtomicReference<String> seen = new AtomicReference<>();
        CountDownLatch allStarted = new CountDownLatch(3);
        Task<?>[] owner = new Task<?>[1];
        String r = runTask(() -> {
            Task<String> o = Coro.spawn(() -> Coro.taskGroup(g -> {
                for (int i = 0; i < 3; i++) {
                    g.spawn(() -> {
                        running.incrementAndGet();
                        try {
                            allStarted.countDown();
                            new Event().await();
                        } catch (CancellationException e) {
                            // keep working without suspending for a while
                            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                            try {
                                g.spawn(() -> {
                                    running.incrementAndGet();
                                    try {
                                        Coro.sleep(ms(10));
                                        return null;
                                    } finally {
                                        running.decrementAndGet();
                                        ended.incrementAndGet();
                                    }
                                });
                            } catch (IllegalStateException closed) {
                                seen.set("closed: " + closed.getMessage());
                            }
                            throw e;
                        } finally {
                            running.decrementAndGet();
                            ended.incrementAndGet();
                        }
                        return null;
                    });
                }
                new Event().await();
                return "body returned";
            }));
            owner[0] = o;
            while (allStarted.getCount() > 0) {
                Coro.sleep(ms(1));
            }
            o.cancel();
            String how;
            try {
                o.join();
                how = "returned";
            } catch (CancellationException e) {
                how = "cancelled";
            }
            return how + "; running " + running.get() + "; seen " + seen.get();
        });
        assertThat(r).isEqualTo("cancelled; running 0; seen null");
    }

    /** The same exception thrown by two children is reported once, without a self-suppression error. */
    @Test
    void theSameExceptionThrownByTwoChildrenIsThrownOnce() {
        IllegalStateException shared = new IllegalStateException("shared");
        for (boolean supervisor : new boolean[] {false, true}) {
            Throwable t = catchThrowableOf(() -> run(() -> {
                TaskGroup.Body<Object> body = g -> {
                    CountDownLatch both = new CountDownLatch(2);
                    for (int i = 0; i < 2; i++) {
                        g.spawn(() -> {
                            both.countDown();
                            while (both.getCount() > 0) {
                                // Lets the other child run where there is one carrier (loom with one
                                // processor); not a cancellation point, so each child throws it.
                                scheduler.currentFiber().yieldNow();
                            }
                            throw shared;
                        });
                    }
                    return null;
                };
                return supervisor ? Coro.supervisorGroup(body) : Coro.taskGroup(body);
            }));
            assertThat(t).as("supervisor %s", supervisor).isSameAs(shared);
            assertThat(t.getSuppressed()).isEmpty();
        }
    }

    private static Throwable catchThrowableOf(Runnable r) {
        try {
            r.run();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    /** Failures in children's finally blocks during a cancellation are each reported once. */
    @Test
    void failuresInFinallyBlocksDuringAGroupCancellationAreEachReportedOnce() {
        Throwable t = catchThrowableOf(() -> run(() -> Coro.taskGroup(g -> {
            CountDownLatch started = new CountDownLatch(3);
            for (int i = 0; i < 3; i++) {
                int n = i;
                g.spawn(() -> {
                    try {
                        started.countDown();
                        new Event().await();
                        return null;
                    } finally {
                        throw new IllegalArgumentException("finally " + n);
                    }
                });
            }
            while (started.getCount() > 0) {
                Coro.sleep(ms(1));
            }
            g.spawn(() -> {
                throw new IOException("first");
            });
            new Event().await();
            return null;
        })));
        assertThat(t).isInstanceOf(CompletionException.class);
        Throwable first = t.getCause();
        assertThat(first).isInstanceOf(IOException.class).hasMessage("first");
        List<String> s = new ArrayList<>();
        for (Throwable x : first.getSuppressed()) {
            s.add(x.getMessage());
        }
        Collections.sort(s);
        assertThat(s).containsExactly("finally 0", "finally 1", "finally 2");
    }

    /** An Error in a child fails the group with that Error, not wrapped, others suppressed. */
    @Test
    void anErrorInAChildFailsTheGroupWithThatError() {
        Throwable t = catchThrowableOf(() -> run(() -> Coro.taskGroup(g -> {
            g.spawn(() -> {
                Coro.sleep(ms(5));
                throw new StackOverflowError("deep");
            });
            g.spawn(() -> {
                try {
                    new Event().await();
                } finally {
                    Coro.checkCancelled();
                }
                return null;
            });
            new Event().await();
            return null;
        })));
        assertThat(t).isExactlyInstanceOf(StackOverflowError.class).hasMessage("deep");
        assertThat(t.getSuppressed()).isEmpty();
    }

    /** A spawn into a group that has closed, through a leaked reference, is refused with a clear message. */
    @Test
    void aSpawnIntoAClosedGroupIsRefusedAndNothingRuns() {
        AtomicBoolean ran = new AtomicBoolean();
        String r = run(() -> {
            TaskGroup leaked = Coro.taskGroup(g -> g);
            try {
                leaked.spawn(() -> {
                    ran.set(true);
                    throw new IllegalStateException("late");
                });
                return "accepted";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(r).isEqualTo("this task group has closed: spawn into a group only while it is open"
                + " (inside its body, or from its children)");
        assertThat(ran).isFalse();
    }

    /**
     * A generator body that yields inside a task group it opened (a misuse) and is resumed by another
     * task ends the group there: the group says so, cancels its child and leaves it to that task,
     * which ends only after the child's cleanup and fails with its failure. Before, the group handed
     * the child to the task that opened it, which had ended: the child outlived everything, its
     * failure lost.
     */
    @Test
    void aGroupAGeneratorBodyYieldedInsideAndAnotherTaskResumedHandsItsChildToThatTask() {
        Event refused = new Event();
        Event release = new Event();
        AtomicReference<Task<?>> child = new AtomicReference<>();
        IllegalStateException cleanupFailed = new IllegalStateException("cleanup failed");
        List<String> seen = new CopyOnWriteArrayList<>();
        Event started = new Event();
        String r = run(() -> {
            Generator<Integer, Void, String> gen = Generator.of(co -> Coro.taskGroup(g -> {
                child.set(g.spawn(() -> {
                    try {
                        started.set();
                        new Event().await(); // never set: only a cancellation ends it
                        return null;
                    } finally {
                        Coro.shielded(() -> {
                            release.await();
                            return null;
                        });
                        seen.add("child cleaned up");
                        throw cleanupFailed;
                    }
                }));
                started.await(); // the child in its try block: cancelled before it ran, it would clean nothing up
                co.yield(1); // the misuse: the group is open while the body is paused
                return "body";
            }));
            Task<?> opener = Coro.spawn(gen::next);
            opener.join();
            Task<String> resumer = Coro.spawn(() -> {
                try {
                    gen.next();
                    return "returned";
                } catch (IllegalStateException e) {
                    seen.add(e.getMessage().replace(opener.name(), "OPENER").replace(Coro.currentTask().name(), "RESUMER"));
                    return "refused";
                } finally {
                    refused.set();
                }
            });
            refused.await();
            seen.add("child done before release: " + child.get().isDone());
            release.set();
            try {
                return "resumer: " + resumer.join();
            } catch (IllegalStateException e) {
                return "resumer failed with the child's failure: " + (e == cleanupFailed);
            }
        });
        assertThat(r).isEqualTo("resumer failed with the child's failure: true");
        assertThat(seen).containsExactly("this task group, opened by task OPENER in a generator body, ends in task"
                + " RESUMER: the body yielded inside the group and was resumed there, where the group cannot wait"
                + " for its children; it cancelled the 1 still running and left them to task RESUMER, which waits"
                + " for them before it ends and fails if they fail. Do not yield inside a task group opened in a"
                + " generator body: open it around the code between two yields",
                "child done before release: false", "child cleaned up");
    }

    /**
     * The same misuse, resumed by a plain thread: outside any task the group waits for its
     * cancelled child, blocking the thread, and throws with the child's cleanup failure suppressed.
     */
    @Test
    void aGroupAGeneratorBodyYieldedInsideAndAPlainThreadResumedWaitsForItsChild() {
        IllegalStateException cleanupFailed = new IllegalStateException("cleanup failed");
        AtomicReference<Task<?>> child = new AtomicReference<>();
        AtomicReference<Task<?>> opener = new AtomicReference<>();
        Event started = new Event();
        Generator<Integer, Void, String> gen = run(() -> {
            opener.set(Coro.currentTask());
            Generator<Integer, Void, String> g0 = Generator.of(co -> Coro.taskGroup(g -> {
                child.set(g.spawn(() -> {
                    try {
                        started.set();
                        new Event().await(); // never set: only a cancellation ends it
                        return null;
                    } finally {
                        Coro.shielded(() -> {
                            Coro.sleep(ms(50));
                            return null;
                        });
                        throw cleanupFailed;
                    }
                }));
                started.await(); // the child in its try block: cancelled before it ran, it would clean nothing up
                co.yield(1); // the misuse
                return "body";
            }));
            g0.next();
            return g0;
        });
        assertThatThrownBy(gen::next).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("this task group, opened by task " + opener.get().name() + " in a generator body, ends"
                        + " outside any task: the body yielded inside the group and was resumed there, where the group"
                        + " cannot wait for its children; it cancelled the 1 still running and waited for them. Do not"
                        + " yield inside a task group opened in a generator body: open it around the code between two"
                        + " yields")
                .satisfies(e -> assertThat(e.getSuppressed()).containsExactly(cleanupFailed));
        assertThat(child.get().isDone()).isTrue();
    }

    /**
     * The same misuse, resumed by a plain thread whose interrupt status is set: the group still
     * waits for its cancelled child to end (not cut short by the interrupt, nor spinning on it), and
     * the thread's interrupt status is set again when the group throws.
     */
    @Test
    void aGroupAGeneratorBodyYieldedInsideAndAnInterruptedPlainThreadResumedWaitsAndKeepsTheInterrupt()
            throws Exception {
        AtomicReference<Task<?>> child = new AtomicReference<>();
        Event started = new Event();
        Generator<Integer, Void, String> gen = run(() -> {
            Generator<Integer, Void, String> g0 = Generator.of(co -> Coro.taskGroup(g -> {
                child.set(g.spawn(() -> {
                    try {
                        started.set();
                        new Event().await(); // only a cancellation ends it
                        return null;
                    } finally {
                        Coro.shielded(() -> {
                            Coro.sleep(ms(50));
                            return null;
                        });
                    }
                }));
                started.await();
                co.yield(1); // the misuse
                return "body";
            }));
            g0.next();
            return g0;
        });
        CompletableFuture<String> seen = new CompletableFuture<>();
        Thread plain = Thread.ofPlatform().name("tck-interrupted-resumer").start(() -> {
            Thread.currentThread().interrupt();
            String thrown;
            try {
                gen.next();
                thrown = "returned";
            } catch (IllegalStateException e) {
                thrown = "IllegalStateException";
            }
            seen.complete(thrown + ", child done: " + child.get().isDone() + ", interrupted: "
                    + Thread.currentThread().isInterrupted());
        });
        plain.join(30_000);
        assertThat(seen.getNow("still running")).isEqualTo("IllegalStateException, child done: true, interrupted: true");
    }

    /**
     * The same misuse, resumed by the group's own child: that child cannot take the group's
     * children over (it is one of them and would wait for itself at its end), so the group leaves
     * them to the task that opened it, and the child ends.
     */
    @Test
    void aGroupAGeneratorBodyYieldedInsideAndItsOwnChildResumedLetsThatChildEnd() throws Exception {
        Object out = runOrFailAsHung(scheduler, "the child that ended the group waits for itself", () -> {
            AtomicReference<Generator<Integer, Void, String>> gen = new AtomicReference<>();
            AtomicReference<Task<String>> child = new AtomicReference<>();
            Event paused = new Event();
            gen.set(Generator.of(co -> Coro.taskGroup(g -> {
                child.set(g.spawn(() -> {
                    paused.await();
                    try {
                        gen.get().next();
                        return "returned";
                    } catch (IllegalStateException e) {
                        return "refused";
                    }
                }));
                co.yield(1); // the misuse
                return "body";
            })));
            gen.get().next();
            paused.set();
            return child.get().join();
        });
        assertThat(out).isEqualTo("refused");
    }

    /**
     * The same misuse, resumed by the group's own child after the task that opened the group has
     * ended: the group hands its other children to that task, which has ended and waits for nothing,
     * although its exception says that task "waits for them before it ends and fails if they fail".
     * A sibling's cleanup failure must still be reported once: on the exception, on the resuming
     * child's outcome, or to an uncaught-exception handler. It goes to the uncaught-exception handler, and the
     * exception says so (before: lost, and the exception said the ended task would wait).
     */
    @Test
    void aGroupAGeneratorBodyYieldedInsideAndItsOwnChildResumedAfterTheOpenerEndedLosesNoFailure() throws Exception {
        IllegalStateException cleanupFailed = new IllegalStateException("cleanup failed");
        List<String> seen = new CopyOnWriteArrayList<>();
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> seen.add("uncaught: " + e.getMessage()
                + " (caused by the cleanup failure: " + (e.getCause() == cleanupFailed) + ")"));
        Map<String, String> names = new ConcurrentHashMap<>();
        Object out;
        try {
            out = runOrFailAsHung(scheduler, "the group's end in its own child", () -> {
                AtomicReference<Generator<Integer, Void, String>> gen = new AtomicReference<>();
                AtomicReference<Task<String>> resumer = new AtomicReference<>();
                AtomicReference<Task<Object>> sibling = new AtomicReference<>();
                Event go = new Event();
                Event siblingStarted = new Event();
                gen.set(Generator.of(co -> Coro.taskGroup(g -> {
                    sibling.set(g.spawn(() -> {
                        try {
                            siblingStarted.set();
                            new Event().await(); // only a cancellation ends it
                            return null;
                        } catch (CancellationException e) {
                            throw cleanupFailed;
                        }
                    }));
                    resumer.set(g.spawn(() -> {
                        go.await();
                        try {
                            gen.get().next();
                            return "returned";
                        } catch (IllegalStateException e) {
                            for (Throwable s : e.getSuppressed()) {
                                seen.add("suppressed: " + s.getMessage());
                            }
                            return "refused: " + e.getMessage();
                        }
                    }));
                    siblingStarted.await();
                    co.yield(1); // the misuse
                    return "body";
                })));
                Task<?> opener = Coro.spawn(() -> gen.get().next());
                opener.join(); // the opener has ended
                names.put(opener.name(), "OPENER");
                names.put(sibling.get().name(), "SIBLING");
                go.set();
                String r;
                try {
                    r = resumer.get().join();
                } catch (IllegalStateException e) {
                    r = "resumer failed: " + e.getMessage();
                }
                until("the sibling has ended", sibling.get()::isDone);
                Coro.sleep(Duration.ofMillis(100)); // for a report that comes after the end
                return r;
            });
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
        List<String> reports = new ArrayList<>();
        for (String x : seen) {
            if (x.contains("OPENER") || names.keySet().stream().anyMatch(x::contains)) {
                reports.add(x);
            }
        }
        reports.add(String.valueOf(out));
        reports.replaceAll(x -> {
            for (Map.Entry<String, String> e : names.entrySet()) {
                x = x.replace(e.getKey() + ",", e.getValue() + ",").replace(e.getKey() + " ", e.getValue() + " ");
            }
            return x;
        });
        assertThat(reports).as("where the sibling's cleanup failure went").containsExactly(
                "uncaught: task SIBLING failed after its task group ended where it could not wait, when the task that"
                        + " opened the group, OPENER, had ended: nobody else can report it (caused by the cleanup failure:"
                        + " true)",
                "refused: this task group cannot wait for its children here (park() called by code that is not running"
                        + " in this fiber: a fiber can only park itself), so it cancelled the 2 still running and left them"
                        + " to task OPENER, which has ended: a failure they then have goes to the uncaught-exception handler:"
                        + " open the group where the task can suspend");
    }

    /**
     * A timeout or shield a generator body opened and yielded inside belongs to the task that
     * resumed the body then (the opener, PEP 789); when another task resumes the body past it, it
     * is closed on that other task's thread while the opener runs on, opening and closing scopes of
     * its own. That must leave the opener's scopes intact: no exception in either task, and the
     * opener's own timeouts and cancellation work afterwards (a closed shield left open would hold
     * off the cancellation). Before, the closing task removed the scope from the opener's list of
     * scopes, unsynchronised, while the opener changed it: an IndexOutOfBoundsException or a
     * NullPointerException in one of them, in most runs on both schedulers.
     */
    @Test
    void scopesAGeneratorBodyYieldedInsideClosedByAnotherTaskWhileTheOpenerRunsLeaveTheOpenersScopesIntact() {
        int n = 1_000;
        int rounds = Stress.scaled(10);
        String r = run(() -> {
            Event ownScopesDone = new Event();
            AtomicReference<String> ownTimeout = new AtomicReference<>();
            List<String> closers = new CopyOnWriteArrayList<>();
            Task<String> opener = Coro.spawn(() -> {
                int own = 0;
                try {
                    for (int round = 0; round < rounds; round++) {
                        own += closeElsewhereWhileOpeningOwn(n, closers);
                    }
                    ownTimeout.set(String.valueOf(Coro.withTimeoutOrNull(ms(10), () -> {
                        Coro.sleep(Duration.ofHours(1));
                        return "slept";
                    })));
                } finally {
                    ownScopesDone.set();
                }
                Coro.sleep(Duration.ofSeconds(10)); // ended by the cancellation below
                return "not cancelled after " + own + " own scopes";
            });
            ownScopesDone.await();
            opener.cancel();
            String closed = "closers: " + closers.stream().distinct().toList() + " x " + closers.size();
            try {
                return closed + "; own timeout: " + ownTimeout + "; opener: "
                        + Coro.withTimeout(Duration.ofSeconds(5), opener::join);
            } catch (CancellationException e) {
                return closed + "; own timeout: " + ownTimeout + "; opener cancelled";
            }
        });
        assertThat(r).isEqualTo("closers: [closed " + n + "] x " + rounds + "; own timeout: null; opener cancelled");
    }

    /**
     * A cancellation that a shield held off takes effect once the shield closes, "at the next
     * suspension point" (Coro.shielded): also when the shield was opened in a generator body that
     * paused inside it, and another task closes it while the task that opened it is suspended, held
     * there by that shield. Marked closed elsewhere, the shield no longer held the cancellation off,
     * but nobody woke the suspended task to see it: it slept on ('still asleep 2 s after the shield
     * closed' on both schedulers, until its hour-long sleep would have ended).
     */
    @Test
    void aCancellationHeldOffByAShieldClosedElsewhereWakesTheSuspendedOpener() {
        String r = run(() -> {
            Event paused = new Event();
            AtomicReference<Generator<Integer, Void, Void>> gen = new AtomicReference<>();
            Task<String> opener = Coro.spawn(() -> {
                Generator<Integer, Void, Void> g = Generator.of(co -> Coro.shielded(() -> {
                    co.yield(1); // the misuse: paused inside a shield opened by the opener
                    return null;
                }));
                g.next();
                gen.set(g);
                paused.set();
                try {
                    Coro.sleep(Duration.ofHours(1));
                    return "slept an hour";
                } catch (CancellationException e) {
                    return "cancelled";
                }
            });
            paused.await();
            opener.cancel(); // held off: the shield is open in the opener
            Coro.sleep(ms(50));
            String before = opener.isDone() ? "ended while shielded" : "asleep while shielded";
            gen.get().next(); // closes the shield, on this task's thread
            try {
                return before + "; then " + Coro.withTimeout(Duration.ofSeconds(2), opener::join);
            } catch (TimeoutExceededException e) {
                opener.cancel();
                return before + "; still asleep 2 s after the shield closed";
            }
        });
        assertThat(r).isEqualTo("asleep while shielded; then cancelled");
    }

    /**
     * Pauses {@code n} generator bodies inside a timeout or a shield each opened in the current
     * task, spawns a task that resumes them past it, and opens and closes scopes of its own until
     * that task has closed them all (at most 5 s); returns how many of its own it opened.
     */
    private static int closeElsewhereWhileOpeningOwn(int n, List<String> closers) throws Exception {
        List<Generator<Integer, Void, Void>> paused = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Generator<Integer, Void, Void> gen = Generator.of(i % 2 == 0
                    ? co -> Coro.withTimeout(Duration.ofHours(1), () -> {
                        co.yield(1); // the misuse: paused inside a timeout opened by the current task
                        return null;
                    })
                    : co -> Coro.shielded(() -> {
                        co.yield(1);
                        return null;
                    }));
            gen.next();
            paused.add(gen);
        }
        AtomicInteger closed = new AtomicInteger();
        // Spawned while this task keeps its carrier busy: another carrier runs it, in parallel.
        Task<String> closer = Coro.spawn(() -> {
            for (Generator<Integer, Void, Void> gen : paused) {
                gen.next(); // closes the scope on this task's thread
                closed.incrementAndGet();
            }
            return "closed " + closed.get();
        });
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int own = 0;
        while (!closer.isDone() && System.nanoTime() - until < 0) {
            own += Coro.withTimeout(Duration.ofHours(1), () -> Coro.shielded(() -> 1));
            if (own % 64 == 0) {
                Coro.yieldNow(); // lets the closer run where it shares this task's carrier
            }
        }
        closers.add(closer.join());
        return own;
    }

    /** An inner timeout around a group cancels only that group and surfaces as a timeout. */
    @Test
    void anInnerTimeoutAroundAGroupCancelsOnlyThatGroup() {
        String r = run(() -> Coro.taskGroup(outer -> {
            Event go = new Event();
            Task<String> sibling = outer.spawn(() -> {
                go.await();
                return "sibling done";
            });
            String inner;
            try {
                Coro.withTimeout(ms(20), () -> Coro.taskGroup(g -> {
                    g.spawn(() -> {
                        new Event().await();
                        return null;
                    });
                    return null;
                }));
                inner = "returned";
            } catch (TimeoutExceededException e) {
                inner = "timeout";
            }
            go.set();
            return inner + "; " + sibling.join();
        }));
        assertThat(r).isEqualTo("timeout; sibling done");
    }

    /**
     * A supervisor group with many failed children, every other one joined after it ended:
     * exactly the others are thrown, each once (the group drops observed failures as it goes),
     * in whatever order the group heard of them.
     */
    @Test
    void aSupervisorGroupThrowsExactlyTheFailuresNobodyJoined_amongMany() {
        Throwable t = catchThrowableOf(() -> run(() -> Coro.supervisorGroup(g -> {
            for (int i = 0; i < 200; i++) {
                int n = i;
                Task<Object> child = g.spawn(() -> {
                    throw new IllegalStateException("child " + n);
                });
                until("child " + n + " has ended", child::isDone);
                if (n % 2 == 0) {
                    assertThatThrownBy(child::join).hasMessage("child " + n);
                }
            }
            return null;
        })));
        // The group lists failures in the order it hears of the ends, which may differ from the
        // order isDone() turned true: a child is done before its group has counted it.
        List<String> reported = new ArrayList<>();
        reported.add(t.getMessage());
        for (Throwable s : t.getSuppressed()) {
            reported.add(s.getMessage());
        }
        List<String> expected = new ArrayList<>();
        for (int i = 1; i < 200; i += 2) {
            expected.add("child " + i);
        }
        assertThat(reported).containsExactlyInAnyOrderElementsOf(expected);
    }


    /**
     * Nested groups: an inner child's failure reaches the outer group as that one failure (not
     * suppressed on itself, no cancellation on it), and cancels the outer siblings; a failure of
     * an outer child cancels the inner group's children, which are waited for.
     */
    @Test
    void nestedGroupsPropagateOneFailureOutwardAndCancellationInward() {
        IllegalStateException inner = new IllegalStateException("inner child");
        AtomicInteger outerSiblingCancelled = new AtomicInteger();
        Throwable t = catchThrowableOf(() -> run(() -> Coro.taskGroup(outer -> {
            // The inner child fails once the outer sibling runs: cancelled before it started, the
            // sibling would never count its cancellation (a carrier that stalls 5 ms did that).
            Event siblingRuns = new Event();
            outer.spawn(() -> {
                try {
                    siblingRuns.set();
                    new Event().await();
                } catch (CancellationException e) {
                    outerSiblingCancelled.incrementAndGet();
                    throw e;
                }
                return null;
            });
            return Coro.taskGroup(g -> {
                g.spawn(() -> {
                    siblingRuns.await();
                    Coro.sleep(ms(5));
                    throw inner;
                });
                new Event().await();
                return null;
            });
        })));
        assertThat(t).isSameAs(inner);
        assertThat(t.getSuppressed()).isEmpty();
        assertThat(outerSiblingCancelled).hasValue(1);

        AtomicInteger innerChildrenEnded = new AtomicInteger();
        IllegalStateException outerFailure = new IllegalStateException("outer child");
        CountDownLatch innerStarted = new CountDownLatch(2);
        t = catchThrowableOf(() -> run(() -> Coro.taskGroup(outer -> {
            outer.spawn(() -> {
                innerStarted.await();
                throw outerFailure;
            });
            return Coro.taskGroup(g -> {
                for (int i = 0; i < 2; i++) {
                    g.spawn(() -> {
                        innerStarted.countDown();
                        try {
                            new Event().await();
                        } finally {
                            innerChildrenEnded.incrementAndGet();
                        }
                        return null;
                    });
                }
                return null; // the inner group waits for its children
            });
        })));
        assertThat(t).isSameAs(outerFailure);
        assertThat(innerChildrenEnded).hasValue(2);
    }

    /**
     * A first failure made with suppression disabled (as stackless exceptions often are) cannot
     * carry the others: it is thrown, and each other failure goes to the uncaught-exception
     * handler instead of vanishing.
     */
    @Test
    void failuresTheFirstCannotCarryGoToTheUncaughtExceptionHandler() throws Exception {
        capturingUncaught("first, stackless", reported -> {
            RuntimeException stackless = new RuntimeException("first, stackless", null, false, false) {
            };
            IllegalArgumentException second = new IllegalArgumentException("second, in a finally block");
            Throwable t = catchThrowableOf(() -> run(() -> Coro.taskGroup(g -> {
                spawnStartedFailingWhenCancelled(g::spawn, second);
                g.spawn(() -> {
                    throw stackless;
                });
                new Event().await();
                return null;
            })));
            assertThat(t).isSameAs(stackless);
            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e).isInstanceOf(IllegalStateException.class).hasMessage(
                        "a failure that ended beside " + stackless + " could not be attached to it as suppressed,"
                                + " because it was made with suppression disabled; reported here so that it is not"
                                + " lost (make exceptions that may end tasks with suppression enabled)");
                assertThat(e.getCause()).isSameAs(second);
            });

            reported.clear();
            // A supervisor group, so that the failing task cancels nothing before the gather waits on it.
            t = catchThrowableOf(() -> run(() -> Coro.supervisorGroup(g -> {
                Task<Object> waiting = spawnStartedFailingWhenCancelled(g::spawn, second);
                Task<Object> failing = g.spawn(() -> {
                    throw stackless;
                });
                return Coro.gather(waiting, failing);
            })));
            assertThat(t).isSameAs(stackless);
            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getCause()).isSameAs(second));

            // In the task's own group, where the failing task may end before the gather waits (and
            // so cancel it) or after: either way the other failure is reported once, and no
            // cancellation that could not go on the first is reported as if it were a failure.
            for (int round = 0; round < 50; round++) {
                reported.clear();
                t = catchThrowableOf(() -> run(() -> {
                    Task<Object> waiting = spawnStartedFailingWhenCancelled(Coro::spawn, second);
                    Task<Object> failing = Coro.spawn(() -> {
                        throw stackless;
                    });
                    return Coro.gather(waiting, failing);
                }));
                assertThat(t).as("round %d", round).isSameAs(stackless);
                assertThat(reported).as("round %d", round).singleElement()
                        .satisfies(e -> assertThat(e.getCause()).isSameAs(second));
            }
        });
    }

    // ---- what a task body sees of the scheduler, alike on every scheduler ----

    /**
     * asyncio's {@code sleep(0)}: {@link Coro#yieldNow()} lets every task that was runnable when it
     * was called run first, the ones just spawned included. On one carrier (where a scheduler
     * honours parallelism) the order is exact; each round spawns three tasks, yields once, and
     * must find that all three have run.
     */
    @Test
    void yieldNowLetsTheTasksSpawnedBeforeItRunFirst() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        List<String> rounds = runTask(() -> {
            List<String> seen = new ArrayList<>();
            for (int round = 0; round < 20; round++) {
                List<Integer> ran = Collections.synchronizedList(new ArrayList<>());
                List<Task<Integer>> tasks = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    int n = i;
                    tasks.add(Coro.spawn(() -> {
                        ran.add(n);
                        return n;
                    }));
                }
                Coro.yieldNow();
                seen.add("round " + round + ": " + List.copyOf(ran));
                Coro.gather(tasks);
            }
            return seen;
        });
        assertThat(rounds).allSatisfy(r -> assertThat(r).endsWith(": [0, 1, 2]"));
    }

    /** {@code Coro.sleep(Duration.ZERO)} is {@link Coro#yieldNow()}: the same promise. */
    @Test
    void aZeroSleepLetsTheTasksSpawnedBeforeItRunFirst() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        List<String> rounds = runTask(() -> {
            List<String> seen = new ArrayList<>();
            for (int round = 0; round < 20; round++) {
                AtomicInteger ran = new AtomicInteger();
                Task<Integer> t = Coro.spawn(ran::incrementAndGet);
                Coro.sleep(Duration.ZERO);
                seen.add("round " + round + ": " + ran.get());
                t.join();
            }
            return seen;
        });
        assertThat(rounds).allSatisfy(r -> assertThat(r).endsWith(": 1"));
    }

    /** Two tasks that yield in turn on one carrier alternate: neither runs twice in a row. */
    @Test
    void tasksThatYieldTakeTurns() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        String trace = runTask(() -> {
            StringBuilder sb = new StringBuilder();
            Task<Void> a = Coro.spawn(() -> {
                for (int i = 0; i < 10; i++) {
                    synchronized (sb) {
                        sb.append('a');
                    }
                    Coro.yieldNow();
                }
                return null;
            });
            Task<Void> b = Coro.spawn(() -> {
                for (int i = 0; i < 10; i++) {
                    synchronized (sb) {
                        sb.append('b');
                    }
                    Coro.yieldNow();
                }
                return null;
            });
            Coro.gather(a, b);
            synchronized (sb) {
                return sb.toString();
            }
        });
        assertThat(trace).isEqualTo("ab".repeat(10));
    }

    /**
     * On one carrier, tasks spawned in one go start in the order they were spawned (first come,
     * first served), as asyncio's do: 256 of them, as many as the threadpool scheduler keeps in a
     * carrier's own queue (more spill over into its global queue, which its javadoc says).
     */
    @Test
    void tasksSpawnedInOneGoOnOneCarrierStartInTheOrderSpawned() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        int n = 256;
        List<Integer> order = runTask(() -> {
            List<Integer> started = Collections.synchronizedList(new ArrayList<>());
            List<Task<Object>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                tasks.add(Coro.spawn(() -> started.add(k)));
            }
            Coro.gather(tasks);
            return List.copyOf(started);
        });
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add(i);
        }
        assertThat(order).isEqualTo(expected);
    }

    /** A StackOverflowError in a task is its failure, thrown as it is by join and run; the scheduler goes on. */
    @Test
    void aStackOverflowInATaskIsItsFailureAndTheSchedulerGoesOn() throws Exception {
        Object[] joined = runTask(() -> {
            Task<Integer> deep = Coro.spawn(() -> recurse(0));
            Throwable t = catchThrowableOf(() -> deep.join());
            Task<Integer> after = Coro.spawn(() -> {
                Coro.sleep(ms(1));
                return 42;
            });
            return new Object[] {t, after.join()};
        });
        assertThat(joined[0]).isInstanceOf(StackOverflowError.class);
        assertThat(joined[1]).isEqualTo(42);
        assertThatThrownBy(() -> runTask(() -> recurse(0))).isInstanceOf(StackOverflowError.class);
        assertThat(runTask(() -> 7)).isEqualTo(7);
    }

    private static int recurse(int depth) {
        if (depth == Integer.MIN_VALUE) {
            return depth;
        }
        return recurse(depth + 1) + 1;
    }

    /** A task may suspend inside a synchronized block (JDK 24+) and go on where it was. */
    @Test
    void aTaskSuspendingInsideSynchronizedGoesOn() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "suspending holding a monitor needs JDK 24+");
        Object lock = new Object();
        int r = runTask(() -> {
            synchronized (lock) {
                Coro.sleep(ms(5));
                Coro.yieldNow();
                return Thread.holdsLock(lock) ? 1 : 0;
            }
        });
        assertThat(r).isEqualTo(1);
    }

    /**
     * Two tasks of one carrier are never inside one synchronized block at once, also while one of
     * them is suspended inside it (JDK 24+): the other waits for the monitor. The monitor is one
     * that threads had contended for before (the JVM then keeps it as an owned object monitor).
     * Skipped where such a monitor is the carrier thread's ({@link #monitorsHeldWhileSuspendedAreTheThreads}).
     */
    @Test
    void twoTasksOfOneCarrierAreNeverInsideOneSynchronizedBlockAtOnce() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "suspending holding a monitor needs JDK 24+");
        assumeTrue(!monitorsHeldWhileSuspendedAreTheThreads(), MONITORS_ARE_THE_THREADS);
        scheduler = newScheduler(1);
        Object lock = ContendedMonitors.create();
        int most = runTask(Duration.ofSeconds(20), () -> {
            AtomicInteger inside = new AtomicInteger();
            AtomicInteger max = new AtomicInteger();
            Callable<Void> body = () -> {
                synchronized (lock) {
                    max.accumulateAndGet(inside.incrementAndGet(), Math::max);
                    Coro.sleep(ms(20));
                    inside.decrementAndGet();
                }
                return null;
            };
            Coro.gather(Coro.spawn(body), Coro.spawn(body));
            return max.get();
        });
        assertThat(most).as("tasks inside the block at once").isEqualTo(1);
    }

    /**
     * A task body that replaces its thread's uncaught-exception handler (as some libraries do)
     * while a child still runs: the task still ends, waiting for the child, and its caller hears
     * of it; no task is left hanging.
     */
    @Test
    void aTaskThatReplacesItsThreadsUncaughtExceptionHandlerStillEndsAfterItsChild() throws Exception {
        String outcome = runTask(Duration.ofSeconds(20), () -> {
            Task<String> t = Coro.spawn(() -> {
                Coro.spawn(() -> {
                    Coro.sleep(ms(20));
                    return null;
                });
                Thread.currentThread().setUncaughtExceptionHandler((th, e) -> { });
                return "returned";
            });
            try {
                return t.join();
            } catch (RuntimeException e) {
                return e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        });
        assertThat(outcome).isEqualTo("returned");
    }

    /** A test body that sees the uncaught-exception reports {@link #capturingUncaught} keeps. */
    interface ReportsBody {
        void run(List<Throwable> reported) throws Exception;
    }

    /**
     * Runs {@code body} with a default uncaught-exception handler that keeps the reports whose
     * message contains {@code marker}: only this test's own, as the handler is global and what other
     * tests left may report too. The previous handler is put back after.
     */
    private static void capturingUncaught(String marker, ReportsBody body) throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((th, e) -> {
            if (e.getMessage() != null && e.getMessage().contains(marker)) {
                reported.add(e);
            }
        });
        try {
            body.run(reported);
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    /**
     * Spawns, with {@code spawn}, a task that waits for ever and throws {@code failure} when
     * cancelled; returns once it has started.
     */
    private static Task<Object> spawnStartedFailingWhenCancelled(
            Function<Callable<Object>, Task<Object>> spawn, RuntimeException failure) throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        Task<Object> t = spawn.apply(() -> {
            try {
                started.countDown();
                new Event().await();
                return null;
            } finally {
                throw failure;
            }
        });
        while (started.getCount() > 0) {
            Coro.sleep(ms(1));
        }
        return t;
    }

    /**
     * An inner {@code withTimeoutOrNull} that expires while an outer one has expired too: the
     * inner's cancellation goes on as the outer's, and what a blocking call threw for another
     * reason than the interrupt rides on it suppressed, one level down. The outer's null cannot
     * carry it either: it is reported, not lost because it sits under a cancellation.
     */
    @Test
    void aFailureUnderAnInnerExpiredTimeoutIsReportedWhenAnOuterWithTimeoutOrNullExpiresToo() throws Exception {
        IOException cleanup = new IOException("the call's cleanup failed when interrupted");
        capturingUncaught("Coro.withTimeoutOrNull", reported -> {
            // An inner timeout that expires before the call starts never runs it (nothing to report):
            // such a run is tried again.
            AtomicBoolean started = new AtomicBoolean();
            String result = null;
            for (int attempt = 0; attempt < 100 && !started.get(); attempt++) {
                reported.clear();
                CountDownLatch outerExpired = new CountDownLatch(1);
                result = run(() -> {
                    // Timers fire in deadline order: this one runs after the outer timeout has expired.
                    scheduler.schedule(outerExpired::countDown, 400, TimeUnit.MILLISECONDS);
                    return Coro.withTimeoutOrNull(ms(200), () -> Coro.withTimeoutOrNull(ms(1), () -> Coro.blocking(() -> {
                        started.set(true);
                        try {
                            Thread.sleep(60_000);
                            return "slept";
                        } catch (InterruptedException e) {
                            outerExpired.await(); // the inner timeout interrupted this; the outer one expires meanwhile
                            throw cleanup;
                        }
                    })));
                });
            }
            assertThat(started).as("the call started in one of 100 runs").isTrue();
            assertThat(result).isNull();
            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getCause()).isSameAs(cleanup));
        });
    }
}
