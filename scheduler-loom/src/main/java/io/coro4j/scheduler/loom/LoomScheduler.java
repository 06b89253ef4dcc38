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
 * continuation mount. A generator abandoned while suspended keeps its virtual thread parked (the
 * JDK tracks virtual threads for thread dumps), so close generators you do not run to the end.
 *
 * <p>The scheduler owns one platform thread, its timer; it ends when the scheduler terminates.
 */
final class LoomScheduler implements Scheduler {

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    /** What the current virtual thread runs: a {@link LoomFiber} or a {@link LoomCoroutine}'s body. */
    private static final ThreadLocal<Object> CURRENT = new ThreadLocal<>();

    final String name;
    private final ThreadFactory fiberThreads;
    final ThreadFactory coroutineThreads;
    private final TimerThread timer;
    private final AtomicLong live = new AtomicLong();
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
    /** Generator resumptions and the ones that ended the body; counted by the resumer. */
    final StripedCounter coroutineResumptions = new StripedCounter();
    final StripedCounter coroutineCompletions = new StripedCounter();
    private final StripedCounter started = new StripedCounter();
    private final StripedCounter completed = new StripedCounter();
    private final TaskCounters taskCounters = new TaskCounters();
    final SchedulingDelays delays = new SchedulingDelays();
    private final SchedulerStats stats = new SchedulerStats() {
        @Override
        public long suspensions() {
            return suspensions.sum() + coroutineResumptions.sum() - coroutineCompletions.sum();
        }

        @Override
        public long resumptions() {
            return resumptions.sum() + coroutineResumptions.sum();
        }

        @Override
        public long fibersStarted() {
            return started.sum();
        }

        @Override
        public long fibersCompleted() {
            return completed.sum();
        }

        @Override
        public long liveFibers() {
            return live.get();
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
        this.fiberThreads = Thread.ofVirtual().name("coro4j-" + name + "-fiber").factory();
        this.coroutineThreads = Thread.ofVirtual().name("coro4j-" + name + "-generator-", 0).factory();
        this.timer = new TimerThread(name, config.daemon());
    }

    static Fiber current() {
        Object o = CURRENT.get();
        if (o instanceof LoomFiber f) {
            return f;
        }
        if (o instanceof LoomCoroutine c) {
            return c.owner;
        }
        return null;
    }

    static void setCurrent(Object fiberOrCoroutine) {
        CURRENT.set(fiberOrCoroutine);
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
        live.incrementAndGet();
        if (shutdown) {
            fiberEnded();
            throw new RejectedExecutionException("scheduler \"" + name + "\" is shut down: it accepts no new fibers");
        }
        LoomFiber fiber = new LoomFiber(this);
        Thread thread = fiberThreads.newThread(() -> {
            CURRENT.set(fiber);
            fiber.ranAfterRunnable();
            try {
                body.run();
            } catch (Throwable t) {
                Thread self = Thread.currentThread();
                self.getUncaughtExceptionHandler().uncaughtException(self, t);
            } finally {
                fiber.ended();
                completed.increment();
                fiberEnded();
            }
        });
        started.increment();
        if (delays.sampleNow()) {
            fiber.runnableSince = System.nanoTime();
        }
        thread.start();
        return fiber;
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

    private void fiberEnded() {
        if (live.decrementAndGet() == 0 && shutdown) {
            terminate();
        }
    }

    private void terminate() {
        if (terminating.compareAndSet(false, true)) {
            timer.terminate();
            terminated.countDown();
        }
    }

    @Override
    public void shutdown() {
        shutdown = true;
        if (live.get() == 0) {
            terminate();
        }
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return terminated.getCount() == 0;
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void close() {
        if (currentFiber() != null) {
            throw new IllegalStateException("close() called from fiber code of scheduler \"" + name
                    + "\": it would wait for its own fiber to end; call shutdown() instead");
        }
        Scheduler.super.close();
    }

    @Override
    public String toString() {
        return "LoomScheduler[" + name + ", live=" + live.get() + (shutdown ? ", shut down" : "") + "]";
    }
}
