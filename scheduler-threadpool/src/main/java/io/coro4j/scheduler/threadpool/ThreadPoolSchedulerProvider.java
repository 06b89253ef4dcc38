package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.SchedulerProvider;

/**
 * Provides the {@code threadpool} scheduler: fibers are {@code jdk.internal.vm.Continuation}s run
 * by carrier threads the scheduler owns, with JCTools run queues and work stealing; a generator
 * resumes on the caller's thread with no thread switch.
 *
 * <p>Needs the JVM flag {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED} on the class
 * path, {@code --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool} on the
 * module path;
 * {@link #create} without it throws an {@link IllegalStateException} that names the flag.
 * Constructing the provider does nothing.
 */
public final class ThreadPoolSchedulerProvider implements SchedulerProvider {

    /** The provider name and scheduler kind. */
    public static final String NAME = "threadpool";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 50;
    }

    @Override
    public Scheduler create(SchedulerConfig config) {
        return new ThreadPoolScheduler(config);
    }

    @Override
    public Fiber currentFiber() {
        // Only this scheduler's carriers run its fibers; without continuations none exists.
        if (ContinuationAccess.problem() != null) {
            return null;
        }
        return Continuations.carrierThread() instanceof Worker w ? w.current : null;
    }
}
