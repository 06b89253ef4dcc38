package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.channel.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Large crowds: many tasks, many failures. Each test checks exact counts (every failure reported
 * once, none lost) and that the work takes time linear in the crowd: with a crowd of this size, an
 * operation done once per item that walks all the items (n²/2 steps) takes a minute or more, a
 * linear one well under a second, and the bound lies far between the two.
 */
public abstract class ScaleTck extends SchedulerTck {

    /**
     * A crowd whose n²/2 walks take minutes, and its linear handling about a second. Smaller in a
     * slower run (interpreted only), which then checks the counts, not the time.
     */
    private static final int CROWD = Stress.crowd(100_000);

    /** Well above what the linear handling of {@link #CROWD} takes on a loaded machine, far below n². */
    private static final long BOUND_NANOS = TimeUnit.SECONDS.toNanos(15);

    /** Made without a stack trace (a crowd of them stays small), but able to carry suppressed ones. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message, null, true, false);
        }
    }

    private static Set<Throwable> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }

    /** Asserts that {@code thrown} and what it carries are {@code expected}, each once. */
    private static void assertCarriesEachOnce(Throwable thrown, Set<Throwable> expected) {
        Set<Throwable> seen = identitySet();
        seen.add(thrown);
        for (Throwable s : thrown.getSuppressed()) {
            assertThat(seen.add(s)).as("%s suppressed twice", s).isTrue();
        }
        assertThat(seen).as("the thrown failure and its suppressed ones").hasSize(expected.size());
        assertThat(expected.containsAll(seen)).as("every failure thrown or suppressed is one of the tasks'").isTrue();
    }

    @Test
    void aGatherOfManyFailedTasksThrowsEachFailureOnceInLinearTime() throws Exception {
        Set<Throwable> failures = identitySet();
        long[] gatherNanos = new long[1];
        Throwable thrown = runTask(Duration.ofSeconds(150), () -> Coro.supervisorGroup(g -> {
            List<Task<Object>> tasks = new ArrayList<>(CROWD);
            for (int i = 0; i < CROWD; i++) {
                String name = "failure " + i;
                tasks.add(g.spawn(() -> {
                    throw new Failure(name);
                }));
            }
            Coro.gatherSettled(tasks); // every task has failed before the gather
            for (Task<Object> t : tasks) {
                failures.add(catchThrowable(t::join));
            }
            long t0 = System.nanoTime();
            Throwable t = catchThrowable(() -> Coro.gather(tasks));
            gatherNanos[0] = System.nanoTime() - t0;
            return t;
        }));
        assertThat(failures).hasSize(CROWD);
        assertThat(thrown).isInstanceOf(Failure.class);
        assertCarriesEachOnce(thrown, failures);
        assertThat(gatherNanos[0]).as("nanoseconds a gather of %s failed tasks took", CROWD).isLessThan(BOUND_NANOS);
    }

    @Test
    void aSupervisorGroupWithManyFailedChildrenThrowsEachFailureOnceInLinearTime() throws Exception {
        Set<Throwable> failures = Collections.synchronizedSet(identitySet());
        long[] closeNanos = new long[1];
        Throwable thrown = runTask(Duration.ofSeconds(150), () -> catchThrowable(() -> Coro.supervisorGroup(g -> {
            List<Task<Object>> tasks = new ArrayList<>(CROWD);
            for (int i = 0; i < CROWD; i++) {
                String name = "failure " + i;
                tasks.add(g.spawn(() -> {
                    Failure f = new Failure(name);
                    failures.add(f);
                    throw f;
                }));
            }
            // Each has failed, and nobody observed it: the group reports them all as it closes.
            until("every child has failed", () -> tasks.stream().allMatch(Task::isDone));
            closeNanos[0] = System.nanoTime();
            return null;
        })));
        closeNanos[0] = System.nanoTime() - closeNanos[0];
        assertThat(failures).hasSize(CROWD);
        assertThat(thrown).isInstanceOf(Failure.class);
        assertCarriesEachOnce(thrown, failures);
        assertThat(closeNanos[0]).as("nanoseconds a supervisor group with %s failed children took to close", CROWD)
                .isLessThan(BOUND_NANOS);
    }

    @Test
    void aTaskGroupWhoseManyChildrenFailWhileCancelledThrowsEachFailureOnceInLinearTime() throws Exception {
        // The first failure cancels the siblings; each then fails in its cleanup. Each of those
        // failures is recorded, but the siblings are cancelled once, not again for each.
        Failure first = new Failure("first");
        Set<Throwable> failures = Collections.synchronizedSet(identitySet());
        failures.add(first);
        AtomicInteger started = new AtomicInteger();
        long[] t0 = new long[1];
        Throwable thrown = runTask(Duration.ofSeconds(150), () -> catchThrowable(() -> Coro.taskGroup(g -> {
            for (int i = 0; i < CROWD; i++) {
                String name = "cleanup " + i;
                g.spawn(() -> {
                    started.incrementAndGet();
                    try {
                        Coro.sleep(Duration.ofHours(1));
                    } catch (CancellationException e) {
                        Failure f = new Failure(name);
                        failures.add(f);
                        throw f; // in place of the cancellation
                    }
                    return null;
                });
            }
            until("every child has started", () -> started.get() == CROWD);
            t0[0] = System.nanoTime();
            g.spawn(() -> {
                throw first;
            });
            Coro.sleep(Duration.ofHours(1)); // cancelled by the child's failure
            return null;
        })));
        long nanos = System.nanoTime() - t0[0];
        assertThat(failures).hasSize(CROWD + 1);
        assertThat(thrown).isSameAs(first);
        assertCarriesEachOnce(thrown, failures);
        assertThat(nanos).as("nanoseconds a task group took to end after the first of %s failures", CROWD + 1)
                .isLessThan(BOUND_NANOS);
    }

    @Test
    void aTaskGroupWhoseBodyRethrowsAGatherOfManyFailedChildrenThrowsItInLinearTime() throws Exception {
        // The body's gather throws one failure carrying the others; the group, which records each
        // of them too, throws that one as it is, each failure once.
        Event go = new Event();
        Set<Throwable> failures = Collections.synchronizedSet(identitySet());
        long[] t0 = new long[1];
        Throwable thrown = runTask(Duration.ofSeconds(150), () -> catchThrowable(() -> Coro.taskGroup(g -> {
            List<Task<Object>> tasks = new ArrayList<>(CROWD);
            for (int i = 0; i < CROWD; i++) {
                String name = "failure " + i;
                tasks.add(g.spawn(() -> {
                    go.await(); // granted to all at once: each then fails, none is cancelled first
                    Failure f = new Failure(name);
                    failures.add(f);
                    throw f;
                }));
            }
            until("every child waits", () -> go.queueLength() == CROWD);
            t0[0] = System.nanoTime();
            go.set();
            return Coro.gather(tasks);
        })));
        long nanos = System.nanoTime() - t0[0];
        assertThat(failures).hasSize(CROWD);
        assertThat(thrown).isInstanceOf(Failure.class);
        assertThat(thrown.getSuppressed()).hasSize(CROWD - 1);
        assertCarriesEachOnce(thrown, failures);
        assertThat(nanos).as("nanoseconds a task group took to end after %s children failed", CROWD).isLessThan(BOUND_NANOS);
    }

    @Test
    void aGatherOfALinkedListOfManyTasksReturnsEachResultInOrderInLinearTime() throws Exception {
        // A list without constant-time get: read by index once per task, a walk each.
        int crowd = 2 * CROWD;
        long[] gatherNanos = new long[1];
        List<Integer> results = runTask(Duration.ofSeconds(150), () -> {
            List<Task<Integer>> tasks = new java.util.LinkedList<>();
            for (int i = 0; i < crowd; i++) {
                int value = i;
                tasks.add(Coro.spawn(() -> value));
            }
            long t0 = System.nanoTime();
            List<Integer> r = Coro.gather(tasks);
            gatherNanos[0] = System.nanoTime() - t0;
            return r;
        });
        assertThat(results).hasSize(crowd);
        for (int i = 0; i < crowd; i++) {
            assertThat(results.get(i)).isEqualTo(i);
        }
        assertThat(gatherNanos[0]).as("nanoseconds a gather of a LinkedList of %s tasks took", crowd).isLessThan(BOUND_NANOS);
    }

    @Test
    void aChainOfManyTasksEachJoiningTheChildItSpawnedEndsInLinearTime() throws Exception {
        // Each join checks that the joined task is not one the joiner runs under (which would
        // wait forever): for a child, that takes a step, not one per ancestor.
        long t0 = System.nanoTime();
        int depth = runTask(Duration.ofSeconds(150), () -> chain(CROWD));
        long nanos = System.nanoTime() - t0;
        assertThat(depth).isEqualTo(CROWD);
        assertThat(nanos).as("nanoseconds a chain of %s tasks, each joining its child, took", CROWD).isLessThan(BOUND_NANOS);
    }

    private static int chain(int below) {
        if (below == 0) {
            return 0;
        }
        return Coro.spawn(() -> chain(below - 1)).join() + 1;
    }

    @Test
    void aGatherOfManyTasksFromDeepInATaskTreeChecksWhatItRunsUnderOnce() throws Exception {
        // A gather refuses a task that the gatherer runs under (it would wait forever). From a task
        // CROWD levels down, checking each of CROWD unrelated tasks by walking up took CROWD² steps.
        long[] gatherNanos = new long[1];
        List<String> outcomes = runTask(Duration.ofSeconds(150), () -> Coro.taskGroup(g -> {
            @SuppressWarnings("unchecked")
            Task<Object> top = (Task<Object>) Coro.currentTask();
            Event never = new Event();
            List<Task<Object>> waiting = new ArrayList<>(CROWD);
            for (int i = 0; i < CROWD; i++) {
                waiting.add(g.spawn(() -> {
                    never.await();
                    return null;
                }));
            }
            return descend(CROWD, () -> {
                List<String> out = new ArrayList<>();
                // Past the first few, the tasks it runs under are looked up in a set: still refused.
                // (The bottom's name first: the top's, task-1 in a fresh JVM, begins others.)
                List<Task<Object>> withAnAncestor = new ArrayList<>(waiting.subList(0, 20));
                withAnAncestor.add(top);
                out.add(String.valueOf(catchThrowable(() -> Coro.gather(withAnAncestor)).getMessage())
                        .replace(Coro.currentTask().name(), "<bottom>").replace(top.name(), "<top>"));
                out.add(String.valueOf(catchThrowable(() -> Coro.asCompleted(withAnAncestor).next())
                        .getMessage()).replace(Coro.currentTask().name(), "<bottom>").replace(top.name(), "<top>"));
                long t0 = System.nanoTime();
                Object got = Coro.withTimeoutOrNull(Duration.ofMillis(100), () -> Coro.gather(waiting));
                gatherNanos[0] = System.nanoTime() - t0;
                out.add("the gather ended with " + got + ", tasks cancelled: "
                        + waiting.stream().filter(Task::isCancelled).count());
                return out;
            });
        }));
        String refusal = " a task it runs under: a task ends only after the tasks spawned under it, so this would"
                + " wait forever; hand the value over another way (a Channel, a CompletableFuture)";
        assertThat(outcomes).containsExactly(
                "<bottom> cannot gather <top>," + refusal,
                "<bottom> cannot wait in Coro.asCompleted for <top>," + refusal,
                "the gather ended with null, tasks cancelled: " + CROWD);
        assertThat(gatherNanos[0]).as("nanoseconds a gather of %s tasks, %s levels down, took", CROWD, CROWD)
                .isLessThan(BOUND_NANOS);
    }

    /** Calls {@code atTheBottom} in a task {@code levels} levels below the current one. */
    private static <T> T descend(int levels, java.util.concurrent.Callable<T> atTheBottom) throws Exception {
        if (levels == 0) {
            return atTheBottom.call();
        }
        return Coro.spawn(() -> descend(levels - 1, atTheBottom)).join();
    }

    @Test
    void aTaskThatJoinsATaskItRunsUnderIsStillRefusedFromDeepDown() throws Exception {
        // The walk up from both ends still finds an ancestor, however far up, and only an ancestor.
        int deep = 1_000;
        String refused = runTask(() -> {
            Task<?> top = Coro.currentTask();
            return Coro.spawn(() -> below(deep, top)).join();
        });
        assertThat(refused).startsWith("task-").contains("cannot join " + "task-").contains("a task it runs under");
    }

    private static String below(int levels, Task<?> ancestor) {
        if (levels > 0) {
            return Coro.spawn(() -> below(levels - 1, ancestor)).join();
        }
        try {
            ancestor.join();
            return "not refused";
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }
}
