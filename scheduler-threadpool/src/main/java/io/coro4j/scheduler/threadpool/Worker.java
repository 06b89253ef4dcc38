package io.coro4j.scheduler.threadpool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.jctools.queues.SpmcArrayQueue;

/**
 * A carrier thread of {@link ThreadPoolScheduler}: runs fibers from its local queue, the global
 * queue, or other carriers' queues, and parks when there is none. The statistics fields are
 * written only by this thread and read racily by metrics.
 */
final class Worker extends Thread {

    private static final int LOCAL_CAPACITY = 256;
    /** One pick in this many looks at the queues of new fibers before the woken ones (see {@link #findWork()}). */
    private static final int NEW_FIRST_PERIOD = 16;
    /** The most fibers {@link #woken} may have held and still be kept once empty (its array: 32 KiB at most). */
    static final int WOKEN_KEPT = 4096;
    private static final VarHandle PARKED;
    /** A carrier's own context class loader, between fibers (each fiber's own is put on while it runs). */
    private static final ClassLoader OWN_LOADER = ClassLoader.getSystemClassLoader();

    static {
        try {
            PARKED = MethodHandles.lookup().findVarHandle(Worker.class, "parked", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final ThreadPoolScheduler scheduler;
    /** Fibers started here that have not run yet. SPMC: only this carrier offers; it and thieves poll. */
    final SpmcArrayQueue<ContinuationFiber> local = new SpmcArrayQueue<>(LOCAL_CAPACITY);
    /** Woken fibers whose home this is. MPSC: any thread wakes a fiber, only its carrier polls. */
    final MpscUnboundedXaddArrayQueue<ContinuationFiber> inbox = new MpscUnboundedXaddArrayQueue<>(256);
    /**
     * Woken fibers whose home this is, in the order this carrier learnt of them, one FIFO: those it
     * woke itself (by a fiber it ran) go straight here ({@link #wokenHere}), without the inbox's
     * atomic add; those woken from other threads come through the {@link #inbox}, which this
     * carrier drains into this queue before it adds to it, takes from it, or counts a yielding
     * fiber's turn ({@link #drainInbox()}). So a fiber woken earlier runs earlier, whichever way it
     * was woken, as when the inbox alone held them all: taken in turn instead, a fiber woken from
     * another thread could pass fibers woken here before it, and with them a fiber that yielded
     * could run before fibers that were runnable when it yielded. Only this carrier touches it.
     */
    private ArrayDeque<ContinuationFiber> woken = new ArrayDeque<>();
    /** {@link #woken}'s size, written by this carrier only, for metrics. */
    int wokenCount;
    /**
     * The most fibers {@link #woken} held since it was last made: an {@code ArrayDeque} never
     * shrinks, so after a burst (a million sleepers woken at once: 4 MB) it is replaced once empty.
     */
    int wokenPeak;
    /**
     * Fibers of this carrier that called {@code yieldNow}, oldest first, each to run again once
     * the carrier's {@link #picks} reach its turn in {@link #turns} (or it found no other work).
     * Only this carrier touches it.
     */
    private final ArrayDeque<ContinuationFiber> yielded = new ArrayDeque<>();
    /**
     * The turns of the fibers in {@link #yielded}, in the same order: a ring from {@link #turnsHead},
     * a power of two long. Kept here, not in a field of the fiber, which would make every fiber
     * 8 bytes larger for the few that yield.
     */
    private int[] turns = new int[16];
    private int turnsHead;
    /** {@link #yielded}'s size, written by this carrier only, for metrics. */
    int yieldedCount;
    /** Fibers this carrier has taken from its queues (not from {@link #yielded}), counting on. */
    private int picks;
    /** The fiber mounted on this carrier, or null. */
    ContinuationFiber current;
    /** 1 while parked for lack of work and not yet claimed by a producer. */
    private volatile int parked;
    private int tick;

    long suspensions;
    long resumptions;
    long starts;
    long completions;
    long parks;
    long unparkRuns;
    long steals;

    Worker(ThreadPoolScheduler scheduler, int index) {
        // Nothing of the thread that creates the scheduler (for the default scheduler, whichever
        // caller came first) is kept for the carrier's life: not its inheritable thread locals,
        // which every fiber run here would see, nor its context class loader, which the carrier
        // would pin (a fiber's own is put on before it runs), as ForkJoinPool's common pool does,
        // nor its thread group, which would get the carrier's uncaught exceptions and be pinned.
        super(io.coro4j.spi.TimerThread.ownThreadGroup(), null, "coro4j-" + scheduler.name + "-carrier-" + index, 0, false);
        setContextClassLoader(OWN_LOADER);
        this.scheduler = scheduler;
    }

    @Override
    public void run() {
        try {
            while (true) {
                ContinuationFiber f = findWork();
                if (f != null) {
                    runFiber(f);
                } else if (scheduler.terminating()) {
                    return;
                } else {
                    idleWait();
                }
            }
        } finally {
            scheduler.workerExited();
        }
    }

    /**
     * Takes the next fiber: woken fibers ({@link #nextWoken()}) first, then new ones (local, then global), as
     * Go's scheduler runs its local run queue before the global one. Finishing started work first
     * keeps few fibers in flight: with a million sleepers spawned at once, picking new fibers two
     * times in three (as this did before) left half a million woken sleepers waiting, all of them
     * live in the heap and copied by each young collection. Every {@value #NEW_FIRST_PERIOD}th pick
     * starts with the new fibers instead, so that fibers woken over and over (a ping-pong on this
     * carrier) cannot shut them out. A fiber that yielded ({@link #yielded}) comes first once its
     * turn has come, and otherwise only when there is nothing else.
     */
    private ContinuationFiber findWork() {
        ContinuationFiber y = yielded.peekFirst();
        if (y != null && picks - turns[turnsHead] >= 0) { // by difference: the counts wrap
            return takeYielded();
        }
        ContinuationFiber f;
        if (++tick % NEW_FIRST_PERIOD == 0) {
            if ((f = scheduler.global.poll()) == null && (f = local.poll()) == null) {
                f = nextWoken();
            }
        } else if ((f = nextWoken()) == null && (f = local.poll()) == null) {
            f = scheduler.global.poll();
        }
        if (f == null) {
            f = steal();
        }
        if (f != null) {
            picks++;
            return f;
        }
        return y != null ? takeYielded() : null;
    }

    /** The woken fiber that has waited longest ({@link #woken}), or null. */
    private ContinuationFiber nextWoken() {
        drainInbox();
        ContinuationFiber f = woken.pollFirst();
        if (f != null) {
            wokenCount--;
        } else if (wokenPeak > WOKEN_KEPT) {
            woken = new ArrayDeque<>();
            wokenPeak = 0;
        }
        return f;
    }

    /** Called on this carrier only: {@code f}, whose home this is, was woken by this carrier's own code. */
    void wokenHere(ContinuationFiber f) {
        drainInbox(); // the fibers woken from other threads before f go before it
        woken.addLast(f);
        grewWoken();
    }

    private void grewWoken() {
        if (++wokenCount > wokenPeak) {
            wokenPeak = wokenCount;
        }
    }

    /**
     * Moves the inbox's fibers, oldest first, to the end of {@link #woken}; on this carrier only.
     * Ends: a fiber is in the inbox at most once (it is woken again only after it ran here).
     */
    private void drainInbox() {
        ContinuationFiber f;
        while ((f = inbox.poll()) != null) {
            woken.addLast(f);
            grewWoken();
        }
    }

    private ContinuationFiber takeYielded() {
        yieldedCount--;
        turnsHead = (turnsHead + 1) & (turns.length - 1);
        return yielded.pollFirst();
    }

    /**
     * Called by this carrier after {@code f} yielded in {@code yieldNow} (asyncio's {@code sleep(0)}):
     * {@code f} runs again after every fiber runnable on this carrier now, woken or new, and the
     * fibers that yielded before it, as a task that sleeps 0 goes to the back of asyncio's ready
     * queue. Fibers that become runnable later do not hold it back: it waits for at most as many
     * picks as there are fibers queued now.
     */
    void yielded(ContinuationFiber f) {
        drainInbox(); // those woken from other threads before now go before those woken here after
        long queued = (long) woken.size() + local.size() + scheduler.global.size() + yielded.size();
        int n = yielded.size();
        if (n == turns.length) {
            int[] grown = new int[2 * n];
            for (int i = 0; i < n; i++) {
                grown[i] = turns[(turnsHead + i) & (n - 1)];
            }
            turns = grown;
            turnsHead = 0;
        }
        turns[(turnsHead + n) & (turns.length - 1)] = picks + (int) Math.min(queued, Integer.MAX_VALUE >> 1);
        yielded.addLast(f);
        yieldedCount++;
    }

    private ContinuationFiber steal() {
        Worker[] ws = scheduler.workers;
        if (ws.length == 1) {
            return null;
        }
        int start = ThreadLocalRandom.current().nextInt(ws.length);
        for (int i = 0; i < ws.length; i++) {
            Worker victim = ws[(start + i) % ws.length];
            if (victim != this) {
                ContinuationFiber f = victim.local.poll();
                if (f != null) {
                    steals++;
                    return f;
                }
            }
        }
        return null;
    }

    private boolean workVisible() {
        if (!yielded.isEmpty() || !inbox.isEmpty() || !woken.isEmpty() || !scheduler.global.isEmpty()) {
            return true;
        }
        for (Worker w : scheduler.workers) {
            if (!w.local.isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** Parks until a producer claims this carrier, work shows up, or the scheduler terminates. */
    private void idleWait() {
        // Counted idle before it can be claimed: a producer that claims a carrier decrements the
        // count, and one that read the count before this carrier was in it would see another
        // idle carrier as none, and wake nobody while that one sleeps. Counted early, the count
        // can only be too high for a moment: a producer then finds no flag to claim, and this
        // carrier, whose flag comes after, sees the producer's work below.
        scheduler.idle.incrementAndGet();
        PARKED.setVolatile(this, 1);
        VarHandle.fullFence(); // the queue checks below cannot move above the flag
        while (true) {
            if (workVisible() || scheduler.terminating()) {
                if (PARKED.compareAndSet(this, 1, 0)) {
                    scheduler.idle.decrementAndGet();
                }
                return;
            }
            Thread.interrupted(); // an interrupt is no work: set, it would make this park spin
            LockSupport.park(this);
            if (parked == 0) {
                return;
            }
        }
    }

    /** Called by a producer: takes this carrier out of the idle set if it is in it. */
    boolean claimIfParked() {
        return parked == 1 && PARKED.compareAndSet(this, 1, 0);
    }

    private void runFiber(ContinuationFiber f) {
        long since = f.runnableSince;
        if (since != 0) {
            f.runnableSince = 0;
            scheduler.delays.record(System.nanoTime() - since);
        }
        boolean wasParked = f.mount(this);
        if (wasParked) {
            unparkRuns++;
            resumptions++;
        }
        current = f;
        f.putOn(this);
        ScopedValueBindings.forget(this); // the fiber finds its own on its stack
        try {
            f.runContinuation();
            while (f.probed()) { // it checked that it can suspend, and goes on at once
                ScopedValueBindings.forget(this);
                f.runContinuation();
            }
        } finally {
            current = null;
            f.takeFrom(this);
            // Not left on the carrier until the next fiber's is put on: an idle carrier would pin
            // the loader of the fiber it ran last (an undeployed application's). Costs nothing where
            // fibers use the system loader, the common case.
            if (getContextClassLoader() != OWN_LOADER) {
                setContextClassLoader(OWN_LOADER);
            }
        }
        if (f.isDone()) {
            completions++;
            f.ended();
        } else {
            if (!f.isYielding()) { // yieldNow is no park: loom does not count it either
                parks++;
                suspensions++;
            }
            f.afterYield();
        }
    }
}
