package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Generator;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.AbandonedGenerators;
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
        boolean collected = AbandonedGenerators.collected(AbandonedGenerators.abandonAfterOneYield(scheduler));
        assertThat(collected).as(tracked
                ? "what the abandoned body holds is collected (its virtual thread is parked and tracked: it should not be)"
                : "what the abandoned body held is collected (its virtual thread is untracked)").isEqualTo(!tracked);
    }
}
