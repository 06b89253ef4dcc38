package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How a loom fiber is found from its code: through its virtual thread's uncaught-exception handler
 * (see {@link LoomScheduler#current()}), and what happens when fiber code replaces that handler.
 */
class LoomFiberLookupTest {

    private final Scheduler scheduler = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("lookup").build());

    @AfterEach
    void close() {
        scheduler.close();
    }

    @Test
    void taskAndGeneratorCodeFindTheirFiberAndPlainVirtualThreadsFindNone() throws Exception {
        List<Object> seen = Coro.run(scheduler, () -> {
            var fiber = scheduler.currentFiber();
            Generator<Object, Void, Void> g = Generator.of(scheduler, co -> {
                co.yield(scheduler.currentFiber());
                return null;
            });
            Object fromGenerator = ((Step.Yielded<Object, Void>) g.next()).value();
            g.close();
            Object[] fromPlain = new Object[1];
            Thread.ofVirtual().name("coro4j-blocking-like").start(() -> fromPlain[0] = scheduler.currentFiber()).join();
            return java.util.Arrays.asList(fiber, fromGenerator, fromPlain[0]);
        });
        assertThat(seen.get(0)).isInstanceOf(LoomFiber.class);
        assertThat(seen.get(1)).isSameAs(seen.get(0));
        assertThat(seen.get(2)).isNull();
    }

    @Test
    void theFiberReachableAsTheHandlerCannotBeRunAgain() {
        String msg = Coro.run(scheduler, () -> {
            Runnable fiber = (Runnable) Thread.currentThread().getUncaughtExceptionHandler();
            try {
                fiber.run();
                return "ran again";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(msg).isEqualTo("a fiber's body runs once, on the virtual thread started for it:"
                + " LoomFiber[alive, lookup]");
    }

    @Test
    void replacingTheHandlerOfAFiberThreadMakesCoroCallsFailSayingWhy() {
        assertThatThrownBy(() -> Coro.run(scheduler, () -> {
            Thread.currentThread().setUncaughtExceptionHandler((t, e) -> { });
            Coro.sleep(Duration.ofMillis(1));
            return "slept";
        })).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("the uncaught-exception handler of this fiber's virtual thread (\"coro4j-lookup-fiber\")"
                        + " was replaced: the loom scheduler finds the running fiber through it; do not call"
                        + " Thread.setUncaughtExceptionHandler from fiber code (an exception that escapes a fiber"
                        + " goes to the default handler)");
    }
}
