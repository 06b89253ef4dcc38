package io.coro4j.bench;

import io.coro4j.spi.Scheduler;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Base of every benchmark state that runs coro4j code: its {@code scheduler} parameter picks the
 * scheduler, created once per trial and closed after it. Subclasses are {@code @State} classes and
 * build what they measure in {@link #setUp(Scheduler)}.
 *
 * <p>Pick one with {@code -p scheduler=loom}; a name that is not listed here fails the trial with
 * an {@link IllegalArgumentException} saying which names exist.
 */
@State(Scope.Thread)
public abstract class SchedulerState {

    /** The schedulers a benchmark can run on; {@code @Param}'s default runs each of them. */
    static final String[] SCHEDULERS = {"threadpool", "loom"};

    @Param({"threadpool", "loom"})
    public String scheduler;

    private Scheduler instance;

    @Setup(Level.Trial)
    public final void openScheduler() throws Exception {
        instance = create(scheduler);
        setUp(instance);
    }

    @TearDown(Level.Trial)
    public final void closeScheduler() throws Exception {
        try {
            tearDown();
        } finally {
            instance.close();
        }
    }

    /** Builds what the benchmark measures; runs once per trial, before the first iteration. */
    protected abstract void setUp(Scheduler scheduler) throws Exception;

    /** Releases what {@link #setUp} built; the scheduler is closed afterwards. */
    protected void tearDown() throws Exception {}

    /**
     * A fresh scheduler of the named kind, with a single carrier (the round-trip benchmarks resume
     * from the benchmark thread and need none; a second would only compete for the CPUs).
     *
     * @throws IllegalArgumentException if {@code name} is not one of {@link #SCHEDULERS}
     */
    static Scheduler create(String name) {
        return CarrierSchedulerState.create(name, 1);
    }
}
