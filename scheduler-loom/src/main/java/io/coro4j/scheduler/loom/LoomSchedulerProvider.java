package io.coro4j.scheduler.loom;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.SchedulerProvider;

/**
 * Provides the {@code loom} scheduler: each fiber is a JDK virtual thread, run by the JDK's
 * virtual-thread scheduler; a generator is a virtual thread that the caller hands control to and
 * back. Needs no JVM flags. Constructing the provider does nothing.
 */
public final class LoomSchedulerProvider implements SchedulerProvider {

    /** The provider name and scheduler kind. */
    public static final String NAME = "loom";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Scheduler create(SchedulerConfig config) {
        return new LoomScheduler(config);
    }

    @Override
    public Fiber currentFiber() {
        return LoomScheduler.current();
    }
}
