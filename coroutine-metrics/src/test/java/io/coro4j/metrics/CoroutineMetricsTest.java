package io.coro4j.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.channel.Event;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Exact meter values for known workloads, on both schedulers, read through real registries. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CoroutineMetricsTest {

    private static final AtomicInteger SEQ = new AtomicInteger();

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private Scheduler scheduler(String kind) {
        Scheduler s = Schedulers.create(kind, SchedulerConfig.builder()
                .name(kind + "-metrics-test-" + SEQ.incrementAndGet()).parallelism(2).build());
        toClose.add(s);
        return s;
    }

    private CoroutineMetrics bound(Scheduler s, MeterRegistry registry, int sampleEvery) {
        CoroutineMetrics m = new CoroutineMetrics(s, sampleEvery);
        toClose.add(m);
        m.bindTo(registry);
        return m;
    }

    private static double counter(MeterRegistry r, String name, Scheduler s, String... tags) {
        return r.get(name).tag("scheduler", s.kind()).tag("name", s.name()).tags(tags).functionCounter().count();
    }

    private static double gauge(MeterRegistry r, String name, Scheduler s) {
        return r.get(name).tag("scheduler", s.kind()).tag("name", s.name()).gauge().value();
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void generatorSendsCountOneResumptionEachAndOneSuspensionPerYield(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        int n = 10_000;
        Generator<Integer, Integer, Integer> g = Generator.of(s, y -> {
            int sum = 0;
            for (int i = 0; i < n; i++) {
                sum += y.yield(i);
            }
            return sum;
        });
        double resumedBefore = counter(r, "coro4j.resumptions", s);
        double suspendedBefore = counter(r, "coro4j.suspensions", s);

        g.next();
        Step<Integer, Integer> last = null;
        for (int i = 0; i < n; i++) {
            last = g.send(1);
        }

        assertThat(last).isEqualTo(new Step.Returned<>(n));
        // next() + n sends: n + 1 resumptions; every one but the last ended in a yield.
        assertThat(counter(r, "coro4j.resumptions", s) - resumedBefore).isEqualTo(n + 1);
        assertThat(counter(r, "coro4j.suspensions", s) - suspendedBefore).isEqualTo(n);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void kTasksAreKSpawnedAndKEndedByOutcome(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        int k = 1_000;

        int sum = Coro.run(s, () -> Coro.gather(IntStream.range(0, k).mapToObj(i -> Coro.spawn(() -> i)).toList())
                .stream().mapToInt(Integer::intValue).sum());
        assertThatThrownBy(() -> Coro.run(s, () -> {
            throw new IllegalStateException("main fails");
        })).hasMessage("main fails");
        assertThatThrownBy(() -> Coro.run(s, () -> {
            Coro.currentTask().cancel();
            Coro.checkCancelled();
            return null;
        })).isInstanceOf(CancellationException.class);

        assertThat(sum).isEqualTo(k * (k - 1) / 2);
        // k children and three main tasks.
        assertThat(counter(r, "coro4j.tasks.spawned", s)).isEqualTo(k + 3);
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "completed")).isEqualTo(k + 1);
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "failed")).isEqualTo(1);
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "cancelled")).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void liveAndSuspendedGaugesFollowParkedTasks(String kind) throws Exception {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        int waiting = 500;
        Event go = new Event();
        Thread runner = Thread.ofPlatform().start(() -> Coro.run(s, () -> {
            List<Task<Object>> tasks = new ArrayList<>();
            for (int i = 0; i < waiting; i++) {
                tasks.add(Coro.spawn(() -> {
                    go.await();
                    return null;
                }));
            }
            return Coro.gather(tasks);
        }));

        // The waiters and the main task gathering them.
        awaitTrue(() -> gauge(r, "coro4j.coroutines.suspended", s) == waiting + 1);
        assertThat(gauge(r, "coro4j.coroutines.live", s)).isEqualTo(waiting + 1);

        go.set();
        runner.join();
        // A fiber counts as ended just after its task's result is published, so these lag by a moment.
        awaitTrue(() -> gauge(r, "coro4j.coroutines.live", s) == 0);
        awaitTrue(() -> gauge(r, "coro4j.coroutines.suspended", s) == 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void aRunningTaskIsLiveButNotSuspended(String kind) {
        // Read from inside the main task: it runs, its children are parked, so the two gauges differ.
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        int waiting = 10;
        Event go = new Event();
        double[] seen = Coro.run(s, () -> {
            List<Task<Object>> tasks = new ArrayList<>();
            for (int i = 0; i < waiting; i++) {
                tasks.add(Coro.spawn(() -> {
                    go.await();
                    return null;
                }));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (gauge(r, "coro4j.coroutines.suspended", s) != waiting && System.nanoTime() - deadline < 0) {
                Coro.sleep(Duration.ofMillis(1));
            }
            double[] now = {gauge(r, "coro4j.coroutines.suspended", s), gauge(r, "coro4j.coroutines.live", s)};
            go.set();
            Coro.gather(tasks);
            return now;
        });
        assertThat(seen).containsExactly(waiting, waiting + 1);
    }

    @Test
    void theStealsCounterReadsTheSchedulersSteals() throws Exception {
        // A fiber started from a carrier goes to its local queue; while that carrier spins, only
        // the other carrier stealing it can run it: exactly one steal, with an empty queue after.
        Scheduler s = scheduler("threadpool");
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        CountDownLatch childRan = new CountDownLatch(1);
        CompletableFuture<Boolean> ranWhileParentSpun = new CompletableFuture<>();
        s.start(() -> {
            s.start(childRan::countDown);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (childRan.getCount() != 0 && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            ranWhileParentSpun.complete(childRan.getCount() == 0);
        });
        assertThat(ranWhileParentSpun.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(s.stats().steals()).isEqualTo(1);
        assertThat(counter(r, "coro4j.steals", s)).isEqualTo(1.0);
        assertThat(gauge(r, "coro4j.queue.depth", s)).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void schedulingDelayIsSampledWhileBoundAndNotAfterClose(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        CoroutineMetrics m = bound(s, r, 1);
        int n = 2_000;

        Coro.run(s, () -> {
            List<Task<Object>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                tasks.add(Coro.spawn(() -> null));
            }
            return Coro.gather(tasks);
        });

        Timer delay = r.get("coro4j.scheduling.delay").tags(m.tags()).timer();
        // sampleEvery 1: every start of the n children and of the main task is a sample.
        assertThat(delay.count()).isGreaterThanOrEqualTo(n + 1);
        assertThat(delay.max(TimeUnit.SECONDS)).isLessThan(10);
        assertThat(s.schedulingDelays().isObserved()).isTrue();

        m.close();

        assertThat(s.schedulingDelays().isObserved()).isFalse();
        assertThat(r.find("coro4j.scheduling.delay").meters()).isEmpty();
        assertThat(r.find("coro4j.suspensions").meters()).isEmpty();
        assertThat(r.getMeters()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void runQueueMetersOnlyWhereTheSchedulerHasRunQueues(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);

        boolean queues = kind.equals("threadpool");
        assertThat(r.find("coro4j.queue.depth").gauge() != null).isEqualTo(queues);
        assertThat(r.find("coro4j.steals").functionCounter() != null).isEqualTo(queues);
        if (queues) {
            assertThat(gauge(r, "coro4j.queue.depth", s)).isZero();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void prometheusScrapeNamesEveryMeterWithBaseUnitsAndTags(String kind) throws InterruptedException {
        Scheduler s = scheduler(kind);
        PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        bound(s, r, 1);
        Coro.run(s, () -> {
            Coro.sleep(Duration.ofMillis(1));
            return null;
        });

        // A fiber counts as ended just after its task's result is published.
        awaitTrue(() -> s.stats().liveFibers() == 0 && s.stats().parkedFibers() == 0);
        String scrape = r.scrape();
        String tags = "name=\"" + s.name() + "\",scheduler=\"" + kind + "\"";
        assertThat(scrape).contains(
                "coro4j_suspensions_total{" + tags + "}",
                "coro4j_resumptions_total{" + tags + "}",
                "coro4j_tasks_spawned_total{" + tags + "} 1",
                "coro4j_tasks_ended_total{name=\"" + s.name() + "\",outcome=\"completed\",scheduler=\"" + kind + "\"} 1",
                "coro4j_coroutines_live{" + tags + "} 0",
                "coro4j_coroutines_suspended{" + tags + "} 0",
                "coro4j_scheduling_delay_seconds_bucket{" + tags + ",le=");
    }

    /**
     * Two schedulers of one kind and name bound to one registry at once: one binder is refused,
     * whatever the timing. The registry holds the first binder at its first registration, after
     * its check for meters of its tags, while the second binds.
     */
    @Test
    void ofTwoBindersWithTheSameTagsBindingAtOnce_oneIsRefused() throws Exception {
        CountDownLatch firstRegistering = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        MeterRegistry r = new SimpleMeterRegistry();
        r.config().meterFilter(new io.micrometer.core.instrument.config.MeterFilter() {
            @Override
            public io.micrometer.core.instrument.Meter.Id map(io.micrometer.core.instrument.Meter.Id id) {
                if (id.getName().equals("coro4j.suspensions") && Thread.currentThread().getName().equals("binder-a")) {
                    firstRegistering.countDown();
                    try {
                        goOn.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return id;
            }
        });
        List<CoroutineMetrics> binders = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Scheduler s = Schedulers.create("threadpool", SchedulerConfig.builder().name("same-name").parallelism(1).build());
            toClose.add(s);
            CoroutineMetrics m = new CoroutineMetrics(s);
            toClose.add(m);
            binders.add(m);
        }
        List<Throwable> refused = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread a = Thread.ofPlatform().name("binder-a").start(() -> bindOrRecord(binders.get(0), r, refused));
        assertThat(firstRegistering.await(30, TimeUnit.SECONDS)).isTrue();
        Thread b = Thread.ofPlatform().name("binder-b").start(() -> bindOrRecord(binders.get(1), r, refused));
        b.join(500); // binds meanwhile, unless it waits for the first to finish
        goOn.countDown();
        a.join();
        b.join();
        assertThat(refused).singleElement().satisfies(e -> assertThat(e)
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("registry already has coro4j meters tagged " + binders.get(1).tags()
                        + ": each scheduler needs a distinct name (SchedulerConfig.name) and one binder"));
    }

    private static void bindOrRecord(CoroutineMetrics m, MeterRegistry r, List<Throwable> refused) {
        try {
            m.bindTo(r);
        } catch (RuntimeException e) {
            refused.add(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void misuseIsRefusedWithAMessage(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        CoroutineMetrics first = bound(s, r, 64);

        assertThatThrownBy(() -> new CoroutineMetrics(s, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sampleEvery is 3: it must be a power of two from 1 to 1048576 (1 = every event)");
        assertThatThrownBy(() -> new CoroutineMetrics(s, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> first.bindTo(r))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("this CoroutineMetrics is bound to this registry already (its meters tagged " + first.tags()
                        + " are there): bind a binder once per registry");
        Scheduler twin = Schedulers.create(kind, SchedulerConfig.builder().name(s.name()).parallelism(1).build());
        toClose.add(twin);
        CoroutineMetrics sameName = new CoroutineMetrics(twin);
        toClose.add(sameName);
        assertThatThrownBy(() -> sameName.bindTo(r))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("registry already has coro4j meters tagged " + first.tags()
                        + ": each scheduler needs a distinct name (SchedulerConfig.name) and one binder");
        CoroutineMetrics second = new CoroutineMetrics(s);
        toClose.add(second);
        MeterRegistry refused = new SimpleMeterRegistry();
        assertThatThrownBy(() -> second.bindTo(refused))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("a scheduling-delay listener is already set: unbind the first metrics binder (close it)"
                        + " before binding another to the same scheduler");
        assertThat(refused.getMeters()).as("meters a refused binder left in its registry").isEmpty();
        first.close();
        first.close(); // idempotent
        assertThatThrownBy(() -> first.bindTo(r))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("this CoroutineMetrics was closed: create a new one to bind again");
        assertThatThrownBy(() -> new CoroutineMetrics(null)).isInstanceOf(NullPointerException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void oneBinderFeedsSeveralRegistries(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry a = new SimpleMeterRegistry();
        MeterRegistry b = new SimpleMeterRegistry();
        CoroutineMetrics m = bound(s, a, 1);
        m.bindTo(b);

        Coro.run(s, () -> 42);

        assertThat(counter(a, "coro4j.tasks.spawned", s)).isEqualTo(1);
        assertThat(counter(b, "coro4j.tasks.spawned", s)).isEqualTo(1);
        long sampled = a.get("coro4j.scheduling.delay").timer().count();
        assertThat(sampled).isPositive();
        assertThat(b.get("coro4j.scheduling.delay").timer().count()).isEqualTo(sampled);
        m.close();
        assertThat(a.getMeters()).isEmpty();
        assertThat(b.getMeters()).isEmpty();
    }

    /**
     * A scheduler replaced by a new one of the same kind and name: the old binder closes while the
     * new one binds. Half way through the close, some of the old meters, of the same ids as the new
     * binder's, are still registered: a binder that registers then is handed those (reading the old
     * scheduler), and the rest of the close removes them, so the new scheduler ends up unmetered.
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void aBinderBindingWhileAnotherOfItsTagsCloses_endsWithAllItsMeters(String kind) throws Exception {
        String name = kind + "-replaced-" + SEQ.incrementAndGet();
        Scheduler old = Schedulers.create(kind, SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(old);
        PausingRegistry r = new PausingRegistry();
        CoroutineMetrics oldMetrics = bound(old, r, 64);
        Coro.run(old, () -> 1);
        Scheduler replacement = Schedulers.create(kind, SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(replacement);
        CoroutineMetrics newMetrics = new CoroutineMetrics(replacement, 64);
        toClose.add(newMetrics);

        Thread closer = Thread.ofPlatform().name("closer").start(oldMetrics::close);
        r.awaitPaused();
        List<Throwable> refused = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread binder = Thread.ofPlatform().name("binder").start(() -> bindOrRecord(newMetrics, r, refused));
        // It binds now, is refused now, or waits for the close to end.
        awaitTrue(() -> binder.getState() == Thread.State.TERMINATED || binder.getState() == Thread.State.BLOCKED
                || binder.getState() == Thread.State.WAITING);
        r.resume();
        closer.join();
        binder.join();
        if (!refused.isEmpty()) {
            assertThat(refused).singleElement().isInstanceOf(IllegalStateException.class);
            newMetrics.bindTo(r);
        }

        Coro.run(replacement, () -> 1);
        Coro.run(replacement, () -> 2);
        assertThat(counter(r, "coro4j.tasks.spawned", replacement)).isEqualTo(2);
        assertThat(counter(r, "coro4j.tasks.ended", replacement, "outcome", "completed")).isEqualTo(2);
        assertThat(r.getMeters()).extracting(m -> m.getId().getName()).contains(
                "coro4j.suspensions", "coro4j.resumptions", "coro4j.tasks.spawned", "coro4j.tasks.ended",
                "coro4j.coroutines.live", "coro4j.coroutines.suspended", "coro4j.scheduling.delay");
        newMetrics.close();
        assertThat(r.getMeters()).isEmpty();
    }

    /**
     * A sleeping task is made runnable again by its timer: that wake-up is a scheduling event like
     * any other, and with sampleEvery 1 every one of them is a sample, on both schedulers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void everyWakeUpFromASleepIsASample_withSampleEvery1(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        CoroutineMetrics m = bound(s, r, 1);
        int sleeps = 50;
        double resumedBefore = counter(r, "coro4j.resumptions", s);

        Coro.run(s, () -> {
            for (int i = 0; i < sleeps; i++) {
                Coro.sleep(Duration.ofMillis(1));
            }
            return null;
        });

        Timer delay = r.get("coro4j.scheduling.delay").tags(m.tags()).timer();
        // The main task's start, and its wake-up after each sleep that parked (a sleep whose time
        // is up before its park, on a slow machine, neither parks nor wakes up).
        double wakeUps = counter(r, "coro4j.resumptions", s) - resumedBefore;
        assertThat(wakeUps).isGreaterThanOrEqualTo(sleeps / 2);
        assertThat((double) delay.count()).isGreaterThanOrEqualTo(wakeUps + 1);
        assertThat(delay.max(TimeUnit.SECONDS)).isLessThan(10);
    }

    /** Exact totals after many tasks, each suspending once, on four carriers. */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void countsAreExactAfterManyConcurrentTasks(String kind) throws Exception {
        Scheduler s = Schedulers.create(kind, SchedulerConfig.builder()
                .name(kind + "-metrics-test-" + SEQ.incrementAndGet()).parallelism(4).build());
        toClose.add(s);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        int n = 20_000;
        int rounds = 3;
        for (int round = 0; round < rounds; round++) {
            Event go = new Event();
            Coro.run(s, () -> {
                List<Task<Integer>> tasks = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    int v = i;
                    tasks.add(Coro.spawn(() -> {
                        go.await();
                        if (v % 10 == 1) {
                            throw new IllegalStateException("fails");
                        }
                        return v;
                    }));
                }
                go.set();
                for (Task<Integer> t : tasks) {
                    try {
                        t.join();
                    } catch (IllegalStateException expected) {
                        // counted as failed
                    }
                }
                return null;
            });
        }
        awaitTrue(() -> s.stats().liveFibers() == 0 && s.stats().parkedFibers() == 0);
        assertThat(counter(r, "coro4j.tasks.spawned", s)).isEqualTo(rounds * (n + 1));
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "failed")).isEqualTo(rounds * (n / 10));
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "completed")).isEqualTo(rounds * (n - n / 10 + 1));
        assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "cancelled")).isZero();
        assertThat(counter(r, "coro4j.suspensions", s)).isEqualTo(counter(r, "coro4j.resumptions", s));
        assertThat(gauge(r, "coro4j.coroutines.live", s)).isZero();
        assertThat(gauge(r, "coro4j.coroutines.suspended", s)).isZero();
    }

    /**
     * A generator body that awaits, iterated by a task: the await parks the task's fiber once (on
     * threadpool the body runs in that fiber; on loom in a thread of its own, for that fiber), and
     * each resumption of the body counts once, on both schedulers alike.
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void anAwaitInAGeneratorBodyIsOneSuspensionOfItsTasksFiber(String kind) throws Exception {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        bound(s, r, 64);
        Event go = new Event();
        Thread setter = Thread.ofPlatform().start(() -> {
            try {
                awaitTrue(() -> gauge(r, "coro4j.coroutines.suspended", s) == 1);
                go.set();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        double[] seen = new double[2];
        Coro.run(s, () -> {
            Generator<Integer, Object, Integer> g = Generator.of(s, y -> {
                go.await();
                y.yield(1);
                return 2;
            });
            assertThat(g.next()).isEqualTo(new Step.Yielded<>(1));
            assertThat(g.next()).isEqualTo(new Step.Returned<>(2));
            seen[0] = gauge(r, "coro4j.coroutines.live", s);
            return null;
        });
        setter.join();
        // One park (the await) and one yield; that park's resumption and two of the body.
        assertThat(counter(r, "coro4j.suspensions", s)).isEqualTo(2);
        assertThat(counter(r, "coro4j.resumptions", s)).isEqualTo(3);
        assertThat(seen[0]).isEqualTo(1);
    }

    /**
     * A registry that denies coro4j.suspensions (a filter keeping only some meters) holds none of
     * it: a second binder of the same tags must still be refused, not handed the first's meters
     * (its tasks counted as the first scheduler's, its delays recorded into the first's timer).
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void aSecondBinderOfTheSameTags_isRefused_evenWhereAFilterDeniesSuspensions(String kind) {
        String name = kind + "-filtered-" + SEQ.incrementAndGet();
        MeterRegistry r = new SimpleMeterRegistry();
        r.config().meterFilter(io.micrometer.core.instrument.config.MeterFilter.denyNameStartsWith("coro4j.suspensions"));
        Scheduler first = Schedulers.create(kind, SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(first);
        CoroutineMetrics m = bound(first, r, 64);
        Scheduler second = Schedulers.create(kind, SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(second);
        CoroutineMetrics other = new CoroutineMetrics(second, 64);
        toClose.add(other);

        String refusal = "registry already has coro4j meters tagged " + m.tags()
                + ": each scheduler needs a distinct name (SchedulerConfig.name) and one binder";
        assertThatThrownBy(() -> other.bindTo(r)).isExactlyInstanceOf(IllegalStateException.class).hasMessage(refusal);
        assertThatThrownBy(() -> m.bindTo(r)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("this CoroutineMetrics is bound to this registry already (its meters tagged " + m.tags()
                        + " are there): bind a binder once per registry");
        m.close();
        assertThat(r.getMeters()).isEmpty();
        other.bindTo(r); // free again
        Coro.run(second, () -> 1);
        assertThat(counter(r, "coro4j.tasks.spawned", second)).isEqualTo(1);
    }

    /**
     * A bindTo that the registry fails half way (here a meter of another type under one of the
     * names) leaves nothing behind: no meter of this binder in that registry, and the scheduler's
     * scheduling-delay listener free, so that another binder of the scheduler can bind. Before,
     * coro4j.suspensions stayed registered (even after close()) and the listener stayed set, so the
     * next binder of the scheduler, to any registry, was refused as "a second binder".
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void aBindThatTheRegistryFailsHalfWay_leavesNoMeterAndNoListenerBehind(String kind) {
        Scheduler s = scheduler(kind);
        MeterRegistry r = new SimpleMeterRegistry();
        io.micrometer.core.instrument.Gauge.builder("coro4j.resumptions", () -> 1)
                .tag("scheduler", kind).tag("name", s.name()).register(r);
        CoroutineMetrics failed = new CoroutineMetrics(s, 64);
        toClose.add(failed);

        assertThatThrownBy(() -> failed.bindTo(r)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("coro4j.resumptions");
        assertThat(r.getMeters()).extracting(m -> m.getId().getName()).containsExactly("coro4j.resumptions");
        assertThat(s.schedulingDelays().isObserved()).as("the failed binder's listener").isFalse();
        MeterRegistry other = new SimpleMeterRegistry();
        bound(s, other, 64);
        Coro.run(s, () -> 1);
        assertThat(counter(other, "coro4j.tasks.spawned", s)).isEqualTo(1);
    }

    /**
     * A threadpool and a loom scheduler of one name, bound to one CompositeMeterRegistry that
     * publishes to a SimpleMeterRegistry and a Prometheus registry: each child reads each
     * scheduler's own counts (the kind tells them apart), the scrape parses line by line, and
     * closing the binders empties both children.
     */
    @Test
    void twoSchedulersOfOneNameAndBothKinds_throughACompositeRegistry_areCountedApart_andRemovedFromEveryChild() throws Exception {
        String name = "both-kinds-" + SEQ.incrementAndGet();
        Scheduler pool = Schedulers.create("threadpool", SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(pool);
        Scheduler loom = Schedulers.create("loom", SchedulerConfig.builder().name(name).parallelism(2).build());
        toClose.add(loom);
        io.micrometer.core.instrument.simple.SimpleMeterRegistry simple = new SimpleMeterRegistry();
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        io.micrometer.core.instrument.composite.CompositeMeterRegistry composite =
                new io.micrometer.core.instrument.composite.CompositeMeterRegistry();
        composite.add(simple);
        composite.add(prometheus);
        CoroutineMetrics poolMetrics = bound(pool, composite, 64);
        CoroutineMetrics loomMetrics = bound(loom, composite, 64);

        Coro.run(pool, () -> Coro.gather(IntStream.range(0, 3).mapToObj(i -> Coro.spawn(() -> i)).toList()));
        Coro.run(loom, () -> Coro.gather(IntStream.range(0, 5).mapToObj(i -> Coro.spawn(() -> i)).toList()));

        assertThat(counter(simple, "coro4j.tasks.spawned", pool)).isEqualTo(4);
        assertThat(counter(simple, "coro4j.tasks.spawned", loom)).isEqualTo(6);
        String scrape = prometheus.scrape();
        assertThat(scrape).contains(
                "coro4j_tasks_spawned_total{name=\"" + name + "\",scheduler=\"threadpool\"} 4",
                "coro4j_tasks_spawned_total{name=\"" + name + "\",scheduler=\"loom\"} 6");
        java.util.regex.Pattern sample = java.util.regex.Pattern.compile(
                "[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? \\S+");
        assertThat(scrape.lines().filter(l -> !l.isEmpty() && !l.startsWith("#")))
                .allSatisfy(l -> assertThat(l).matches(sample));

        poolMetrics.close();
        loomMetrics.close();
        assertThat(simple.getMeters()).isEmpty();
        assertThat(prometheus.getMeters()).isEmpty();
        assertThat(prometheus.scrape()).doesNotContain("coro4j_");
    }

    /**
     * A registry whose timers throw when they record (a broken registry or a bug in one: here an
     * AssertionError) must cost the samples, not the scheduler: the sampled delay is recorded on
     * carrier threads (threadpool: in a carrier's run loop, before the fiber it picked runs; loom:
     * in the fiber's own virtual thread, inside its park or before its body). Before, on
     * threadpool the throw ended the carrier thread and lost the fiber it had picked (its task
     * never ran again: the run hung); on loom it came out of a task's Coro.sleep as the task's
     * failure, or, at a fiber's start, left it counted live for good and its task never ending.
     * Now every task ends as it would unbound, the scheduler keeps running new tasks, nothing
     * stays live, and the registry's failure is reported once to the uncaught-exception handler.
     */
    @ParameterizedTest
    @ValueSource(strings = {"threadpool", "loom"})
    void aRegistryWhoseTimerThrowsOnRecord_costsTheSamplesOnly_notACarrierNorATask(String kind) throws Exception {
        // Not closed after the test as the others (close() waits for its fibers): a lost one would hang it.
        Scheduler s = Schedulers.create(kind, SchedulerConfig.builder()
                .name(kind + "-metrics-test-" + SEQ.incrementAndGet()).parallelism(2).build());
        AssertionError broken = new AssertionError("a broken registry");
        MeterRegistry r = new SimpleMeterRegistry() {
            @Override
            protected Timer newTimer(io.micrometer.core.instrument.Meter.Id id,
                                     io.micrometer.core.instrument.distribution.DistributionStatisticConfig config,
                                     io.micrometer.core.instrument.distribution.pause.PauseDetector pauseDetector) {
                return new io.micrometer.core.instrument.cumulative.CumulativeTimer(id, clock, config, pauseDetector,
                        TimeUnit.SECONDS) {
                    @Override
                    protected void recordNonNegative(long amount, TimeUnit unit) {
                        throw broken;
                    }
                };
            }
        };
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
        try {
            bound(s, r, 1); // every event sampled
            int tasks = 8;
            CompletableFuture<List<Integer>> run = CompletableFuture.supplyAsync(() -> Coro.run(s, () -> Coro.gather(
                    IntStream.range(0, tasks).mapToObj(i -> Coro.spawn(() -> {
                        for (int k = 0; k < 3; k++) {
                            Coro.sleep(Duration.ofMillis(1));
                            Coro.yieldNow();
                        }
                        return i;
                    })).toList())));
            assertThat(run.get(10, TimeUnit.SECONDS)).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
            assertThat(CompletableFuture.supplyAsync(() -> Coro.run(s, () -> Coro.spawn(() -> "still running").join()))
                    .get(10, TimeUnit.SECONDS)).isEqualTo("still running");
            awaitTrue(() -> s.stats().liveFibers() == 0);
            assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "completed")).isEqualTo(tasks + 3);
            assertThat(counter(r, "coro4j.tasks.ended", s, "outcome", "failed")).isZero();
            assertThat(reported).containsExactly(broken);
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
            s.shutdown();
        }
        assertThat(s.awaitTermination(Duration.ofSeconds(10))).as("terminated").isTrue();
    }

    private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("condition not met within 30 s");
            }
            Thread.sleep(5);
        }
    }
}
