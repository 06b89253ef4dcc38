package io.coro4j.scheduler.threadpool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
    private static final VarHandle PARKED;

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
        super("coro4j-" + scheduler.name + "-carrier-" + index);
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
     * Takes the next fiber. The starting queue rotates over the inbox, the local queue and the
     * global queue, so none starves another: a fiber that keeps yielding (re-queued into the
     * inbox) cannot shut out new fibers waiting in the local or global queue.
     */
    private ContinuationFiber findWork() {
        ContinuationFiber f;
        switch (++tick % 3) {
            case 0 -> f = firstOf(inbox, local, scheduler.global);
            case 1 -> f = firstOf(local, scheduler.global, inbox);
            default -> f = firstOf(scheduler.global, inbox, local);
        }
        return f != null ? f : steal();
    }

    private static ContinuationFiber firstOf(java.util.Queue<ContinuationFiber> a, java.util.Queue<ContinuationFiber> b,
                                             java.util.Queue<ContinuationFiber> c) {
        ContinuationFiber f = a.poll();
        if (f == null && (f = b.poll()) == null) {
            f = c.poll();
        }
        return f;
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
        if (!inbox.isEmpty() || !scheduler.global.isEmpty()) {
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
        PARKED.setVolatile(this, 1);
        scheduler.idle.incrementAndGet(); // full fence: the queue checks below cannot move above it
        while (true) {
            if (workVisible() || scheduler.terminating()) {
                if (PARKED.compareAndSet(this, 1, 0)) {
                    scheduler.idle.decrementAndGet();
                }
                return;
            }
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
        try {
            f.runContinuation();
        } finally {
            current = null;
        }
        if (f.isDone()) {
            completions++;
            f.ended();
        } else {
            parks++;
            suspensions++;
            f.afterYield();
        }
    }
}
