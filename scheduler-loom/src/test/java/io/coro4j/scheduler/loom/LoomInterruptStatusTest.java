package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A set interrupt status is the code's own, not a wake-up: the two sides of a generator, each a
 * virtual thread here, wait for their turn parked, not spinning on a park that returns at once,
 * and keep their status. (How tasks keep theirs is in the kit, for both schedulers.)
 */
class LoomInterruptStatusTest {

    private final Scheduler scheduler = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("interrupts").build());

    @AfterEach
    void close() {
        scheduler.close();
    }

    /**
     * {@code Thread.currentThread()} in a task is the task's own virtual thread: an interrupt sent
     * to it from another thread while the task is suspended is the task's, and no other task's
     * (on threadpool it reaches the carrier, and whichever task runs there then).
     */
    @Test
    void anInterruptSentToATasksThreadFromAnotherThreadIsThatTasks() {
        List<Object> seen = Coro.run(scheduler, () -> {
            io.coro4j.channel.Event go = new io.coro4j.channel.Event();
            java.util.concurrent.CompletableFuture<Thread> its = new java.util.concurrent.CompletableFuture<>();
            io.coro4j.Task<Boolean> sawTheThread = Coro.spawn(() -> {
                its.complete(Thread.currentThread());
                go.await();
                return Thread.currentThread().isInterrupted();
            });
            Coro.await(java.util.concurrent.CompletableFuture.runAsync(() -> its.join().interrupt()));
            go.set();
            boolean other = Coro.spawn(() -> Thread.currentThread().isInterrupted()).join();
            return List.of(sawTheThread.join(), other, Thread.currentThread().isInterrupted());
        });
        assertThat(seen).containsExactly(true, false, false);
    }

    @Test
    void aResumerWithItsStatusSetWaitsParkedWhileTheBodyRuns() {
        List<Object> seen = Coro.run(scheduler, () -> {
            Thread resumer = Thread.currentThread();
            Generator<Thread.State, Void, Void> g = Generator.of(scheduler, co -> {
                co.yield(ThreadStates.onceParked(resumer));
                return null;
            });
            resumer.interrupt();
            Thread.State whileBodyRan = ((Step.Yielded<Thread.State, Void>) g.next()).value();
            boolean status = Thread.interrupted();
            g.close();
            return List.of(whileBodyRan, status);
        });
        assertThat(seen).containsExactly(Thread.State.WAITING, true);
    }

    @Test
    void aBodyWithItsStatusSetWaitsParkedWhileTheResumerRuns() {
        List<Object> seen = Coro.run(scheduler, () -> {
            Generator<Object, Void, Void> g = Generator.of(scheduler, co -> {
                Thread.currentThread().interrupt();
                co.yield(Thread.currentThread());
                co.yield(Thread.interrupted());
                return null;
            });
            Thread body = (Thread) ((Step.Yielded<Object, Void>) g.next()).value();
            Thread.State whileResumerRan = ThreadStates.onceParked(body);
            Object status = ((Step.Yielded<Object, Void>) g.next()).value();
            g.close();
            return List.of(whileResumerRan, status);
        });
        assertThat(seen).containsExactly(Thread.State.WAITING, true);
    }
}
