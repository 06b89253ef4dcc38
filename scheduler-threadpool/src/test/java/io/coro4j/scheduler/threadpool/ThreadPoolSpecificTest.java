package io.coro4j.scheduler.threadpool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Generator;
import io.coro4j.tck.Stress;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Behaviour only the threadpool scheduler has: the JVM flag, pinning, configuration checks. */
class ThreadPoolSpecificTest {

    private final List<Scheduler> schedulers = new ArrayList<>();

    private Scheduler create(int parallelism) {
        Scheduler s = new ThreadPoolSchedulerProvider().create(SchedulerConfig.builder().parallelism(parallelism).build());
        schedulers.add(s);
        return s;
    }

    @AfterEach
    void close() {
        schedulers.forEach(Scheduler::close);
    }

    /** Runs {@link NoFlagMain} in a child JVM started without the --add-exports flag. */
    /**
     * {@code Thread.currentThread()} in a task is its carrier, which other tasks share: an
     * interrupt sent to it from another thread reaches the task running on it at that moment, not
     * the one that saw the thread and has suspended since (on loom, that task's own virtual
     * thread, it stays that task's).
     */
    @Test
    void anInterruptSentToACarrierFromAnotherThreadReachesTheTaskRunningThere() throws Exception {
        Scheduler s = create(1);
        List<Boolean> seen = io.coro4j.Coro.run(s, () -> {
            io.coro4j.channel.Event go = new io.coro4j.channel.Event();
            CompletableFuture<Thread> carrier = new CompletableFuture<>();
            CompletableFuture<Void> running = new CompletableFuture<>();
            io.coro4j.Task<Boolean> sawTheThread = io.coro4j.Coro.spawn(() -> {
                carrier.complete(Thread.currentThread());
                go.await();
                return Thread.currentThread().isInterrupted();
            });
            io.coro4j.Task<Boolean> runningThen = io.coro4j.Coro.spawn(() -> {
                running.complete(null); // it keeps the only carrier until it sees the interrupt
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!Thread.currentThread().isInterrupted()) {
                    if (System.nanoTime() - deadline > 0) {
                        return false;
                    }
                    Thread.onSpinWait();
                }
                return true;
            });
            io.coro4j.Coro.await(CompletableFuture.runAsync(() -> {
                running.join();
                carrier.join().interrupt();
            }));
            go.set();
            return List.of(sawTheThread.join(), runningThen.join(), Thread.currentThread().isInterrupted());
        });
        assertThat(seen).containsExactly(false, true, false);
    }

    /**
     * On one carrier, many tasks that keep yielding take turns in the order they were spawned,
     * round after round: each yield goes behind every fiber runnable then. More yielders than the
     * carrier first has room to note turns for (16), so that room grows while turns are pending.
     */
    @Test
    void manyTasksYieldingOnOneCarrierTakeTurnsRoundAfterRound() throws Exception {
        Scheduler s = create(1);
        int tasks = 100;
        int rounds = 5;
        List<Integer> order = io.coro4j.Coro.run(s, () -> {
            List<Integer> seen = java.util.Collections.synchronizedList(new ArrayList<>());
            List<io.coro4j.Task<Object>> all = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                int k = i;
                all.add(io.coro4j.Coro.spawn(() -> {
                    for (int r = 0; r < rounds; r++) {
                        seen.add(k);
                        io.coro4j.Coro.yieldNow();
                    }
                    return null;
                }));
            }
            io.coro4j.Coro.gather(all);
            return List.copyOf(seen);
        });
        List<Integer> expected = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < tasks; i++) {
                expected.add(i);
            }
        }
        assertThat(order).isEqualTo(expected);
    }

    /**
     * On one carrier, a fiber that yields waits for the fibers runnable then, and not for those
     * that become runnable after (asyncio's sleep(0)), also once more fibers have yielded than the
     * carrier first had room to note turns for (16), so that the room grew while their turns were
     * pending. Seventeen fibers each start a fiber and yield: the first one's yield came when the
     * other sixteen and the first started fiber were runnable, so it runs again right after that
     * started fiber, before the one the second fiber started after it had yielded.
     */
    @Test
    void aYieldWaitsOnlyForTheFibersRunnableThenAlsoWhenTheTurnsOfSeventeenYieldersGrowTheirRing() throws Exception {
        Scheduler s = create(1);
        int yielders = 17;
        List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(2 * yielders);
        s.start(() -> {
            for (int i = 0; i < yielders; i++) {
                int k = i;
                s.start(() -> {
                    s.start(() -> {
                        events.add("started by " + k);
                        done.countDown();
                    });
                    s.currentFiber().yieldNow();
                    events.add("yielder " + k + " again");
                    done.countDown();
                });
            }
        });
        assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(events.subList(0, 4)).as("all events: %s", events)
                .containsExactly("started by 0", "yielder 0 again", "started by 1", "started by 2");
    }

    /**
     * {@code checkCanSuspend()} on a fiber that can suspend does nothing: on one carrier, a fiber
     * runnable meanwhile does not run until the checking fiber parks or yields, and the permit and
     * the interrupt status are as they were (it used to yield every time, behind every runnable
     * fiber).
     */
    @Test
    void checkCanSuspendLetsNoOtherFiberRunAndLeavesThePermitAndTheInterruptStatus() throws Exception {
        Scheduler s = create(1);
        List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(2);
        s.start(() -> {
            Fiber self = s.currentFiber();
            s.start(() -> { // runnable on the one carrier from now on
                events.add("other ran");
                done.countDown();
            });
            self.unpark(); // the permit: the next park returns at once
            Thread.currentThread().interrupt();
            for (int i = 0; i < 3; i++) {
                self.checkCanSuspend();
            }
            events.add("checked, interrupted " + Thread.interrupted());
            self.park();
            events.add("park returned");
            self.yieldNow();
            events.add("yielded");
            done.countDown();
        });
        assertThat(done.await(30, TimeUnit.SECONDS)).as("events: %s", events).isTrue();
        assertThat(events).containsExactly("checked, interrupted true", "park returned", "other ran", "yielded");
    }

    /**
     * {@code Condition.await} checks that the task can suspend before it releases the lock; the
     * check lets no other task run: on one carrier, a task runnable when the await starts runs
     * only once the awaiting task waits on the condition, the lock released.
     */
    @Test
    void aConditionAwaitLetsNoOtherTaskRunBeforeItHasReleasedTheLock() {
        Scheduler s = create(1);
        List<Object> seen = io.coro4j.Coro.run(s, () -> {
            io.coro4j.channel.Condition cond = new io.coro4j.channel.Condition();
            cond.lock().lock();
            io.coro4j.Task<List<Object>> other = io.coro4j.Coro.spawn(() -> { // runs once this task suspends
                List<Object> then = List.of(cond.lock().isLocked(), cond.queueLength());
                cond.lock().lock();
                cond.signal();
                cond.lock().unlock();
                return then;
            });
            cond.await();
            cond.lock().unlock();
            return other.join();
        });
        assertThat(seen).containsExactly(false, 1);
    }

    /**
     * On one carrier, a fiber that yields waits for every fiber runnable then, whoever woke it: here
     * four fibers that the yielder itself woke (so woken by their own carrier) and one that a plain
     * thread woke, while plain threads go on waking fibers (each of the five, as it runs, has one
     * more woken from a plain thread before it ends). The yielder runs again only after the five.
     */
    @Test
    void aYieldWaitsForTheFibersWokenBeforeItByTheCarrierAndFromOtherThreadsAlike() throws Exception {
        Scheduler s = create(1);
        int n = 10; // 0-3 woken by the yielder, 4 from a plain thread, 5-9 from plain threads later
        List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        Fiber[] fibers = new Fiber[n];
        AtomicIntegerArray go = new AtomicIntegerArray(n);
        CountDownLatch done = new CountDownLatch(n + 1);
        for (int i = 0; i < n; i++) {
            int k = i;
            s.start(() -> { // from this thread: on one carrier, run in this order, each up to its park
                Fiber self = s.currentFiber();
                fibers[k] = self;
                while (go.get(k) == 0) {
                    self.park();
                }
                events.add("woken " + k);
                if (k < 5) {
                    wakeFromAPlainThread(fibers[5 + k], go, 5 + k);
                }
                done.countDown();
            });
        }
        s.start(() -> {
            for (int k = 0; k < 4; k++) {
                go.set(k, 1);
                fibers[k].unpark();
            }
            wakeFromAPlainThread(fibers[4], go, 4);
            s.currentFiber().yieldNow();
            events.add("yielder again");
            done.countDown();
        });
        assertThat(done.await(30, TimeUnit.SECONDS)).as("all events: %s", events).isTrue();
        List<String> all = List.copyOf(events);
        assertThat(all.subList(0, all.indexOf("yielder again"))).as("all events: %s", all)
                .contains("woken 0", "woken 1", "woken 2", "woken 3", "woken 4");
    }

    /**
     * A carrier's queue of woken fibers does not keep the room a burst took: once 10,000 fibers
     * woken at once from another thread have run, the queue, emptied, is made anew (an
     * {@code ArrayDeque} never shrinks; after a million sleepers it would keep 4 MB for good).
     */
    @Test
    void aCarriersQueueOfWokenFibersGivesBackTheRoomABurstTookOnceEmpty() throws Exception {
        Scheduler s = create(1);
        int n = Worker.WOKEN_KEPT + 5_904;
        Fiber[] fibers = new Fiber[n];
        AtomicIntegerArray go = new AtomicIntegerArray(n);
        CountDownLatch parked = new CountDownLatch(n);
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            int k = i;
            s.start(() -> {
                Fiber self = s.currentFiber();
                fibers[k] = self;
                parked.countDown();
                while (go.get(k) == 0) {
                    self.park();
                }
                done.countDown();
            });
        }
        assertThat(parked.await(30, TimeUnit.SECONDS)).isTrue();
        Worker carrier = ((ThreadPoolScheduler) s).workers[0];
        // Woken while the carrier is kept busy, so that they all wait in its queue at once.
        CountDownLatch busy = new CountDownLatch(1);
        CountDownLatch allWoken = new CountDownLatch(1);
        s.start(() -> {
            busy.countDown();
            try {
                allWoken.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(busy.await(30, TimeUnit.SECONDS)).isTrue();
        for (int k = 0; k < n; k++) {
            go.set(k, 1);
            fibers[k].unpark();
        }
        allWoken.countDown();
        assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int peak = -1;
        while (System.nanoTime() - deadline < 0 && (peak = carrier.wokenPeak) != 0) {
            Thread.sleep(1);
        }
        assertThat(peak).as("the most fibers the carrier's queue of woken ones held since it was made").isZero();
    }

    /** Sets {@code go[k]} and unparks {@code f} from a new plain thread, and waits for that thread. */
    private static void wakeFromAPlainThread(Fiber f, AtomicIntegerArray go, int k) {
        Thread t = Thread.ofPlatform().start(() -> {
            go.set(k, 1);
            f.unpark();
        });
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void withoutTheJvmFlagCreatingTheSchedulerFailsNamingTheFlag() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                NoFlagMain.class.getName())
                .redirectErrorStream(true)
                .start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(readAll(in), StandardCharsets.UTF_8);
        }
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).contains("IllegalStateException: scheduler-threadpool needs the JVM flag"
                + " --add-exports java.base/jdk.internal.vm=ALL-UNNAMED (java.base does not export jdk.internal.vm"
                + " to this code): add it to the java command line, or to Surefire's argLine / exec's arguments;"
                + " or use io.coro4j:scheduler-loom, which needs no flag");
        assertThat(out).contains("currentFiber without the flag: null");
        assertThat(p.exitValue()).isEqualTo(3);
    }

    /**
     * Starts {@code main} in a child JVM whose JIT compiles the JDK's {@code ScopedValue} binding
     * frames ({@code ScopedValueContainer}, {@code ScopedValue.Carrier}) with C2 before their first
     * call, and nothing else, so that what those compiled frames do does not depend on JIT timing.
     */
    private static Process withTheJdksBindingFramesCompiled(Class<?> main) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        return new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED",
                "-Xcomp", "-Xbatch", "-XX:-TieredCompilation", "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=compileonly,jdk.internal.vm.ScopedValueContainer::*",
                "-XX:CompileCommand=compileonly,java.lang.ScopedValue$Carrier::*",
                "-cp", System.getProperty("java.class.path"), main.getName())
                .redirectErrorStream(true)
                .start();
    }

    /** What {@code p} printed, once it has ended (within 60 s). */
    private static String outputOf(Process p) throws Exception {
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(readAll(in), StandardCharsets.UTF_8);
        }
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the child JVM ended within 60 s").isTrue();
        return out;
    }

    /**
     * A generator's continuation carries its frames from thread to thread, and the JDK's
     * {@code ScopedValue} binding frames, once C2 has compiled them, keep the thread they were
     * entered on to restore its bindings on the way out. So none of them may sit at the bottom of
     * a generator, where they last as long as the body: there they kept the thread that stepped
     * the generator first reachable while the generator waited suspended, stepped by others since
     * (the Thread and all it holds: its ThreadLocals). A child JVM compiles those JDK methods with
     * C2 before their first call, so that this does not depend on when the JIT gets to them.
     */
    @Test
    void aGeneratorKeepsNothingOfTheThreadThatSteppedItFirstOnceTheJdksBindingFramesAreCompiled() throws Exception {
        Process p = withTheJdksBindingFramesCompiled(FirstStepperMain.class);
        String out = outputOf(p);
        assertThat(out).contains("first stepper still reachable in 0 of 3 rounds");
        assertThat(p.exitValue()).isZero();
    }

    /** Entry point of the child JVM above. */
    public static final class FirstStepperMain {
        public static void main(String[] args) throws Exception {
            Scheduler s = new ThreadPoolSchedulerProvider().create(
                    SchedulerConfig.builder().name("first-stepper").parallelism(1).build());
            int rounds = 3;
            int reachable = 0;
            for (int r = 0; r < rounds; r++) {
                // The first stepper ends; the generator, stepped again here, waits suspended.
                Generator<Object, Object, Void> g = Generator.of(s, co -> {
                    while (true) {
                        co.yield(1);
                    }
                });
                Thread first = Thread.ofPlatform().unstarted(g::next);
                java.lang.ref.WeakReference<Thread> ref = new java.lang.ref.WeakReference<>(first);
                first.start();
                first.join();
                first = null;
                g.next();
                for (int i = 0; i < 50 && ref.get() != null; i++) {
                    System.gc();
                    Thread.sleep(10);
                }
                if (ref.get() != null) {
                    reachable++;
                }
                g.close();
            }
            s.close();
            System.out.println("first stepper still reachable in " + reachable + " of " + rounds + " rounds");
        }
    }

    /**
     * A binding a generator body yields inside, entered on one thread and ended on another, with the
     * JDK's binding frames compiled by C2 (as in the test above): the body sees its own value on
     * both, and the thread that ends it sees its own bindings afterwards, not the body's. (The
     * thread that entered it is what the README's limitation is about: not checked here.) A task's
     * binding across its suspensions stays the task's, and the task stays on its home carrier, so
     * the binding's frames end on the thread they were entered on.
     */
    @Test
    void aBindingABodyEndsOnAnotherThreadLeavesThatThreadItsOwnOnceTheJdksBindingFramesAreCompiled() throws Exception {
        Process p = withTheJdksBindingFramesCompiled(BodyBindingMain.class);
        String out = outputOf(p);
        assertThat(out).contains("[A's step: body, B's step: unbound, B after it: k=unbound k2=b, B outside: k=unbound k2=unbound]"
                + " x3");
        assertThat(out).contains("task steps on another carrier or with another value: 0 of 120");
        assertThat(p.exitValue()).isZero();
    }

    /** Entry point of the child JVM above. */
    public static final class BodyBindingMain {
        private static final java.lang.invoke.MethodHandle WHERE;
        private static final java.lang.invoke.MethodHandle RUN;
        private static final java.lang.invoke.MethodHandle IS_BOUND;
        private static final java.lang.invoke.MethodHandle GET;
        private static final java.lang.invoke.MethodHandle NEW;

        static {
            try {
                java.lang.invoke.MethodHandles.Lookup l = java.lang.invoke.MethodHandles.publicLookup();
                Class<?> sv = Class.forName("java.lang.ScopedValue");
                Class<?> carrier = Class.forName("java.lang.ScopedValue$Carrier");
                NEW = l.findStatic(sv, "newInstance", java.lang.invoke.MethodType.methodType(sv));
                WHERE = l.findStatic(sv, "where", java.lang.invoke.MethodType.methodType(carrier, sv, Object.class));
                RUN = l.findVirtual(carrier, "run", java.lang.invoke.MethodType.methodType(void.class, Runnable.class));
                IS_BOUND = l.findVirtual(sv, "isBound", java.lang.invoke.MethodType.methodType(boolean.class));
                GET = l.findVirtual(sv, "get", java.lang.invoke.MethodType.methodType(Object.class));
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private static void bind(Object key, Object value, Runnable op) {
            try {
                RUN.invoke(WHERE.invoke(key, value), op);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        private static Object valueOf(Object key) {
            try {
                return (boolean) IS_BOUND.invoke(key) ? GET.invoke(key) : "unbound";
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }

        public static void main(String[] args) throws Throwable {
            Scheduler s = new ThreadPoolSchedulerProvider().create(
                    SchedulerConfig.builder().name("body-binding").parallelism(2).build());
            Object k = NEW.invoke();
            Object k2 = NEW.invoke();
            List<String> rounds = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                Generator<Object, Object, Void> g = Generator.of(s, co -> {
                    bind(k, "body", () -> co.yield(valueOf(k)));
                    co.yield(valueOf(k));
                    return null;
                });
                List<String> seen = new ArrayList<>();
                Thread a = Thread.ofPlatform().start(() -> bind(k2, "a", () -> seen.add("A's step: " + g.next().value())));
                a.join();
                bind(k2, "b", () -> {
                    seen.add("B's step: " + g.next().value()); // the body's binding ends here, on this thread
                    seen.add("B after it: k=" + valueOf(k) + " k2=" + valueOf(k2));
                });
                seen.add("B outside: k=" + valueOf(k) + " k2=" + valueOf(k2));
                g.close();
                rounds.add(seen.toString());
            }
            System.out.println(rounds.stream().distinct()
                    .map(x -> x + " x" + java.util.Collections.frequency(rounds, x)).toList());
            int wrong = io.coro4j.Coro.run(s, () -> {
                AtomicInteger bad = new AtomicInteger();
                List<io.coro4j.Task<Void>> tasks = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    String mine = "task " + i;
                    tasks.add(io.coro4j.Coro.spawn(() -> {
                        bind(k, mine, () -> {
                            Thread home = Thread.currentThread();
                            for (int j = 0; j < 30; j++) {
                                if (j % 10 == 9) {
                                    io.coro4j.Coro.sleep(java.time.Duration.ofMillis(1));
                                } else {
                                    io.coro4j.Coro.yieldNow();
                                }
                                if (Thread.currentThread() != home || !mine.equals(valueOf(k))) {
                                    bad.incrementAndGet();
                                }
                            }
                        });
                        return null;
                    }));
                }
                for (io.coro4j.Task<Void> t : tasks) {
                    t.join();
                }
                return bad.get();
            });
            System.out.println("task steps on another carrier or with another value: " + wrong + " of 120");
            s.close();
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toByteArray();
    }

    /** Entry point of the child JVM above. */
    public static final class NoFlagMain {
        public static void main(String[] args) {
            System.out.println("currentFiber without the flag: " + new ThreadPoolSchedulerProvider().currentFiber());
            try {
                new ThreadPoolSchedulerProvider().create(SchedulerConfig.DEFAULT);
                System.out.println("created?!");
                System.exit(1);
            } catch (IllegalStateException e) {
                System.out.println(e);
                System.exit(3);
            }
        }
    }

    /** JDK 24 (JEP 491) lets a continuation yield while holding a monitor; older JDKs pin it. */
    private static final boolean MONITORS_SUSPEND = Runtime.version().feature() >= 24;

    @Test
    void aFiberParkedInsideSynchronizedKeepsTheMonitorOrFailsClearlyOnOldJdks() throws Exception {
        Scheduler s = create(1);
        Object lock = new Object();
        AtomicInteger go = new AtomicInteger();
        AtomicReference<Fiber> fiber = new AtomicReference<>();
        CountDownLatch parked = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean leaving = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<String> result = new CompletableFuture<>();
        s.start(() -> {
            Fiber self = s.currentFiber();
            fiber.set(self);
            try {
                synchronized (lock) {
                    parked.countDown();
                    while (go.get() == 0) {
                        self.park();
                    }
                    leaving.set(true);
                }
                result.complete("released");
            } catch (IllegalStateException e) {
                result.complete(e.getMessage());
            }
        });
        assertThat(parked.await(30, TimeUnit.SECONDS)).isTrue();
        if (!MONITORS_SUSPEND) {
            assertThat(result.get(30, TimeUnit.SECONDS)).isEqualTo("this fiber cannot suspend here (Pinned: MONITOR):"
                    + " on the threadpool scheduler a fiber cannot park while holding a monitor (inside synchronized)"
                    + " or under a native frame; use a coro4j lock instead of synchronized");
            return;
        }
        // The parked fiber still owns the monitor: another thread cannot take it until the fiber exits.
        CompletableFuture<String> contender = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            synchronized (lock) {
                contender.complete(leaving.get() ? "after the fiber" : "while the fiber held it");
            }
        });
        t.start();
        Thread.sleep(100);
        assertThat(contender.isDone()).isFalse();
        go.set(1);
        fiber.get().unpark();
        assertThat(result.get(30, TimeUnit.SECONDS)).isEqualTo("released");
        t.join(30_000);
        assertThat(contender.get(30, TimeUnit.SECONDS)).isEqualTo("after the fiber");
    }

    @Test
    void aGeneratorYieldingInsideSynchronizedKeepsTheMonitorAcrossThreadsOrFailsClearlyOnOldJdks() throws Exception {
        Scheduler s = create(1);
        Object lock = new Object();
        Generator<Boolean, Object, Boolean> g = Generator.of(s, co -> {
            synchronized (lock) {
                co.yield(Thread.holdsLock(lock));
                return Thread.holdsLock(lock);
            }
        });
        if (!MONITORS_SUSPEND) {
            assertThatThrownBy(g::next).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("generator cannot yield here (Pinned: MONITOR): on the threadpool scheduler a body"
                            + " cannot yield while holding a monitor (inside synchronized) or under a native frame");
            return;
        }
        assertThat(g.next().value()).isTrue();
        assertThat(Thread.holdsLock(lock)).as("the resumer does not own the body's monitor").isFalse();
        CompletableFuture<Boolean> elsewhere = CompletableFuture.supplyAsync(() -> g.next().returnValue(),
                r -> new Thread(r, "other-resumer").start());
        assertThat(elsewhere.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(g.isDone()).isTrue();
    }

    /**
     * A fiber started from a carrier goes to that carrier's local queue; while the carrier is busy
     * (here: a fiber that spins without parking), only another carrier stealing it can run it.
     */
    @Test
    void anIdleCarrierStealsAFiberQueuedBehindABusyOne() throws Exception {
        Scheduler s = create(2);
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
        assertThat(ranWhileParentSpun.get(30, TimeUnit.SECONDS))
                .as("the child ran on the other carrier while its parent's carrier was busy").isTrue();
        assertThat(s.stats().steals()).isEqualTo(1);
    }

    /**
     * Two spawners on four carriers start fibers into their own local queues and keep their
     * carriers busy meanwhile, so that the other carriers steal (or take the overflow from the
     * global queue): every fiber runs exactly once, and the counts add up at quiescence.
     */
    @Test
    void stealingNeverRunsAFiberTwiceNorLosesOne() throws Exception {
        Scheduler s = create(4);
        int n = Stress.scaled(400_000);
        int spawners = 2;
        AtomicIntegerArray runs = new AtomicIntegerArray(n);
        CountDownLatch all = new CountDownLatch(n);
        AtomicInteger next = new AtomicInteger();
        for (int k = 0; k < spawners; k++) {
            s.start(() -> {
                int i;
                while ((i = next.getAndIncrement()) < n) {
                    int id = i;
                    s.start(() -> {
                        runs.incrementAndGet(id);
                        if ((id & 7) == 0) {
                            s.currentFiber().yieldNow(); // a second run from the inbox, not a second start
                        }
                        all.countDown();
                    });
                    if ((i & 127) == 0) {
                        long until = System.nanoTime() + 200_000; // busy, not parked: only thieves drain our queue
                        while (System.nanoTime() - until < 0) {
                            Thread.onSpinWait();
                        }
                    }
                }
            });
        }
        assertThat(all.await(120, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < n; i++) {
            if (runs.get(i) != 1) {
                assertThat(runs.get(i)).as("runs of fiber %d", i).isEqualTo(1);
            }
        }
        s.close();
        assertThat(s.stats().fibersStarted()).isEqualTo(n + spawners);
        assertThat(s.stats().fibersCompleted()).isEqualTo(n + spawners);
        assertThat(s.stats().liveFibers()).isZero();
        assertThat(s.stats().parkedFibers()).isZero();
        assertThat(s.stats().queueDepth()).isZero();
    }

    /**
     * Carriers exit at a shutdown with no fiber live even while a timer action runs: the last one
     * stops the timer thread without waiting for the action (it used to wait up to a minute).
     */
    @Test
    void carriersExitAtShutdownWithoutWaitingForARunningTimerAction() throws Exception {
        Scheduler s = new ThreadPoolSchedulerProvider().create(SchedulerConfig.builder().name("slow-timer").parallelism(2).build());
        schedulers.add(s);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        s.schedule(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, 0, TimeUnit.MILLISECONDS);
        try {
            assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
            s.shutdown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (carriersAlive("slow-timer") > 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(carriersAlive("slow-timer")).as("carriers alive while the timer action runs").isZero();
            assertThat(s.isTerminated()).as("terminated while the timer action runs").isFalse();
        } finally {
            release.countDown();
        }
        assertThat(s.awaitTermination(java.time.Duration.ofSeconds(30))).isTrue();
    }

    /**
     * A carrier that cannot start (no memory or process limit left for a thread: an
     * {@link OutOfMemoryError} from {@link Thread#start()}) fails the creation with that error, and
     * the carriers started before it end: the caller never gets the scheduler, so nothing could
     * shut them down, and as non-daemon threads they would keep the JVM from exiting.
     */
    @Test
    void aCarrierThatCannotStartFailsTheCreationAndLeavesNoCarrierRunning() throws Exception {
        OutOfMemoryError noThread = new OutOfMemoryError("unable to create native thread (test)");
        AtomicInteger starts = new AtomicInteger();
        SchedulerConfig config = SchedulerConfig.builder().name("half-started").parallelism(4).daemon(false).build();
        assertThatThrownBy(() -> new ThreadPoolScheduler(config, t -> {
            if (starts.incrementAndGet() > 2) {
                throw noThread;
            }
            t.start();
        })).isSameAs(noThread);
        assertThat(starts.get()).isEqualTo(3);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (carriersAlive("half-started") > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(carriersAlive("half-started")).as("carriers alive 10 s after the failed creation").isZero();
    }

    /**
     * A carrier puts each fiber's context class loader on before running it; once the fiber has
     * run, an idle carrier must not keep that loader: a carrier can stay idle for the scheduler's
     * life (the JVM's, for the default scheduler) and would pin the loader of the last fiber it
     * ran, an undeployed application's, say.
     */
    @Test
    void anIdleCarrierKeepsNoContextClassLoaderOfTheFiberItRanLast() throws Exception {
        Scheduler s = new ThreadPoolSchedulerProvider().create(SchedulerConfig.builder().name("idle-loader").parallelism(1).build());
        schedulers.add(s);
        ClassLoader fibersLoader = new java.net.URLClassLoader("fiber's loader", new java.net.URL[0],
                getClass().getClassLoader());
        CompletableFuture<ClassLoader> seen = new CompletableFuture<>();
        Thread starter = Thread.ofPlatform().unstarted(() -> s.start(() -> seen.complete(Thread.currentThread().getContextClassLoader())));
        starter.setContextClassLoader(fibersLoader);
        starter.start();
        starter.join(30_000);
        assertThat(seen.get(30, TimeUnit.SECONDS)).as("the fiber's own loader while it runs").isSameAs(fibersLoader);
        Thread carrier = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("coro4j-idle-loader-carrier-0")).findFirst().orElseThrow();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (carrier.getContextClassLoader() == fibersLoader && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(carrier.getContextClassLoader()).as("the idle carrier's loader 10 s after the fiber ran")
                .isSameAs(ClassLoader.getSystemClassLoader());
    }

    private static long carriersAlive(String schedulerName) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("coro4j-" + schedulerName + "-carrier-")).count();
    }

    @Test
    void carrierThreadsAreNamedAndCountedByParallelism() {
        Scheduler s = new ThreadPoolSchedulerProvider().create(SchedulerConfig.builder().name("named").parallelism(3).build());
        schedulers.add(s);
        long carriers = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("coro4j-named-carrier-")).count();
        assertThat(carriers).isEqualTo(3);
        assertThat(s.kind()).isEqualTo("threadpool");
        assertThat(s.name()).isEqualTo("named");
        assertThat(s.toString()).isEqualTo("ThreadPoolScheduler[named, carriers=3, live=0]");
    }

    /**
     * The README's "once a task has run, it stays on its carrier": fibers parked and woken by the
     * timer thread, many at once on two carriers, go on each time on the carrier they first ran on
     * (the carrier's name is read in a method of its own, afresh after each park).
     */
    @Test
    void aFiberThatHasRunGoesOnOnTheCarrierItFirstRanOn() throws Exception {
        Scheduler s = create(2);
        int fibers = 32;
        int parks = 300;
        List<CompletableFuture<List<String>>> results = new ArrayList<>();
        for (int i = 0; i < fibers; i++) {
            CompletableFuture<List<String>> r = new CompletableFuture<>();
            results.add(r);
            s.start(() -> {
                Fiber self = s.currentFiber();
                String first = carrierName();
                List<String> moved = new ArrayList<>();
                for (int k = 0; k < parks; k++) {
                    s.schedule(self::unpark, 0, TimeUnit.NANOSECONDS);
                    self.park();
                    String now = carrierName();
                    if (!now.equals(first)) {
                        moved.add(first + " -> " + now);
                    }
                }
                r.complete(moved);
            });
        }
        List<String> moved = new ArrayList<>();
        for (CompletableFuture<List<String>> r : results) {
            moved.addAll(r.get(60, TimeUnit.SECONDS));
        }
        assertThat(moved).as("resumptions on another carrier").isEmpty();
        assertThat(s.stats().suspensions()).as("parks that suspended").isPositive();
    }

    /**
     * On one carrier, fibers that the carrier's own fibers wake (here a ping-pong between two tasks,
     * which always has one of them woken so) do not shut out fibers woken from other threads (here
     * a task waiting for events that a plain thread sets): both kinds run in the order they were
     * woken. The ping-pong stops by itself after 20 s, so that a carrier that never took the other
     * kind fails this test instead of hanging it.
     */
    @Test
    void fibersWokenByTheirOwnCarrierDoNotShutOutFibersWokenFromOtherThreads() throws Exception {
        Scheduler s = create(1);
        int waits = Stress.scaled(200);
        long pingPongDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        List<Object> outcome = io.coro4j.Coro.run(s, () -> {
            io.coro4j.channel.Channel<Integer> there = io.coro4j.channel.Channel.rendezvous();
            io.coro4j.channel.Channel<Integer> back = io.coro4j.channel.Channel.rendezvous();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            AtomicInteger roundTrips = new AtomicInteger();
            io.coro4j.Task<Object> ping = io.coro4j.Coro.spawn(() -> {
                while (!stop.get() && System.nanoTime() - pingPongDeadline < 0) {
                    there.send(1);
                    back.receive();
                    roundTrips.incrementAndGet();
                }
                there.close();
                return null;
            });
            io.coro4j.Coro.spawn(() -> {
                for (Integer x : there) {
                    back.send(x);
                }
                return null;
            });
            int seenDuringPingPong = 0;
            for (int i = 0; i < waits; i++) {
                io.coro4j.channel.Event set = new io.coro4j.channel.Event();
                Thread.ofPlatform().start(set::set);
                set.await();
                if (!ping.isDone()) {
                    seenDuringPingPong++;
                }
            }
            stop.set(true);
            ping.join();
            return List.of(seenDuringPingPong, roundTrips.get() > 0);
        });
        assertThat(outcome).as("event waits that ended while the ping-pong went on; whether it went on")
                .containsExactly(waits, true);
    }

    private static String carrierName() {
        return Thread.currentThread().getName();
    }
}
