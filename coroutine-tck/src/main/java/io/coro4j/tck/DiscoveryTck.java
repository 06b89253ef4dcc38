package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import org.junit.jupiter.api.Test;

/**
 * The scheduler is found the way users find it: through {@link java.util.ServiceLoader} and
 * {@link Schedulers}, by the provider name the implementation declares.
 */
public abstract class DiscoveryTck extends SchedulerTck {

    /** The provider name users choose this scheduler by. */
    protected abstract String providerName();

    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return Schedulers.create(providerName(), config);
    }

    @Test
    void theProviderIsFoundByServiceLoaderUnderItsName() {
        assertThat(Schedulers.available()).contains(providerName());
        assertThat(scheduler.kind()).isEqualTo(providerName());
        assertThat(scheduler.name()).startsWith("tck");
    }

    @Test
    void aSchedulerCreatedByNameRunsGenerators() {
        Generator<String, Object, Integer> g = Generator.of(scheduler, co -> {
            co.yield("one");
            return 1;
        });
        assertThat(g.next().value()).isEqualTo("one");
        assertThat(g.next().returnValue()).isEqualTo(1);
    }

    @Test
    void anUnknownNameIsRejectedWithTheNamesFound() {
        assertThatThrownBy(() -> Schedulers.create("no-such-scheduler", SchedulerConfig.DEFAULT))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("No coro4j scheduler named \"no-such-scheduler\" (from Schedulers.create); found: ")
                .hasMessageContaining(providerName());
    }

    /**
     * The default scheduler, shared by every program that names none, refuses shutdown and close
     * with a message saying what to do, and goes on running programs; a scheduler of one's own with
     * the same name shuts down as any other.
     */
    @Test
    void theDefaultSchedulerRefusesShutdownAndCloseAndRunsOn() throws Exception {
        Scheduler d = Schedulers.defaultScheduler();
        String message = "scheduler \"default\" is the default scheduler, shared by every Coro.run and generator that"
                + " names no scheduler for the JVM's life, and is never shut down: create a scheduler of your own with"
                + " Schedulers.create(...) to shut it down or close it";
        assertThatThrownBy(d::shutdown).isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);
        assertThatThrownBy(d::close).isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);
        assertThat(d.isShutdown()).isFalse();
        assertThat(io.coro4j.Coro.run(() -> "still runs")).isEqualTo("still runs");
        try (Scheduler own = Schedulers.create(providerName(), SchedulerConfig.builder().name("default").build())) {
            assertThat(io.coro4j.Coro.run(own, () -> "own runs")).isEqualTo("own runs");
            own.shutdown();
            assertThat(own.isShutdown()).isTrue();
        }
    }
}
