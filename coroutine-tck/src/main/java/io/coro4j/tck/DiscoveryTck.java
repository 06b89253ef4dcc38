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
}
