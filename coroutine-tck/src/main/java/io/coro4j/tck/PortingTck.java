package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Task;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
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
}
