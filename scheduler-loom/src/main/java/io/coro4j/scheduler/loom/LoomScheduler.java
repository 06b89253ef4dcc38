package io.coro4j.scheduler.loom;

import io.coro4j.spi.Coroutine;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.SchedulerStats;
import io.coro4j.spi.SchedulingDelays;
import io.coro4j.spi.StripedCounter;
import io.coro4j.spi.TaskCounters;
import io.coro4j.spi.Timeout;
import io.coro4j.spi.TimerThread;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A scheduler whose fibers are JDK virtual threads, run by the JDK's own virtual-thread scheduler.
 *
 * <p>A fiber ({@link LoomFiber}) is one virtual thread; park and unpark are
 * {@link java.util.concurrent.locks.LockSupport}'s on whichever virtual thread runs the fiber's
 * code. A generator's coroutine ({@link LoomCoroutine}) is a second virtual thread that the
 * resuming thread hands control to and waits for; code in it counts as running in the resumer's
 * fiber, so a generator body that parks suspends the whole fiber, as on the threadpool scheduler.
 *
 * <p>Blocking JDK calls inside a fiber are fine: the virtual thread unmounts. The cost against
 * the threadpool scheduler is the generator hand-over: a thread switch per resumption instead of a
 * continuation mount. A generator's virtual thread references the generator's state but not the
 * {@link io.coro4j.Generator} the user holds, so the JDK's tracking of virtual threads (for thread
 * dumps) does not keep an abandoned generator reachable, and the API can close it for the user.
 *
 * <p>A fiber's virtual thread has its {@link LoomFiber} as its uncaught-exception handler: that is
 * how {@link #current()} finds the running fiber without a ThreadLocal. The fiber passes an escaping
 * exception on to the thread's group, as the JDK does for a thread without a handler; fiber code
 * must not replace the handler (coro4j calls then fail with an {@link IllegalStateException} saying so).
 *
 * <p>The scheduler owns one platform thread, its timer; it ends when the scheduler terminates.
 */
final class LoomScheduler implements Scheduler {

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    final String name;
    private final ThreadFactory fiberThreads;
    final ThreadFactory coroutineThreads;
    private final TimerThread timer;
    /** Starts that were counted in {@link #started} but then refused or failed; rare, so one atomic. */
    private final AtomicLong refused = new AtomicLong();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final AtomicBoolean terminating = new AtomicBoolean();
    private volatile boolean shutdown;

    /**
     * Fiber parks and the resumptions after them; their difference is the number of parked fibers.
     * {@link StripedCounter}s, not LongAdders, here and for the counters below that a fiber's own
     * frames update: C2 compiles {@code LongAdder.add} assuming it has never been contended
     * ({@code cells} null), and each fiber suspended in a frame compiled that way hits that trap
     * and is deoptimized when it resumes after contention began: 42,773 deoptimizations in three
     * shots of 300,000 sleepers, a third of the carriers' time. Nor one AtomicLong, which every
     * carrier would contend on.
     */
    final StripedCounter suspensions = new StripedCounter();
    final StripedCounter resumptions = new StripedCounter();
    /**
     * Generator resumptions that ended in a suspension, and those that ended the body; counted by
     * the resumer. Every resumption is one or the other.
     */
    final StripedCounter coroutineSuspensions = new StripedCounter();
    final StripedCounter coroutineCompletions = new StripedCounter();
    private final StripedCounter started = new StripedCounter();
    /**
     * Starts that went through: what {@code fibersStarted()} reports. Not {@code started} less
     * {@code refused}: a reading between a start counted and its refusal counted would be one too
     * high, and the next one lower, and a total must never go down.
     */
    private final StripedCounter accepted = new StripedCounter();
    private final StripedCounter completed = new StripedCounter();
    private final TaskCounters taskCounters = new TaskCounters();
    final SchedulingDelays delays = new SchedulingDelays();
    private final SchedulerStats stats = new SchedulerStats() {
        @Override
        public long suspensions() {
            return suspensions.sum() + coroutineSuspensions.sum();
        }

        @Override
        public long resumptions() {
            return resumptions.sum() + coroutineSuspensions.sum() + coroutineCompletions.sum();
        }

        @Override
        public long fibersStarted() {
            return accepted.sum();
        }

        @Override
        public long fibersCompleted() {
            return completed.sum();
        }

        @Override
        public long liveFibers() {
            return Math.max(0, live());
        }

        @Override
        public long parkedFibers() {
            return Math.max(0, suspensions.sum() - resumptions.sum());
        }
    };

    LoomScheduler(SchedulerConfig config) {
        this.name = config.name() != null ? config.name() : "loom-" + INSTANCES.incrementAndGet();
        // One name for all fiber threads, without a counter: a numbered name costs a string per
        // fiber (13% of the bytes allocated by a million sleepers); tasks have names of their own.
        // Without the starter's inheritable thread locals: a task on threadpool runs on a carrier
        // made before and sees none of its spawner's (nor of the thread calling Coro.run), and
        // CoroutineLocals are what follows spawn on both. Not inheriting them, the JDK starts the
        // thread with the system class loader: start() gives it the starter's, as a task's own.
        this.fiberThreads = Thread.ofVirtual().name(THREAD_NAME_PREFIX + name + FIBER_THREAD_SUFFIX)
                .inheritInheritableThreadLocals(false).factory();
        this.coroutineThreads = Thread.ofVirtual().name(THREAD_NAME_PREFIX + name + GENERATOR_THREAD_INFIX, 0).factory();
        this.timer = new TimerThread(name, config.daemon());
        if (!config.daemon()) {
            // The fibers, virtual threads, are daemon threads: the timer thread, started now
            // rather than by the first timer, keeps the JVM alive until this scheduler terminates,
            // as threadpool's carriers do.
            timer.startThread();
        }
    }

    /**
     * The fiber the calling code runs in, or null. A fiber's virtual thread carries its
     * {@link LoomFiber} (a generator's thread its {@link LoomCoroutine}) as its uncaught-exception
     * handler, a field every thread has: a ThreadLocal would add a map, a table and a weak entry
     * (136 bytes) to every fiber, 11% of a sleeping task's heap.
     */
    static Fiber current() {
        Thread self = Thread.currentThread();
        Thread.UncaughtExceptionHandler h = self.getUncaughtExceptionHandler();
        if (h instanceof LoomFiber f) {
            return f;
        }
        if (h instanceof LoomCoroutine c) {
            return c.owner;
        }
        if (self.isVirtual() && isFiberThreadName(self.getName())) {
            throw new IllegalStateException("the uncaught-exception handler of this fiber's virtual thread (\""
                    + self.getName() + "\") was replaced: the loom scheduler finds the running fiber through it;"
                    + " do not call Thread.setUncaughtExceptionHandler from fiber code (an exception that escapes"
                    + " a fiber goes to the default handler)");
        }
        return null;
    }

    private static final String THREAD_NAME_PREFIX = "coro4j-";
    private static final String FIBER_THREAD_SUFFIX = "-fiber";
    private static final String GENERATOR_THREAD_INFIX = "-generator-";

    /** Whether a thread of this name is one a loom scheduler made for a fiber or a generator body. */
    private static boolean isFiberThreadName(String name) {
        return name.startsWith(THREAD_NAME_PREFIX)
                && (name.endsWith(FIBER_THREAD_SUFFIX) || name.contains(GENERATOR_THREAD_INFIX));
    }

    @Override
    public String kind() {
        return LoomSchedulerProvider.NAME;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Fiber start(Runnable body) {
        Objects.requireNonNull(body, "body");
        if (shutdown) {
            throw new RejectedExecutionException("scheduler \"" + name + "\" is shut down: it accepts no new fibers");
        }
        // Counted before the second look at the flag, so that shutdown() either sees this fiber
        // live or this start sees the flag (both are volatile accesses).
        started.increment();
        if (shutdown) {
            refuse();
            throw new RejectedExecutionException("scheduler \"" + name + "\" is shut down: it accepts no new fibers");
        }
        LoomFiber fiber = new LoomFiber(this, body);
        try {
            Thread thread = fiberThreads.newThread(fiber);
            thread.setContextClassLoader(Thread.currentThread().getContextClassLoader());
            thread.setUncaughtExceptionHandler(fiber);
            if (delays.sampleNow()) {
                fiber.runnableSince = System.nanoTime();
            }
            thread.start();
        } catch (Throwable t) { // OutOfMemoryError: unable to create a thread
            refuse();
            throw t;
        }
        accepted.increment();
        if (ThreadLocalRandom.current().nextInt(STARTS_PER_TIMED_YIELD) == 0
                && Thread.currentThread().getUncaughtExceptionHandler() instanceof LoomFiber starter) {
            starter.giveWayToWokenFibers();
        }
        return fiber;
    }

    /**
     * How many fibers (one in, at random) a fiber starts before it gives its carrier up through the
     * timer ({@link LoomFiber#giveWayToWokenFibers}). A virtual thread started by a virtual thread
     * goes to its carrier's own queue, one the timer woke to the pool's external queue; on JDK 25 a
     * task that spawned without suspending kept the carriers on what it started, and the woken
     * fibers waited until its loop ended (measured: of 200,000 tasks sleeping 1 ms spawned in one
     * loop, 0 to 65,000 had ended when it did, against 182,000 to 195,000 with this; a million
     * 10 ms sleepers took 2.2 to 3.4 s in about half of the shots, all alive on the heap, against
     * 0.6 to 0.8 s when the wake-ups ran meanwhile). At random so that the fiber carries no counter (a field of every task); one
     * in 4096 costs about 3 ns a start on average (a timed park is about 10 us).
     */
    static final int STARTS_PER_TIMED_YIELD = 4096;

    private void refuse() {
        refused.incrementAndGet();
        fiberEnded();
    }

    @Override
    public Fiber currentFiber() {
        Fiber f = current();
        return f != null && f.scheduler() == this ? f : null;
    }

    @Override
    public Coroutine newCoroutine(Runnable body) {
        Objects.requireNonNull(body, "body");
        return new LoomCoroutine(this, body);
    }

    @Override
    public Timeout schedule(Runnable action, long delay, TimeUnit unit) {
        return timer.schedule(action, delay, unit);
    }

    /** Fibers are virtual threads: a blocking call unmounts them instead of holding a carrier. */
    @Override
    public boolean runsBlockingCallsInPlace() {
        return true;
    }

    @Override
    public SchedulerStats stats() {
        return stats;
    }

    @Override
    public TaskCounters taskCounters() {
        return taskCounters;
    }

    @Override
    public SchedulingDelays schedulingDelays() {
        return delays;
    }

    /** Called on a fiber's thread when its body has returned or thrown. */
    void fiberCompleted() {
        completed.increment();
        fiberEnded();
    }

    /**
     * Terminates if this was the last live fiber of a shut-down scheduler. Live fibers are counted
     * by striped counters, not one atomic that every start and end would contend on: the fiber
     * whose end is counted last sees every start and end in the sums, and so does
     * {@link #shutdown()} for the ends counted before it set the flag.
     */
    private void fiberEnded() {
        if (shutdown && live() == 0) {
            terminate();
        }
    }

    /**
     * Started, less ended, fibers. The ends are read before the starts: every end was counted after
     * its own start, so an end seen here always has its start seen too, and a racing start can
     * only make the result too high, never a false zero.
     */
    private long live() {
        long ended = refused.get() + completed.sum();
        return started.sum() - ended;
    }

    private void terminate() {
        if (terminating.compareAndSet(false, true)) {
            timer.terminate();
            terminated.countDown();
        }
    }

    @Override
    public void shutdown() {
        Scheduler.refuseShutdownOfTheDefault(this);
        shutdown = true;
        if (live() == 0) {
            terminate();
        }
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    /**
     * The timer thread counts too: a timer action that shut the scheduler down with no fiber live
     * terminated it on that thread, which goes on running the action.
     */
    @Override
    public boolean isTerminated() {
        return terminated.getCount() == 0 && timer.hasEnded();
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        long nanos = Math.max(0, TimerThread.saturatedNanos(timeout));
        long deadline = System.nanoTime() + nanos;
        return terminated.await(nanos, TimeUnit.NANOSECONDS) && timer.awaitEnd(deadline - System.nanoTime());
    }

    @Override
    public void close() {
        Scheduler.refuseShutdownOfTheDefault(this); // first: the plainest refusal
        if (currentFiber() != null) {
            throw new IllegalStateException("close() called from fiber code of scheduler \"" + name
                    + "\": it would wait for its own fiber to end; call shutdown() instead");
        }
        if (timer.isTimerThread(outermostResumer())) {
            throw timer.closeFromTimerAction();
        }
        Scheduler.super.close();
    }

    /**
     * The thread whose code the caller runs as part of: the caller's own, or, for a generator
     * body, which runs on a virtual thread of its own while its resumer waits, the resumer's (and
     * so on out, for a generator resumed from another one's body). A body that a timer action
     * resumed is that action's code, as it is on the threadpool scheduler, whose bodies run on the
     * resumer's thread: waiting for termination there would wait for the timer thread, which
     * waits for the body.
     */
    private static Thread outermostResumer() {
        Thread t = Thread.currentThread();
        while (t != null && t.getUncaughtExceptionHandler() instanceof LoomCoroutine c) {
            t = c.resumer();
        }
        return t;
    }

    @Override
    public String toString() {
        return "LoomScheduler[" + name + ", live=" + live() + (shutdown ? ", shut down" : "") + "]";
    }
}
