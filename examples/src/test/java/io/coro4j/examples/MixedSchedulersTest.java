package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Schedulers;
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

/**
 * Schedulers of both kinds in one program: what a loom generator's body may do when a task of a
 * threadpool scheduler steps it. The body runs on a virtual thread of its own, outside that task
 * (Generator's javadoc): task operations there are refused with a message that says so, and a
 * close() of the stepping task's scheduler there, which would wait for that task while the task
 * waits for the body, is refused as inside that task.
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

    private static String outcome(Callable<?> c) {
        try {
            return "returned " + c.call();
        } catch (Throwable e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    @Test
    void aTaskOperationInALoomGeneratorSteppedByAThreadpoolTaskIsRefusedSayingWhy() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        Generator<String, Object, Void> g = Generator.of(loom, co -> {
            co.yield(outcome(() -> {
                Coro.sleep(Duration.ofMillis(1));
                return "slept";
            }));
            return null;
        });
        String seen = run(pool, () -> g.next().toString());
        assertThat(seen).isEqualTo("Yielded[value=IllegalStateException: Coro.sleep called in the body of a generator of"
                + " scheduler \"" + loom.name() + "\" stepped by a task of scheduler \"" + pool.name() + "\": a loom"
                + " generator's body runs on a thread of its own, outside a task of another scheduler kind; make the"
                + " generator on the task's scheduler (Generator.of(body) inside the task)]");
        g.close();
    }

    @Test
    void closingTheSteppingTasksSchedulerInALoomGeneratorBodyIsRefusedNotAHang() throws Exception {
        Scheduler pool = create("threadpool");
        Scheduler loom = create("loom");
        Generator<String, Object, Void> g = Generator.of(loom, co -> {
            co.yield(outcome(() -> {
                pool.close();
                return "closed";
            }));
            return null;
        });
        List<String> seen = run(pool, () -> List.of(g.next().toString(), Coro.currentTask().name()));
        assertThat(seen.get(0)).isEqualTo("Yielded[value=IllegalStateException: close() called in the body of a generator of"
                + " scheduler \"" + loom.name() + "\" stepped by " + seen.get(1) + ", a task of scheduler \"" + pool.name() + "\": it"
                + " would wait for that task, which waits for this step to end; call shutdown() instead, or close the"
                + " scheduler after the step]");
        assertThat(pool.isShutdown()).as("refused before it shut anything down").isFalse();
        g.close();
    }
}
