package io.coro4j.bench;

import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.util.Arrays;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Base of the states of the task benchmarks ({@link SpawnJoinBenchmark}, {@link SleepersWallTimeBenchmark}):
 * like {@link SchedulerState}, its {@code scheduler} parameter picks the scheduler, created once per
 * trial and closed after it, and an unknown name fails the trial with an
 * {@link IllegalArgumentException} listing the known ones. Unlike it, the threadpool scheduler gets
 * {@code carriers} carrier threads, by default one per available processor: these benchmarks run
 * many tasks at once and are compared with virtual threads, whose JDK scheduler also has one carrier
 * per processor by default.
 *
 * <p>{@code -p carriers=1} gives threadpool one carrier; to give the virtual-thread baselines and the
 * loom scheduler one too, add {@code -jvmArgsPrepend -Djdk.virtualThreadScheduler.parallelism=1}.
 */
@State(Scope.Thread)
public abstract class CarrierSchedulerState {

    /** The schedulers a benchmark can run on; {@code @Param}'s default runs each of them. */
    @Param({"threadpool", "loom"})
    public String scheduler;

    /**
     * Carrier threads of the threadpool scheduler; {@code 0} means one per available processor.
     * The loom scheduler has no carriers of its own and ignores it.
     */
    @Param({"0"})
    public int carriers;

    /** The scheduler of this trial. */
    Scheduler instance;

    @Setup(Level.Trial)
    public final void openScheduler() throws Exception {
        instance = create(scheduler, carriers);
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

    /** Builds what the benchmark needs beyond the scheduler; runs once per trial. */
    protected void setUp(Scheduler scheduler) throws Exception {}

    /** Releases what {@link #setUp} built; the scheduler is closed afterwards. */
    protected void tearDown() throws Exception {}

    /**
     * A fresh scheduler of the named kind.
     *
     * @param carriers the threadpool scheduler's carrier threads; 0 for one per available processor
     * @throws IllegalArgumentException if {@code name} is not one of {@link SchedulerState#SCHEDULERS},
     *     or {@code carriers} is negative
     */
    static Scheduler create(String name, int carriers) {
        if (!Arrays.asList(SchedulerState.SCHEDULERS).contains(name)) {
            throw new IllegalArgumentException("unknown scheduler \"" + name + "\" in -p scheduler=...:"
                    + " expected one of " + String.join(", ", SchedulerState.SCHEDULERS));
        }
        if (carriers < 0) {
            throw new IllegalArgumentException("-p carriers=" + carriers
                    + ": expected 0 (one per available processor) or a positive number");
        }
        int n = carriers == 0 ? Runtime.getRuntime().availableProcessors() : carriers;
        SchedulerConfig config = SchedulerConfig.builder().name("bench-" + name).parallelism(n).build();
        return Schedulers.create(name, config);
    }
}
