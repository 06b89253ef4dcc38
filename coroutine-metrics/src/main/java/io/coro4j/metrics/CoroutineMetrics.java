package io.coro4j.metrics;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerStats;
import io.coro4j.spi.SchedulingDelays;
import io.coro4j.spi.TaskCounters;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for one coro4j {@link Scheduler}. Every meter is tagged {@code scheduler}
 * (the scheduler's {@link Scheduler#kind() kind}: {@code threadpool}, {@code loom}) and
 * {@code name} (its {@link Scheduler#name() name}); names are in base units, and Prometheus
 * renders the dots as underscores (and adds {@code _total} / {@code _seconds}):
 *
 * <table>
 *   <caption>The meters of a scheduler</caption>
 *   <tr><th>meter</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code coro4j.suspensions}</td><td>counter</td><td>fibers parked and generators suspended</td></tr>
 *   <tr><td>{@code coro4j.resumptions}</td><td>counter</td><td>parked fibers run again and generators resumed</td></tr>
 *   <tr><td>{@code coro4j.tasks.spawned}</td><td>counter</td><td>tasks handed to the scheduler</td></tr>
 *   <tr><td>{@code coro4j.tasks.ended}</td><td>counter, tag {@code outcome} = {@code completed} |
 *       {@code failed} | {@code cancelled}</td><td>tasks that ended, by outcome</td></tr>
 *   <tr><td>{@code coro4j.coroutines.live}</td><td>gauge</td><td>fibers started and not ended</td></tr>
 *   <tr><td>{@code coro4j.coroutines.suspended}</td><td>gauge</td><td>fibers parked now</td></tr>
 *   <tr><td>{@code coro4j.queue.depth}</td><td>gauge (schedulers with run queues:
 *       threadpool)</td><td>runnable fibers waiting in run queues</td></tr>
 *   <tr><td>{@code coro4j.steals}</td><td>counter (threadpool)</td><td>fibers taken from another
 *       carrier's queue</td></tr>
 *   <tr><td>{@code coro4j.scheduling.delay}</td><td>timer with a percentile histogram</td><td>runnable
 *       to running, sampled: about one event in {@code sampleEvery} is recorded, so its count is
 *       the number of samples, not of events</td></tr>
 * </table>
 *
 * <p>The counters and gauges are functions over the scheduler's own statistics
 * ({@link Scheduler#stats()}, {@link Scheduler#taskCounters()}), which the scheduler keeps whether or
 * not anything is bound, in per-carrier plain fields or striped counters: Micrometer reads them
 * on scrape and the hot path never calls it. Only the sampled scheduling delay calls into Micrometer
 * from carrier threads, and only while bound.
 *
 * <p>Usage: {@code new CoroutineMetrics(scheduler).bindTo(registry)}; {@link #close()} removes the
 * meters from every registry it was bound to and stops sampling. Thread-safe.
 */
public final class CoroutineMetrics implements MeterBinder, AutoCloseable {

    /**
     * Held while a binder looks for meters of its tags in a registry and registers its own, and
     * while one removes its meters, so that of two binders with the same tags (two schedulers of
     * one kind and name) binding to one registry at once, the second sees the first's meters and
     * is refused, and one binding while the other closes binds after the close; binding is rare.
     */
    private static final Object BINDING = new Object();

    /**
     * The tags bound per registry, until their binder closes; changed under {@link #BINDING}. The
     * registry's own meters cannot tell: a filter may deny any of them.
     */
    private static final RegistryClaims<Tags> BOUND = new RegistryClaims<>();

    private final Scheduler scheduler;
    private final int sampleEvery;
    private final Tags tags;
    private final List<Timer> delayTimers = new CopyOnWriteArrayList<>();
    private final List<Bound> bound = new ArrayList<>();
    private final LongConsumer delayListener = this::recordDelay;
    private boolean listening;
    private boolean closed;

    /** Meters for {@code scheduler}, sampling about one scheduling delay in {@value SchedulingDelays#DEFAULT_SAMPLE_EVERY}. */
    public CoroutineMetrics(Scheduler scheduler) {
        this(scheduler, SchedulingDelays.DEFAULT_SAMPLE_EVERY);
    }

    /**
     * Meters for {@code scheduler}, sampling about one scheduling delay in {@code sampleEvery}.
     *
     * @param sampleEvery a power of two from 1 (every event) to 1048576
     * @throws IllegalArgumentException if {@code sampleEvery} is not such a power of two
     */
    public CoroutineMetrics(Scheduler scheduler, int sampleEvery) {
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.sampleEvery = SchedulingDelays.checkSampleEvery(sampleEvery);
        this.tags = Tags.of(Tag.of("scheduler", scheduler.kind()), Tag.of("name", scheduler.name()));
    }

    /** The tags every meter of this binder carries. */
    public Tags tags() {
        return tags;
    }

    /**
     * Registers this scheduler's meters in {@code registry} (one binder may be bound to several).
     *
     * @throws IllegalStateException if the registry already has this scheduler's meters (this
     *     binder bound there before, two schedulers of one kind sharing a name, or a second binder
     *     for one scheduler), or if this binder is closed
     */
    @Override
    public synchronized void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        if (closed) {
            throw new IllegalStateException("this CoroutineMetrics was closed: create a new one to bind again");
        }
        synchronized (BINDING) {
            register(registry);
        }
    }

    /** {@link #bindTo}'s check and registrations, under {@link #BINDING}. */
    private void register(MeterRegistry registry) {
        Object holder = BOUND.holder(registry, tags);
        if (holder == this) {
            // Not another scheduler of this name, nor a second binder: the advice below would mislead.
            throw new IllegalStateException("this CoroutineMetrics is bound to this registry already (its meters tagged "
                    + tags + " are there): bind a binder once per registry");
        }
        if (holder != null || registry.find("coro4j.suspensions").tags(tags).meter() != null) {
            throw new IllegalStateException("registry already has coro4j meters tagged " + tags
                    + ": each scheduler needs a distinct name (SchedulerConfig.name) and one binder");
        }
        boolean startsListening = !listening;
        if (startsListening) {
            // First: a second binder for this scheduler is refused here, before it registers anything.
            scheduler.schedulingDelays().listen(delayListener, sampleEvery);
            listening = true;
        }
        List<Meter> meters = new ArrayList<>();
        try {
            registerMeters(registry, meters);
        } catch (RuntimeException | Error e) {
            // The registry refused one (a meter of another type under one of the names, say): take
            // back what this bind did, or those meters stay for good (close() knows only of bound
            // registries) and the listener keeps any other binder of the scheduler out.
            for (Meter m : meters) {
                registry.remove(m);
            }
            if (startsListening) {
                scheduler.schedulingDelays().unlisten(delayListener);
                listening = false;
            }
            throw e;
        }
        delayTimers.add((Timer) meters.get(meters.size() - 1));
        bound.add(new Bound(registry, meters));
        BOUND.claim(registry, tags, this);
    }

    /** Registers this binder's meters in {@code registry}, adding each to {@code meters} as it goes; the timer last. */
    private void registerMeters(MeterRegistry registry, List<Meter> meters) {
        SchedulerStats stats = scheduler.stats();
        TaskCounters tasks = scheduler.taskCounters();
        meters.add(counter(registry, "coro4j.suspensions", "Fibers parked and generators suspended",
                stats, SchedulerStats::suspensions));
        meters.add(counter(registry, "coro4j.resumptions", "Parked fibers run again and generators resumed",
                stats, SchedulerStats::resumptions));
        meters.add(counter(registry, "coro4j.tasks.spawned", "Tasks handed to the scheduler",
                tasks, TaskCounters::spawned));
        meters.add(ended(registry, "completed", tasks, TaskCounters::completed));
        meters.add(ended(registry, "failed", tasks, TaskCounters::failed));
        meters.add(ended(registry, "cancelled", tasks, TaskCounters::cancelled));
        meters.add(gauge(registry, "coro4j.coroutines.live", "Fibers started and not yet ended",
                stats, SchedulerStats::liveFibers));
        meters.add(gauge(registry, "coro4j.coroutines.suspended", "Fibers parked now",
                stats, SchedulerStats::parkedFibers));
        if (stats.observesRunQueues()) {
            meters.add(gauge(registry, "coro4j.queue.depth", "Runnable fibers waiting in run queues",
                    stats, SchedulerStats::queueDepth));
            meters.add(counter(registry, "coro4j.steals", "Fibers taken from another carrier's run queue",
                    stats, SchedulerStats::steals));
        }
        Timer delay = Timer.builder("coro4j.scheduling.delay")
                // One text for every binder: Prometheus shows one HELP line per name, and each
                // binder may sample at its own rate.
                .description("Time from runnable to running, of a sample of the events (one in sampleEvery)")
                .tags(tags)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(1_000))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
        meters.add(delay);
    }

    /** Stops sampling and removes this binder's meters from every registry it was bound to. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (listening) {
            scheduler.schedulingDelays().unlisten(delayListener);
        }
        delayTimers.clear();
        // Under BINDING, as a binder of the same tags checks and registers: half way through
        // this removal, such a binder would find no coro4j.suspensions and be handed the meters
        // not yet removed (reading this binder's scheduler), which this removal then takes away.
        synchronized (BINDING) {
            for (Bound b : bound) {
                for (Meter m : b.meters) {
                    b.registry.remove(m);
                }
                BOUND.release(b.registry, tags, this);
            }
        }
        bound.clear();
    }

    private void recordDelay(long nanos) {
        for (Timer t : delayTimers) {
            t.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    private <T> Meter counter(MeterRegistry registry, String name, String description, T obj, ToDoubleFunction<T> f) {
        return FunctionCounter.builder(name, obj, f).description(description).tags(tags).register(registry);
    }

    private <T> Meter ended(MeterRegistry registry, String outcome, T obj, ToDoubleFunction<T> f) {
        return FunctionCounter.builder("coro4j.tasks.ended", obj, f)
                .description("Tasks that ended, by outcome: completed (returned), failed (threw), cancelled").tags(tags).tag("outcome", outcome).register(registry);
    }

    private <T> Meter gauge(MeterRegistry registry, String name, String description, T obj, ToDoubleFunction<T> f) {
        return Gauge.builder(name, obj, f).description(description).tags(tags).strongReference(true)
                .register(registry);
    }

    private record Bound(MeterRegistry registry, List<Meter> meters) {}
}
