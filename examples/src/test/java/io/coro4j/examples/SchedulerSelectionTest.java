package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import org.junit.jupiter.api.Test;

/**
 * Choosing a scheduler with both on the classpath, as this module has them (the only one that
 * does; its tests pick threadpool with -Dcoro4j.scheduler): once the default scheduler runs, a
 * select of the other provider is refused with a message saying when to call it, and changes
 * nothing.
 */
class SchedulerSelectionTest {

    @Test
    void selectingAnotherProviderOnceTheDefaultSchedulerRunsIsRefusedSayingWhen() {
        assertThat(Schedulers.available()).containsExactly("loom", "threadpool");
        Scheduler d = Schedulers.defaultScheduler();
        assertThat(d.kind()).isEqualTo("threadpool");
        assertThatThrownBy(() -> Schedulers.select("loom"))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("the default scheduler is already running on \"threadpool\": call Schedulers.select(\"loom\")"
                        + " before the first generator or task is created");
        Schedulers.select("threadpool"); // the one running: accepted
        assertThat(Schedulers.defaultScheduler()).isSameAs(d);
        assertThat(Coro.run(() -> Schedulers.current().kind())).isEqualTo("threadpool");
    }
}
