package io.coro4j.scheduler.threadpool;

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
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jctools.queues.MpmcUnboundedXaddArrayQueue;

/**
 * A scheduler whose fibers are {@code jdk.internal.vm.Continuation}s run by a fixed set of carrier
 * threads it owns.
 *
 * <h2>Structure</h2>
 * {@link #workers} are N platform threads ({@link SchedulerConfig#parallelism()}, default: the
 * number of processors). A fiber ({@link ContinuationFiber}) wraps a continuation of
 * {@link Continuations#FIBER_SCOPE}; a carrier "runs" it by mounting the continuation until the
 * fiber parks (yields that scope) or ends. A generator's coroutine ({@link ContinuationCoroutine})
 * is a continuation of {@link Continuations#GENERATOR_SCOPE}, run on whichever thread resumes it;
 * inside a fiber it nests in the fiber's continuation, so a generator body that parks the fiber
 * suspends both, and both may continue on another carrier.
 *
 * <h2>Scheduling policy</h2>
 * A fiber that has not run yet goes to the starting carrier's local queue ({@link Worker#local},
 * JCTools {@code SpmcArrayQueue}: only the owning carrier offers, the owner and thieves poll;
 * overflow goes global) or, when started from any other thread, to the injection queue
 * {@link #global} (JCTools {@code MpmcUnboundedXaddArrayQueue}: any thread offers, any carrier
 * polls). Idle carriers steal such fibers from each other.
 *
 * <p>Once a fiber has run, it stays on that carrier, its home: a woken fiber goes to its home's
 * {@link Worker#inbox} (JCTools {@code MpscUnboundedXaddArrayQueue}: any thread wakes a fiber,
 * only its carrier polls), or, woken by its home carrier itself, straight to the plain queue of that
 * carrier's own into which it drains its inbox (one FIFO of woken fibers), which needs no atomic
 * instruction. The reason is the JIT, not taste: C2 treats
 * {@code Thread.currentThread()} as invariant within a compiled method, so a frame that parked on
 * one carrier and continued on another can go on using the first carrier's {@code Thread} (and
 * its ThreadLocals, while that carrier uses them too). We saw our own identity check fail that way
 * within seconds under C2 when fibers migrated. With a fixed home, a fiber only ever sees its own
 * carrier; the cost is that started fibers are not rebalanced, only new ones.
 *
 * <p>What the JDK keeps per {@code Thread} for code is the carrier's here, so a carrier hands it
 * from fiber to fiber: the interrupt status and context class loader are the fiber's, put on the
 * carrier before each run and taken back after ({@link OwnThreadState}); {@code ScopedValue}
 * bindings are left for each fiber to find on its own stack ({@link ScopedValueBindings}).
 * {@code ThreadLocal}s stay the carrier's.
 *
 * <p>A carrier takes woken fibers first (first woken, first taken; finishing started fibers keeps
 * few in flight), then its local queue and the global queue, then steals; one pick in 16 starts
 * with the queues of new fibers, so that fibers woken over and over cannot starve them. A fiber that calls
 * {@code yieldNow} goes behind every fiber runnable on its carrier at that moment, new ones
 * included (asyncio's {@code sleep(0)}), in a queue of the carrier's own ({@code Worker.yielded}).
 * With N = 1 this is a single-threaded event loop; fibers started from it run in FIFO order while
 * no more than 256 wait to start (the size of a carrier's own queue: more spill over into the
 * global queue, whose fibers the carrier interleaves with its own).
 *
 * <h2>Idle carriers</h2>
 * A carrier that finds no work parks ({@link LockSupport#park}) instead of spinning. The wake-up
 * protocol is a Dekker handshake: the idle carrier increments {@link #idle}, then raises its
 * parked flag and issues a full fence before looking at the queues one last time; a producer offers
 * to a queue, issues a full fence, then reads {@link #idle} and, if non-zero, claims one parked
 * carrier by CAS on its flag (taking it out of the count) and unparks it. Either the carrier sees
 * the new work or the producer sees the carrier, so no wake-up is lost. The count comes before the
 * flag so that it is never lower than the carriers that can be claimed: the other way round, a
 * producer could claim a carrier not yet counted, and the next producer read the count as zero
 * while another carrier slept.
 *
 * <h2>Lifecycle</h2>
 * {@link #shutdown()} refuses new fibers; carriers exit once no fiber is live ({@link #live} is
 * zero) and the queues are empty. The last carrier stops the timer thread, without waiting for an
 * action it may be running; the scheduler has terminated once that thread has ended too.
 *
 * <h2>Costs</h2>
 * A fiber blocking in a JDK call (I/O, {@code Thread.sleep}, a contended {@code synchronized})
 * blocks its carrier, and with it every fiber whose home that carrier is: a fiber waiting for a
 * monitor held by a parked fiber of the same carrier deadlocks it, as a blocking lock would
 * an asyncio loop. On JDK 24+ a fiber may park inside {@code synchronized}, but the monitor is the
 * carrier's, not the fiber's: the JDK keeps one that threads have contended for (an inflated one)
 * owned by the carrier thread, so another fiber of that carrier enters it as its owner while the
 * first is parked inside (a never-contended one blocks the carrier instead), and a generator body
 * resumed by another thread leaves it held by the first (see {@code Coroutine.suspend});
 * on JDK 21–23, and under a native frame on any JDK, the park fails with
 * {@link IllegalStateException}. Per-event statistics are plain fields of each
 * carrier, summed on read, so metrics cost the hot path nothing but a field increment.
 *
 * <p>The work-stealing layout follows kotlinx.coroutines' {@code CoroutineScheduler} and Go's
 * runtime scheduler, much simplified.
 */
final class ThreadPoolScheduler implements Scheduler {

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    final String name;
    final Worker[] workers;
    /** Injection queue; MPMC: any thread enqueues a woken fiber, any carrier takes it. */
    final MpmcUnboundedXaddArrayQueue<ContinuationFiber> global = new MpmcUnboundedXaddArrayQueue<>(1024);
    /** Carriers currently parked for lack of work (each also has its parked flag raised). */
    final AtomicInteger idle = new AtomicInteger();
    /** Fibers started and not yet ended. */
    final AtomicLong live = new AtomicLong();
    /** Statistics from threads that are not this scheduler's carriers (they have no plain fields). */
    final StripedCounter externalStarts = new StripedCounter();
    /**
     * Generator resumptions that ended in a suspension, and those that ended the body; counted by
     * the resumer, any thread. Not LongAdders: a frame that suspends after inlining LongAdder.add
     * is deoptimized on resume once the adder has been contended (see {@link StripedCounter}).
     */
    final StripedCounter coroutineSuspensions = new StripedCounter();
    final StripedCounter coroutineCompletions = new StripedCounter();
    private final AtomicInteger runningWorkers;
    private final TimerThread timer;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean shutdown;
    private int signalIndex;
    private final Stats stats = new Stats();
    private final TaskCounters taskCounters = new TaskCounters();
    final SchedulingDelays delays = new SchedulingDelays();

    ThreadPoolScheduler(SchedulerConfig config) {
        this(config, Thread::start);
    }

    /** For tests: {@code startThread} starts each carrier ({@link Thread#start()} in production). */
    ThreadPoolScheduler(SchedulerConfig config, java.util.function.Consumer<Thread> startThread) {
        ContinuationAccess.check();
        this.name = config.name() != null ? config.name() : "threadpool-" + INSTANCES.incrementAndGet();
        int n = config.parallelism();
        this.workers = new Worker[n];
        this.runningWorkers = new AtomicInteger(n);
        this.timer = new TimerThread(name, config.daemon());
        for (int i = 0; i < n; i++) {
            workers[i] = new Worker(this, i);
            workers[i].setDaemon(config.daemon());
        }
        int started = 0;
        try {
            for (Worker w : workers) {
                startThread.accept(w);
                started++;
            }
        } catch (Throwable t) {
            // A carrier could not start (no memory or process limit left for a thread). The caller
            // never gets this scheduler, so nothing could shut down the carriers already started:
            // they would wait for fibers for ever, and keep the JVM alive if not daemon threads.
            // Shut down with no fiber live, they exit; the carriers that never ran count as exited.
            shutdown = true;
            for (int i = started; i < n; i++) {
                workerExited();
            }
            wakeAll();
            throw t;
        }
    }

    @Override
    public String kind() {
        return ThreadPoolSchedulerProvider.NAME;
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
        ContinuationFiber fiber = new ContinuationFiber(this, body);
        live.incrementAndGet();
        // Re-check after counting the fiber live, so that a concurrent shutdown either refuses it
        // or waits for it; never a fiber on carriers that have exited.
        if (shutdown) {
            fiberEnded();
            throw new RejectedExecutionException("scheduler \"" + name + "\" is shut down: it accepts no new fibers");
        }
        Worker w = currentWorker();
        if (w != null) {
            w.starts++;
        } else {
            externalStarts.increment();
        }
        submitNew(fiber, w);
        return fiber;
    }

    @Override
    public Fiber currentFiber() {
        Worker w = currentWorker();
        return w == null ? null : w.current;
    }

    /** The calling thread if it is one of this scheduler's carriers, else null; read afresh. */
    Worker currentWorker() {
        return Continuations.carrierThread() instanceof Worker w && w.scheduler == this ? w : null;
    }

    @Override
    public Coroutine newCoroutine(Runnable body) {
        Objects.requireNonNull(body, "body");
        return new ContinuationCoroutine(this, body);
    }

    @Override
    public Timeout schedule(Runnable action, long delay, TimeUnit unit) {
        if (terminating()) {
            // Shut down with no fiber live: the carriers are exiting and the last one stops the
            // timer, dropping what it holds. Refused, as loom, which terminates at once, refuses it;
            // a wrong argument first, as the timer (and so loom) reports it.
            TimerThread.checkArguments(action, delay, unit);
            throw timer.rejected();
        }
        return timer.schedule(action, delay, unit);
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

    /** Makes a fiber that has not run yet visible to the carriers; {@code w} is the calling carrier or null. */
    private void submitNew(ContinuationFiber fiber, Worker w) {
        fiber.becomingRunnable();
        if (w == null || !w.local.offer(fiber)) {
            global.offer(fiber);
        }
        VarHandle.fullFence();
        if (idle.get() > 0) {
            signalOne();
        }
    }

    /** Makes a woken fiber runnable again on its home carrier. */
    void wake(ContinuationFiber fiber, Worker home) {
        fiber.becomingRunnable();
        if (Continuations.carrierThread() == home) {
            // Woken by a fiber of its own carrier (or the carrier itself): no other thread takes
            // from that queue, and the carrier, running, cannot be parked for lack of work. Spares
            // the inbox's atomic add and the fence, the cost of a hand-over on one carrier.
            home.wokenHere(fiber);
            return;
        }
        home.inbox.offer(fiber);
        VarHandle.fullFence();
        if (home.claimIfParked()) {
            idle.decrementAndGet();
            LockSupport.unpark(home);
        }
    }

    /** Claims one parked carrier and unparks it. */
    private void signalOne() {
        Worker[] ws = workers;
        int start = signalIndex++; // racy, but only spreads wake-ups; any start index is correct
        for (int i = 0; i < ws.length; i++) {
            Worker w = ws[Math.floorMod(start + i, ws.length)];
            if (w.claimIfParked()) {
                idle.decrementAndGet();
                LockSupport.unpark(w);
                return;
            }
        }
    }

    void fiberEnded() {
        if (live.decrementAndGet() == 0 && shutdown) {
            wakeAll();
        }
    }

    boolean terminating() {
        return shutdown && live.get() == 0;
    }

    private void wakeAll() {
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    /** Called by each carrier as it exits; the last one stops the timer and reports termination. */
    void workerExited() {
        if (runningWorkers.decrementAndGet() == 0) {
            timer.terminate();
            terminated.countDown();
        }
    }

    @Override
    public void shutdown() {
        Scheduler.refuseShutdownOfTheDefault(this);
        shutdown = true;
        wakeAll();
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    /**
     * The last carrier reports termination from its own exit path: it counts once it has ended.
     * The timer thread counts too: it may still be running an action when the last carrier exits.
     */
    @Override
    public boolean isTerminated() {
        if (terminated.getCount() != 0 || !timer.hasEnded()) {
            return false;
        }
        for (Worker w : workers) {
            // The thread's state, as Thread.join(Duration) reads it, not isAlive(): a thread that
            // has just ended is TERMINATED a moment before isAlive() turns false, and
            // awaitTermination, after a join that returned, must not see it alive.
            if (w.getState() != Thread.State.TERMINATED) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        long nanos = Math.max(0, TimerThread.saturatedNanos(timeout));
        long deadline = System.nanoTime() + nanos; // may wrap: only differences with nanoTime are used
        if (!terminated.await(nanos, TimeUnit.NANOSECONDS)) {
            return false;
        }
        for (Worker w : workers) {
            if (w != Thread.currentThread()) {
                w.join(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            }
        }
        return timer.awaitEnd(deadline - System.nanoTime()) && isTerminated();
    }

    @Override
    public void close() {
        Scheduler.refuseShutdownOfTheDefault(this); // first: the plainest refusal
        Worker w = currentWorker();
        if (w != null) {
            throw new IllegalStateException("close() called from fiber code of scheduler \"" + name
                    + "\": it would wait for its own carrier to exit; call shutdown() instead");
        }
        if (timer.isTimerThread()) {
            throw timer.closeFromTimerAction();
        }
        Scheduler.super.close();
    }

    @Override
    public String toString() {
        return "ThreadPoolScheduler[" + name + ", carriers=" + workers.length + ", live=" + live.get()
                + (shutdown ? ", shut down" : "") + "]";
    }

    /** Sums per-carrier plain fields; racy reads of monotonic counters, which only lag. */
    private final class Stats implements SchedulerStats {
        @Override
        public long suspensions() {
            long sum = coroutineSuspensions.sum();
            for (Worker w : workers) {
                sum += w.suspensions;
            }
            return sum;
        }

        @Override
        public long resumptions() {
            long sum = coroutineSuspensions.sum() + coroutineCompletions.sum();
            for (Worker w : workers) {
                sum += w.resumptions;
            }
            return sum;
        }

        @Override
        public long fibersStarted() {
            long sum = externalStarts.sum();
            for (Worker w : workers) {
                sum += w.starts;
            }
            return sum;
        }

        @Override
        public long fibersCompleted() {
            long sum = 0;
            for (Worker w : workers) {
                sum += w.completions;
            }
            return sum;
        }

        @Override
        public long liveFibers() {
            return live.get();
        }

        @Override
        public long parkedFibers() {
            long sum = 0;
            for (Worker w : workers) {
                sum += w.parks - w.unparkRuns;
            }
            return Math.max(0, sum);
        }

        @Override
        public boolean observesRunQueues() {
            return true;
        }

        @Override
        public long queueDepth() {
            long sum = global.size();
            for (Worker w : workers) {
                sum += w.local.size() + w.inbox.size() + w.wokenCount + w.yieldedCount;
            }
            return sum;
        }

        @Override
        public long steals() {
            long sum = 0;
            for (Worker w : workers) {
                sum += w.steals;
            }
            return sum;
        }
    }
}
