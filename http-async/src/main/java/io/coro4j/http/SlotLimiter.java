package io.coro4j.http;

import io.coro4j.Coro;
import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.Timeout;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Slots for requests in flight, and their deadlines: at most {@code maxTotal} requests overall
 * and {@code maxPerHost} per host, a bounded FIFO wait queue ({@code maxWaiting}) in front of
 * them, a bound on each wait, and a deadline on each request once it has its slot.
 *
 * <p>Threads: {@link #acquire} only from a task (it suspends the task, never its carrier);
 * {@link Permit} methods and the counters from any thread. Blocking: one monitor guards all state;
 * it is held for O(log h) steps (h = hosts with waiters) in the common case and never across a
 * suspension, so it cannot hold up a carrier for long.
 *
 * <p>Fairness: waiters are granted in arrival order among those that can run: a waiter whose host
 * is at its limit does not hold up a later waiter for another host (no head-of-line blocking).
 * Each host keeps a FIFO of its waiters; {@link #ready} indexes, by arrival number, the head waiter
 * of every host that is below its own limit, i.e. that waits only for the overall limit. Invariant,
 * after every operation: {@code total == maxTotal || ready.isEmpty()}. So a new request that finds
 * both limits free can take a slot at once without jumping the queue.
 *
 * <p>Deadlines without a timer each: waiters and requests in flight are kept in two lists sorted
 * by deadline ({@link #waitList}, {@link #flightList}; O(1) inserts when every deadline uses the same
 * duration, as the client's do), and one {@link #alarm}, on a scheduler's timer, fires for the
 * earliest. A waiter whose wait expires leaves the queue and is woken to throw; a request whose
 * deadline passes has its exchange cancelled ({@link Permit#bind}). The alarm runs when the head's
 * deadline comes, finds nothing due if the head has moved on, and re-arms for the new head: with a
 * steady stream of requests it fires about once per timeout period, instead of a scheduler timer
 * set and cancelled twice per request (which, in a fan-out of 10,000, was the largest cost this
 * client added to the JDK's).
 *
 * <p>Waiters are suspended tasks ({@link #acquire}) or callbacks ({@link #enqueue}, which a fan-out
 * uses so that a request waiting for its slot costs a small object, not a suspended task: its task
 * is started only once it has the slot). Both kinds share the queues, the order and the bounds.
 *
 * <p>Cancellation: a waiter whose task is cancelled leaves the queue; if a slot was granted to it in
 * the meantime, it passes the slot on to the next waiter. A slot is therefore never held by a task
 * that is no longer waiting for it.
 */
final class SlotLimiter {

    private static final long NONE = Long.MAX_VALUE;

    /** A host's share of the slots: its active count and its queue. */
    private static final class Host {
        final String key;
        int active;
        final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
        /** This host's key in {@link #ready}, or -1 when it is not there. */
        long readyKey = -1;

        Host(String key) {
            this.key = key;
        }
    }

    /** A node of a deadline-sorted list ({@link #waitList} or {@link #flightList}). */
    private abstract static class Node {
        final long deadline;
        final Scheduler scheduler;
        Node prev;
        Node next;
        boolean linked;

        Node(long deadline, Scheduler scheduler) {
            this.deadline = deadline;
            this.scheduler = scheduler;
        }
    }

    /**
     * What a queued request is told when it gets a slot or gives up, for waits that are not a
     * suspended task ({@link #enqueue}). Called on whichever thread granted or expired it (a
     * releasing task's carrier, the HTTP client's thread, a timer thread), never under the
     * limiter's monitor; must be short and must not block.
     */
    interface Grant {
        /** A slot: the receiver must {@link Permit#release()} it. */
        void granted(Permit permit);

        /** The wait expired; {@code limits} describes the limits as they were. */
        void expired(String limits);
    }

    /** A queued request: a suspended task ({@link #task}) or a callback ({@link #grant}). */
    static final class Waiter extends Node {
        final Host host;
        final long seq;
        final TaskHandle task;
        final Grant grant;
        final Duration requestTimeout;
        /** Written under the monitor; read without it by the waiting task (hence volatile). */
        volatile boolean granted;
        volatile String expired;
        /** For a callback waiter: the permit made at the grant, under the monitor. */
        Permit permit;

        Waiter(Host host, long seq, TaskHandle task, Grant grant, Duration requestTimeout, long deadline, Scheduler scheduler) {
            super(deadline, scheduler);
            this.host = host;
            this.seq = seq;
            this.task = task;
            this.grant = grant;
            this.requestTimeout = requestTimeout;
        }
    }

    /** One slot taken by {@link #acquire}. Thread-safe. */
    final class Permit extends Node {
        private final Host host;
        private final AtomicBoolean released = new AtomicBoolean();
        private volatile boolean timedOut;
        private volatile Future<?> exchange;

        private Permit(Host host, long deadline, Scheduler scheduler) {
            super(deadline, scheduler);
            this.host = host;
        }

        /** The exchange to cancel if the deadline passes; cancels it at once if it has passed. */
        void bind(Future<?> exchange) {
            this.exchange = exchange;
            if (timedOut) {
                exchange.cancel(true);
            }
        }

        /** Whether the deadline passed before the permit was released. */
        boolean timedOut() {
            return timedOut;
        }

        /** Gives the slot back; later calls do nothing. */
        void release() {
            if (released.compareAndSet(false, true)) {
                Waiter next;
                synchronized (SlotLimiter.this) {
                    unlink(this);
                    next = releaseLocked(host);
                }
                wake(next);
            }
        }

        private void expire() {
            timedOut = true;
            Future<?> f = exchange;
            if (f != null) {
                f.cancel(true); // aborts the exchange and closes its connection
            }
        }
    }

    final int maxTotal;
    final int maxPerHost;
    final int maxWaiting;
    private int total;
    private int waiting;
    private long nextSeq;
    private final Map<String, Host> hosts = new HashMap<>();
    /** Head waiters that wait only for the overall limit, by arrival number (see the class description). */
    private final TreeMap<Long, Host> ready = new TreeMap<>();
    /** Waiters by deadline; sentinel-free doubly linked lists, head = earliest. */
    private Node waitHead;
    private Node waitTail;
    /** Permits with a deadline, by deadline. */
    private Node flightHead;
    private Node flightTail;
    /** The pending alarm, when it is due (nanoTime) and on which scheduler. */
    private Timeout alarm;
    private long alarmAt = NONE;
    private Scheduler alarmScheduler;

    SlotLimiter(int maxTotal, int maxPerHost, int maxWaiting) {
        this.maxTotal = maxTotal;
        this.maxPerHost = maxPerHost;
        this.maxWaiting = maxWaiting;
    }

    /**
     * Takes a slot for {@code hostKey}, waiting up to {@code maxWait} in the queue for one.
     *
     * @param requestTimeout the deadline of the request, counted from when it gets the slot; null for none
     * @param queued told the host key if the request joins the queue, outside the monitor (null:
     *     nobody): the attempt's own observer, which must hear of its wait even if the client's is
     *     replaced meanwhile
     * @return the slot, to be given back with {@link Permit#release()}
     * @throws HttpRejectedException if no slot is free and {@code maxWaiting} requests already wait
     * @throws SlotWaitTimeoutException if no slot came within {@code maxWait}
     * @throws java.util.concurrent.CancellationException if the task is cancelled (before or while waiting)
     * @throws IllegalStateException outside a task
     */
    Permit acquire(String hostKey, Duration maxWait, Duration requestTimeout, String method, String url,
                   Consumer<String> queued) {
        TaskHandle me = Tasks.current("AsyncHttpClient.send");
        me.checkCancelled();
        Scheduler scheduler = Coro.currentTask().scheduler();
        Waiter w;
        synchronized (this) {
            Host h = hosts.get(hostKey);
            if (h == null) {
                h = new Host(hostKey);
                hosts.put(hostKey, h);
            }
            if (total < maxTotal && h.active < maxPerHost) {
                total++;
                h.active++;
                return grantedLocked(h, requestTimeout, scheduler);
            }
            if (waiting >= maxWaiting) {
                forgetIfIdle(h);
                throw new HttpRejectedException(method, url, maxWaiting);
            }
            w = new Waiter(h, nextSeq++, me, null, null, deadline(maxWait), scheduler);
            h.waiters.addLast(w);
            waiting++;
            refresh(h);
            insert(w, true);
            rearmLocked();
        }
        if (queued != null) {
            queued.accept(hostKey);
        }
        try {
            while (!w.granted && w.expired == null) {
                me.park();
            }
            // A cancellation that came before the grant (or the expiry) and was not seen because the
            // grant came before this task looked: it wins, and the slot goes on to the next waiter.
            me.checkCancelled();
        } catch (Throwable e) { // cancelled: leave the queue, give back a slot granted meanwhile
            Waiter next = null;
            synchronized (this) {
                if (w.granted) {
                    next = releaseLocked(w.host);
                } else if (w.expired == null) {
                    leaveLocked(w);
                }
            }
            wake(next);
            throw e;
        }
        if (!w.granted) {
            throw new SlotWaitTimeoutException(method, url, maxWait, w.expired);
        }
        synchronized (this) {
            return grantedLocked(w.host, requestTimeout, scheduler);
        }
    }

    /**
     * Queues a request for a slot without suspending anyone: {@code grant} is told when it gets one
     * (at once, on this thread, if one is free) or when {@code maxWait} has passed; {@code queued}
     * (null: nobody) is told the host key if it joins the queue, as by {@link #acquire}.
     *
     * @return the waiter, for {@link #cancel}; already granted if a slot was free
     * @throws HttpRejectedException if no slot is free and {@code maxWaiting} requests already wait
     */
    Waiter enqueue(String hostKey, Duration maxWait, Duration requestTimeout, Scheduler scheduler, Grant grant,
                   String method, String url, Consumer<String> queued) {
        Waiter w;
        Permit now = null;
        synchronized (this) {
            Host h = hosts.get(hostKey);
            if (h == null) {
                h = new Host(hostKey);
                hosts.put(hostKey, h);
            }
            w = new Waiter(h, nextSeq++, null, grant, requestTimeout, deadline(maxWait), scheduler);
            if (total < maxTotal && h.active < maxPerHost) {
                total++;
                h.active++;
                w.granted = true;
                now = grantedLocked(h, requestTimeout, scheduler);
            } else if (waiting >= maxWaiting) {
                forgetIfIdle(h);
                throw new HttpRejectedException(method, url, maxWaiting);
            } else {
                h.waiters.addLast(w);
                waiting++;
                refresh(h);
                insert(w, true);
                rearmLocked();
            }
        }
        if (now != null) {
            grant.granted(now);
        } else if (queued != null) {
            queued.accept(hostKey);
        }
        return w;
    }

    /**
     * Takes a waiter of {@link #enqueue} out of the queue.
     *
     * @return true if it was still waiting (it will be told nothing); false if it was already
     *     granted or expired (its {@link Grant} has been or is being told)
     */
    synchronized boolean cancel(Waiter w) {
        if (w.granted || w.expired != null) {
            return false;
        }
        leaveLocked(w);
        return true;
    }

    /** Slots taken now. */
    synchronized int inFlight() {
        return total;
    }

    /** Requests waiting for a slot now. */
    synchronized int waiting() {
        return waiting;
    }

    /** Slots taken now by requests to {@code hostKey}. */
    synchronized int inFlight(String hostKey) {
        Host h = hosts.get(hostKey);
        return h == null ? 0 : h.active;
    }

    /** Requests to {@code hostKey} waiting for a slot now. */
    synchronized int waiting(String hostKey) {
        Host h = hosts.get(hostKey);
        return h == null ? 0 : h.waiters.size();
    }

    /** Every host with a request in flight or waiting, as of one moment. */
    synchronized List<HostStats> snapshot() {
        List<HostStats> out = new ArrayList<>(hosts.size());
        for (Host h : hosts.values()) {
            out.add(new HostStats(h.key, h.active, h.waiters.size()));
        }
        return out;
    }

    private Permit grantedLocked(Host h, Duration requestTimeout, Scheduler scheduler) {
        Permit p = new Permit(h, requestTimeout == null ? NONE : deadline(requestTimeout), scheduler);
        if (p.deadline != NONE) {
            insert(p, false);
            rearmLocked();
        }
        return p;
    }

    private Waiter releaseLocked(Host h) {
        if (h.active <= 0 || total <= 0) {
            throw new IllegalStateException("slot for " + h.key + " released more often than acquired");
        }
        total--;
        h.active--;
        refresh(h);
        Waiter granted = null;
        // One slot was freed, so at most one waiter can run now (see the invariant).
        if (total < maxTotal && !ready.isEmpty()) {
            Host g = ready.firstEntry().getValue();
            granted = g.waiters.pollFirst();
            waiting--;
            total++;
            g.active++;
            granted.granted = true;
            unlink(granted);
            refresh(g);
            if (granted.grant != null) {
                granted.permit = grantedLocked(g, granted.requestTimeout, granted.scheduler);
            }
        }
        forgetIfIdle(h);
        keepAlarmAliveLocked();
        return granted;
    }

    /** Removes a waiter that was not granted. No slot was freed: nothing to wake. */
    private void leaveLocked(Waiter w) {
        Host h = w.host;
        if (h.waiters.peekFirst() == w ? h.waiters.pollFirst() != null : h.waiters.remove(w)) {
            waiting--;
            unlink(w);
            refresh(h);
            forgetIfIdle(h);
            keepAlarmAliveLocked();
        }
    }

    /** Puts {@code h} in {@link #ready} if and only if its head waiter waits only for the overall limit. */
    private void refresh(Host h) {
        if (h.readyKey >= 0) {
            ready.remove(h.readyKey);
            h.readyKey = -1;
        }
        Waiter head = h.waiters.peekFirst();
        if (head != null && h.active < maxPerHost) {
            ready.put(head.seq, h);
            h.readyKey = head.seq;
        }
    }

    private void forgetIfIdle(Host h) {
        if (h.active == 0 && h.waiters.isEmpty() && hosts.get(h.key) == h) {
            hosts.remove(h.key);
        }
    }

    private String limitsLocked(Host h) {
        return total + " of " + maxTotal + " slots in flight overall, " + h.active + " of " + maxPerHost
                + " for " + h.key + ", " + waiting + " waiting";
    }

    /** Tells a granted or expired waiter; outside the monitor. */
    private static void wake(Waiter w) {
        if (w == null) {
            return;
        }
        if (w.task != null) {
            w.task.wake();
        } else if (w.granted) {
            w.grant.granted(w.permit);
        } else {
            w.grant.expired(w.expired);
        }
    }

    // ---- deadlines ----

    /**
     * About 31 years, in nanoseconds: longer timeouts are treated as this, so that deadlines never
     * overflow (and the JDK client is given no longer one: {@link AsyncHttpClient#forTheJdk}).
     */
    static final long LONGEST = 1_000_000_000_000_000_000L;

    private static long deadline(Duration timeout) {
        long nanos;
        try {
            nanos = Math.min(timeout.toNanos(), LONGEST);
        } catch (ArithmeticException e) {
            nanos = LONGEST;
        }
        return System.nanoTime() + nanos;
    }

    /** Inserts {@code n} in its list by deadline, searching from the tail (O(1) for equal timeouts). */
    private void insert(Node n, boolean waitList) {
        Node after = waitList ? waitTail : flightTail;
        while (after != null && after.deadline > n.deadline) {
            after = after.prev;
        }
        n.prev = after;
        n.next = after == null ? (waitList ? waitHead : flightHead) : after.next;
        if (n.next != null) {
            n.next.prev = n;
        } else if (waitList) {
            waitTail = n;
        } else {
            flightTail = n;
        }
        if (after != null) {
            after.next = n;
        } else if (waitList) {
            waitHead = n;
        } else {
            flightHead = n;
        }
        n.linked = true;
    }

    private void unlink(Node n) {
        if (!n.linked) {
            return;
        }
        boolean waitList = n instanceof Waiter;
        if (n.prev != null) {
            n.prev.next = n.next;
        } else if (waitList) {
            waitHead = n.next;
        } else {
            flightHead = n.next;
        }
        if (n.next != null) {
            n.next.prev = n.prev;
        } else if (waitList) {
            waitTail = n.prev;
        } else {
            flightTail = n.prev;
        }
        n.prev = null;
        n.next = null;
        n.linked = false;
    }

    /**
     * After a node has left a list: keeps the alarm on the scheduler of the node now first, which
     * is alive while that node's task waits or runs. The alarm's scheduler may have no node left,
     * and a scheduler that terminates takes its timer, and the alarm, with it: the waiters of
     * other schedulers would then never time out. With no node left the alarm stays where it is
     * (it fires, finds nothing, and is not renewed) unless its scheduler is shut down.
     */
    private void keepAlarmAliveLocked() {
        if (alarm != null) {
            Node head = earliest();
            if (alarmScheduler.isShutdown() || (head != null && head.scheduler != alarmScheduler)) {
                rearmLocked();
            }
        }
    }

    /**
     * Makes sure an alarm is due no later than the earliest deadline, on the scheduler of the node
     * whose deadline that is (alive while that node's task waits or runs). An earlier alarm on
     * that scheduler is kept: when it fires it re-arms.
     */
    private void rearmLocked() {
        Node head = earliest();
        if (head == null) {
            if (alarm != null) {
                alarm.cancel();
                alarm = null;
                alarmAt = NONE;
            }
            return;
        }
        if (alarm != null && alarmAt <= head.deadline && alarmScheduler == head.scheduler && !alarmScheduler.isShutdown()) {
            return;
        }
        if (alarm != null) {
            alarm.cancel();
        }
        try {
            alarm = head.scheduler.schedule(this::onAlarm, Math.max(0, head.deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            alarmAt = head.deadline;
            alarmScheduler = head.scheduler;
        } catch (RejectedExecutionException e) {
            // that scheduler has terminated, so its task is gone too; the next operation re-arms
            alarm = null;
            alarmAt = NONE;
        }
    }

    private Node earliest() {
        if (waitHead == null) {
            return flightHead;
        }
        if (flightHead == null) {
            return waitHead;
        }
        return waitHead.deadline <= flightHead.deadline ? waitHead : flightHead;
    }

    /** The alarm: expires what is due, then re-arms. Runs on a scheduler's timer thread; short, never blocks. */
    private void onAlarm() {
        List<Waiter> expiredWaiters = null;
        List<Permit> expiredPermits = null;
        synchronized (this) {
            alarm = null;
            alarmAt = NONE;
            long now = System.nanoTime();
            while (waitHead != null && waitHead.deadline <= now) {
                Waiter w = (Waiter) waitHead;
                w.expired = limitsLocked(w.host); // the state it gave up in, for its message
                leaveLocked(w);
                (expiredWaiters == null ? expiredWaiters = new ArrayList<>() : expiredWaiters).add(w);
            }
            while (flightHead != null && flightHead.deadline <= now) {
                Permit p = (Permit) flightHead;
                unlink(p);
                (expiredPermits == null ? expiredPermits = new ArrayList<>() : expiredPermits).add(p);
            }
            rearmLocked();
        }
        if (expiredWaiters != null) {
            expiredWaiters.forEach(SlotLimiter::wake);
        }
        if (expiredPermits != null) {
            expiredPermits.forEach(Permit::expire);
        }
    }
}
