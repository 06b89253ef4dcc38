package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Generator;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the README and {@link Generator}'s javadoc say of a loom generator left suspended, never
 * closed: its body's virtual thread stays parked, keeping what the body holds, because the JDK
 * keeps every virtual thread it starts directly reachable; with {@code -Djdk.trackAllThreads=false}
 * it does not, and the generator is garbage once unreachable. Surefire runs this class twice, with
 * and without the flag (see the module's pom).
 */
class LoomAbandonedGeneratorTest {

    private final Scheduler scheduler = new LoomSchedulerProvider().create(
            SchedulerConfig.builder().name("abandoned").build());

    @AfterEach
    void close() {
        scheduler.close();
    }

    @Test
    void aGeneratorLeftSuspendedIsKeptWhileTheJdkTracksVirtualThreads_andCollectedOtherwise() throws Exception {
        boolean tracked = !"false".equals(System.getProperty("jdk.trackAllThreads"));
        WeakReference<Object> held = abandonAfterOneYield(scheduler);
        for (int i = 0; i < 100 && held.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        if (tracked) {
            assertThat(held.get()).as("what the abandoned body holds, its virtual thread parked and tracked").isNotNull();
        } else {
            assertThat(held.get()).as("what the abandoned body held, its virtual thread untracked").isNull();
        }
    }

    /** Runs a generator to its first yield, of an object its body keeps, and drops the generator. */
    private static WeakReference<Object> abandonAfterOneYield(Scheduler s) {
        Generator<Object, Object, Void> g = Generator.of(s, co -> {
            Object kept = new Object();
            co.yield(kept);
            return null;
        });
        return new WeakReference<>(g.next().value());
    }
}
