package io.coro4j.spi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A ready implementation of {@link Scheduler#schedule} for scheduler implementers: one platform
 * thread named {@code coro4j-<scheduler name>-timer} runs the actions from a hierarchical timing
 * wheel. Any thread may {@link #schedule} and cancel; only the timer thread touches the wheel.
 *
 * <h2>Structure</h2>
 * Time is cut into ticks of {@value #TICK_NANOS} ns (about a millisecond) counted from the
 * timer's creation. A timer's tick is its deadline rounded <em>up</em> to a tick, and the thread
 * runs a tick's timers only once the clock has passed the tick's start, so a timer never fires
 * early, and fires at most about one tick (plus the thread's wake-up latency) late. Three levels,
 * as in the Linux kernel's timer wheel:
 * <ul>
 *   <li>{@link #near}: one slot per tick of the current block of 1024 ticks (about a second);</li>
 *   <li>{@link #mid}: one slot per block of the current super-block of 1024 blocks (about 18
 *       minutes); a slot is moved into {@code near} when its block begins;</li>
 *   <li>{@link #far}: one list for everything later, sorted out again when a super-block begins.</li>
 * </ul>
 * A timer is moved at most twice before it fires (never, if it is due within the current block),
 * so scheduling, cancelling and firing are O(1) each; the wheel is intrusive (the timer node is the
 * list node, and the {@link Timeout} returned), so a timer costs one object.
 *
 * <h2>Hand-over</h2>
 * {@link #schedule} pushes the new node on {@link #inbox}, a lock-free intrusive stack (a CAS per
 * push; the thread takes the whole stack with one exchange), and unparks the thread only if it
 * sleeps past the new deadline ({@link #wakeAt}; a Dekker handshake: the thread publishes when it
 * will wake, then looks at the inbox once more before parking; a producer pushes, then reads that
 * time, so one of them sees the other). A cancelled node is pushed on {@link #cancelled} and
 * unlinked by the thread at its next wake-up, which comes at least once per block while any timer
 * is pending: a million cancelled timeouts are gone within about a second, whatever their delay.
 * While timers are pending the thread sleeps until the next tick that has any, or to the next
 * block; with none, until a producer wakes it.
 *
 * <p>Actions run on the timer thread, one after the other, in tick order, and the timers of one
 * tick in the order they were scheduled: the thread takes the inbox in oldest first and appends
 * each timer to its list, so timers of equal delay fire in deadline order, and on a one-carrier
 * scheduler tasks that sleep the same time one after the other wake in that order, as with
 * asyncio's loop and the JDK's own timer (loom's sleeps). Timers of different delays that end in
 * one tick are not sorted by deadline: the later scheduled fires later, at most one tick off. An
 * action that throws is reported to the timer thread's uncaught exception handler (an exception
 * the handler throws is ignored, as the JVM does) and the thread goes on. {@link #terminate()}
 * stops the thread and drops pending timers without waiting: {@link #hasEnded()} and
 * {@link #awaitEnd(long)} tell when the thread has ended (an action running when it was called
 * runs to its end first).
 */
public final class TimerThread {

    /** Nanoseconds per tick: 2^20, about 1.05 ms. */
    static final long TICK_NANOS = 1L << 20;
    private static final int TICK_SHIFT = 20;
    private static final int LEVEL_BITS = 10;
    private static final int SLOTS = 1 << LEVEL_BITS;
    private static final int MASK = SLOTS - 1;
    /**
     * Delays are capped so that deadlines do not overflow: 2^61 ns, about 73 years (a longer one
     * fires then, which no caller will see).
     */
    static final long MAX_DELAY_NANOS = Long.MAX_VALUE >> 2;
    /** {@link #wakeAt} while the thread is awake (it will look at the inbox before sleeping). */
    private static final long AWAKE = Long.MIN_VALUE;
    /** {@link #wakeAt} while the thread sleeps with no timer pending, until a producer wakes it. */
    private static final long IDLE = Long.MAX_VALUE;

    private static final VarHandle INBOX;
    private static final VarHandle CANCELLED;
    private static final VarHandle WAKE_AT;
    private static final VarHandle RUN_STATE;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            INBOX = l.findVarHandle(TimerThread.class, "inbox", Node.class);
            CANCELLED = l.findVarHandle(TimerThread.class, "cancelled", Node.class);
            WAKE_AT = l.findVarHandle(TimerThread.class, "wakeAt", long.class);
            RUN_STATE = l.findVarHandle(TimerThread.class, "runState", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final int NEW = 0;
    private static final int STARTED = 1;
    private static final int TERMINATED = 2;

    private final String schedulerName;
    private final boolean daemon;
    /** {@code System.nanoTime()} at tick 0. */
    private final long origin;
    /** New timers, newest first; linked through {@link Node#next}. Any thread pushes, the timer thread takes all. */
    private volatile Node inbox;
    /** Cancelled timers to unlink, newest first; linked through {@link Node#nextCancelled}. */
    private volatile Node cancelled;
    /** When the sleeping thread will wake ({@code System.nanoTime()}), {@link #AWAKE} or {@link #IDLE}. */
    private volatile long wakeAt = AWAKE;
    private volatile int runState = NEW;
    private volatile Thread thread;
    /** {@link #pending}, published before each sleep, for {@link #linkedTimers()}. */
    private volatile long linked;

    // ---- the timer thread's own state ----
    private final Node[] near = new Node[SLOTS];
    private final Node[] mid = new Node[SLOTS];
    private Node far;
    /** The last node of each {@link #near} and {@link #mid} slot, and of {@link #far}: timers are appended. */
    private final Node[] nearTail = new Node[SLOTS];
    private final Node[] midTail = new Node[SLOTS];
    private Node farTail;
    /** The first tick not yet run. */
    private long nextTick;
    /** Timers linked in {@link #near}, and in all three levels. */
    private int nearCount;
    private long pending;

    /**
     * Starts nothing until the first timer is scheduled.
     *
     * @param daemon whether the timer thread is a daemon thread
     */
    public TimerThread(String schedulerName, boolean daemon) {
        this(schedulerName, daemon, System.nanoTime());
    }

    /** For tests: tick 0 starts at {@code origin}, so a test can put a block or super-block boundary near. */
    TimerThread(String schedulerName, boolean daemon, long origin) {
        this.schedulerName = Objects.requireNonNull(schedulerName, "schedulerName");
        this.daemon = daemon;
        this.origin = origin;
    }

    /**
     * For tests: timers linked in the wheel as of the timer thread's last wake-up (neither fired
     * nor unlinked after a cancel); timers still on their way in are not counted.
     */
    long linkedTimers() {
        return linked;
    }

    /**
     * {@link Scheduler#schedule}'s contract.
     *
     * @throws IllegalArgumentException if {@code delay} is negative
     * @throws RejectedExecutionException after {@link #terminate()}
     */
    public Timeout schedule(Runnable action, long delay, TimeUnit unit) {
        checkArguments(action, delay, unit);
        int rs = runState;
        if (rs != STARTED) {
            if (rs == TERMINATED || !start()) {
                throw rejected();
            }
        }
        long nanos = Math.min(unit.toNanos(delay), MAX_DELAY_NANOS);
        Node node = new Node(this, action, System.nanoTime() + nanos);
        Node head;
        do {
            head = inbox;
            node.next = head;
        } while (!INBOX.compareAndSet(this, head, node));
        if (runState == TERMINATED && node.drop()) {
            // terminate() came between the check above and the push, and the thread may have
            // left already: nothing would run this timer, so it is refused, as after terminate().
            throw rejected();
        }
        long until = wakeAt;
        if (node.deadline < until && WAKE_AT.compareAndSet(this, until, AWAKE)) {
            LockSupport.unpark(thread);
        }
        return node;
    }

    /**
     * Checks the arguments of {@link Scheduler#schedule} as {@link #schedule} does, for a scheduler
     * that refuses a timer before it gets here: a wrong argument is reported as such, not as the
     * refusal, whatever state the scheduler is in.
     *
     * @throws NullPointerException if {@code action} or {@code unit} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static void checkArguments(Runnable action, long delay, TimeUnit unit) {
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(unit, "unit");
        if (delay < 0) {
            throw new IllegalArgumentException("delay " + delay + " " + unit + " should not be negative");
        }
    }

    /** The refusal of a timer by a scheduler that has terminated, or is about to with nothing to run it. */
    public RejectedExecutionException rejected() {
        return new RejectedExecutionException("scheduler \"" + schedulerName + "\" has terminated: it runs no timers");
    }

    /**
     * Whether the calling thread is this timer's thread, that is, code run by one of its actions:
     * such code cannot wait for the scheduler's termination, which includes this thread's end
     * (a scheduler's {@code close()} refuses it with {@link #closeFromTimerAction()}).
     */
    public boolean isTimerThread() {
        return isTimerThread(Thread.currentThread());
    }

    /**
     * Whether {@code t} is this timer's thread: for a scheduler whose generator bodies run on
     * threads of their own, to tell whether the thread a body's resumer runs on is this one.
     */
    public boolean isTimerThread(Thread t) {
        return t != null && thread == t;
    }

    /** The refusal of {@link Scheduler#close()} called by a timer action ({@link #isTimerThread()}). */
    public IllegalStateException closeFromTimerAction() {
        return new IllegalStateException("close() called from a timer action of scheduler \"" + schedulerName
                + "\": it would wait for the timer thread, which runs it, to end; call shutdown() instead");
    }

    /**
     * {@code d} in nanoseconds, saturated: a duration longer than {@code Long.MAX_VALUE} ns (about
     * 292 years) is {@code Long.MAX_VALUE}, a negative one beyond it {@code Long.MIN_VALUE}, instead
     * of the {@link ArithmeticException} of {@link Duration#toNanos()}.
     */
    public static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /**
     * A new, unstarted platform thread of coro4j's own (a timer, a cleaner), that takes nothing from
     * the thread that happens to create it (for a JVM-wide one, whichever caller came first), as
     * {@code ForkJoinPool}'s common pool does: no inheritable thread locals, the system class loader
     * as context loader (the creator's would be pinned for the thread's life, and handed to fibers
     * its actions start), and {@link #ownThreadGroup()}.
     */
    public static Thread newOwnThread(String name, boolean daemon, Runnable body) {
        Thread t = Thread.ofPlatform().group(ownThreadGroup()).name(name).daemon(daemon)
                .inheritInheritableThreadLocals(false).unstarted(body);
        t.setContextClassLoader(ClassLoader.getSystemClassLoader());
        return t;
    }

    /**
     * The thread group for a scheduler's own threads (carriers, timer): the JVM's top-level group,
     * not the group of whichever thread happens to create them, which would get their uncaught
     * exceptions through its {@code uncaughtException} and be kept, with the loader of its class,
     * for their life.
     */
    public static ThreadGroup ownThreadGroup() {
        ThreadGroup g = Thread.currentThread().getThreadGroup(); // not null: the thread runs
        for (ThreadGroup p = g.getParent(); p != null; p = p.getParent()) {
            g = p;
        }
        return g;
    }

    /**
     * Starts the thread now rather than at the first timer: for a non-daemon scheduler none of
     * whose other threads is its own (loom's fibers are daemon virtual threads), so that it keeps
     * the JVM alive from its creation until it terminates, whether or not it ever runs a timer.
     * Does nothing once started or terminated.
     */
    public void startThread() {
        start();
    }

    /** Starts the thread once; false if terminated meanwhile. */
    private boolean start() {
        synchronized (this) {
            if (runState == TERMINATED) {
                return false;
            }
            if (runState == NEW) {
                // Made by whichever thread schedules the first timer (for the default scheduler, any
                // caller's), and so taking nothing from it.
                Thread t = newOwnThread("coro4j-" + schedulerName + "-timer", daemon, this::loop);
                thread = t;
                try {
                    t.start();
                } catch (Throwable e) {
                    // Not started (no memory for a thread): stays NEW, so that the next timer tries
                    // again, instead of being accepted and then never run by a thread that never was.
                    thread = null;
                    throw e;
                }
                runState = STARTED;
            }
            return true;
        }
    }

    /**
     * Whether the timer thread has ended after {@link #terminate()}: true if it never started,
     * false before {@code terminate()} and while the thread is still running (for instance the
     * action that called {@code terminate()} on it).
     */
    public boolean hasEnded() {
        Thread t;
        synchronized (this) {
            if (runState != TERMINATED) {
                return false;
            }
            t = thread;
        }
        return t == null || t.getState() == Thread.State.TERMINATED;
    }

    /**
     * Waits at most {@code nanos} for {@link #hasEnded()}; at once false when called on the timer
     * thread, which cannot wait for its own end.
     *
     * @throws InterruptedException if interrupted while waiting
     */
    public boolean awaitEnd(long nanos) throws InterruptedException {
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t == Thread.currentThread()) {
            return false;
        }
        if (t != null && nanos > 0 && t.getState() != Thread.State.TERMINATED) {
            t.join(Duration.ofNanos(nanos));
        }
        return hasEnded();
    }

    /**
     * Drops pending timers and stops the thread, without waiting for it to end: a carrier or a
     * fiber that terminates its scheduler must not block for as long as a timer action runs.
     * Idempotent.
     */
    public void terminate() {
        Thread t;
        synchronized (this) {
            t = thread;
            runState = TERMINATED;
        }
        if (t != null && t != Thread.currentThread()) {
            LockSupport.unpark(t);
        }
    }

    // ---- the timer thread ----

    private long tickOf(long nanoTime) {
        return (nanoTime - origin) >> TICK_SHIFT;
    }

    /** The first tick that starts at or after {@code deadline}. */
    private long ceilTick(long deadline) {
        return (deadline - origin + TICK_NANOS - 1) >> TICK_SHIFT;
    }

    private long startOf(long tick) {
        return origin + (tick << TICK_SHIFT);
    }

    private void loop() {
        nextTick = tickOf(System.nanoTime());
        while (runState != TERMINATED) {
            if (pending == 0) {
                // Nothing linked: skip the empty ticks since the last one run, before placing new timers.
                nextTick = Math.max(nextTick, tickOf(System.nanoTime()));
            }
            takeInbox();
            takeCancelled();
            long nowTick = tickOf(System.nanoTime());
            while (nextTick <= nowTick && runState != TERMINATED) {
                runTick(nextTick++);
            }
            sleep();
        }
        inbox = null;
        cancelled = null;
    }

    private void takeInbox() {
        if (inbox == null) {
            return;
        }
        Node newest = (Node) INBOX.getAndSet(this, null);
        Node n = null;
        while (newest != null) { // reversed: oldest first, the order they were scheduled in
            Node next = newest.next;
            newest.next = n;
            n = newest;
            newest = next;
        }
        while (n != null) {
            Node next = n.next;
            n.next = null;
            if (n.state == Node.PENDING) {
                place(n);
            }
            n = next;
        }
    }

    private void takeCancelled() {
        if (cancelled == null) {
            return;
        }
        Node n = (Node) CANCELLED.getAndSet(this, null);
        while (n != null) {
            Node next = n.nextCancelled;
            n.nextCancelled = null;
            if (n.level != Node.UNLINKED) {
                unlink(n);
            }
            n = next;
        }
    }

    /** Links a pending node at the level its tick belongs to, or runs it if it is due. */
    private void place(Node n) {
        long tick = ceilTick(n.deadline);
        long next = nextTick;
        if (tick < next) {
            fire(n);
            return;
        }
        // Levels are those of the last tick run, not of the next: when the next starts a block
        // (or super-block), its timers are still in mid (or far), moved down when it runs. Put in
        // near now, this timer would come before those older ones of its tick.
        long last = next - 1;
        if ((tick >> LEVEL_BITS) == (last >> LEVEL_BITS)) {
            n.level = Node.NEAR;
            n.slot = (int) (tick & MASK);
            nearCount++;
            append(near, nearTail, n);
        } else if ((tick >> (2 * LEVEL_BITS)) == (last >> (2 * LEVEL_BITS))) {
            n.level = Node.MID;
            n.slot = (int) ((tick >> LEVEL_BITS) & MASK);
            append(mid, midTail, n);
        } else {
            n.level = Node.FAR;
            n.prev = farTail;
            if (farTail == null) {
                far = n;
            } else {
                farTail.next = n;
            }
            farTail = n;
        }
        pending++;
    }

    /** Appends {@code n} to its slot of a level, given the level's heads and tails. */
    private static void append(Node[] heads, Node[] tails, Node n) {
        Node tail = tails[n.slot];
        n.prev = tail;
        if (tail == null) {
            heads[n.slot] = n;
        } else {
            tail.next = n;
        }
        tails[n.slot] = n;
    }

    private void unlink(Node n) {
        Node prev = n.prev;
        Node next = n.next;
        if (next != null) {
            next.prev = prev;
        } else {
            switch (n.level) {
                case Node.NEAR -> nearTail[n.slot] = prev;
                case Node.MID -> midTail[n.slot] = prev;
                default -> farTail = prev;
            }
        }
        if (prev != null) {
            prev.next = next;
        } else {
            switch (n.level) {
                case Node.NEAR -> near[n.slot] = next;
                case Node.MID -> mid[n.slot] = next;
                default -> far = next;
            }
        }
        if (n.level == Node.NEAR) {
            nearCount--;
        }
        n.prev = null;
        n.next = null;
        n.level = Node.UNLINKED;
        pending--;
    }

    /** Takes the whole list at {@code head} out of the wheel (it is relinked or fired by the caller). */
    private Node detach(Node head) {
        for (Node n = head; n != null; n = n.next) {
            if (n.level == Node.NEAR) {
                nearCount--;
            }
            n.level = Node.UNLINKED;
            pending--;
        }
        return head;
    }

    private void runTick(long tick) {
        if ((tick & MASK) == 0) {
            if ((tick & ((1L << (2 * LEVEL_BITS)) - 1)) == 0 && far != null) {
                Node n = detach(far);
                far = null;
                farTail = null;
                replace(n);
            }
            int m = (int) ((tick >> LEVEL_BITS) & MASK);
            if (mid[m] != null) {
                Node n = detach(mid[m]);
                mid[m] = null;
                midTail[m] = null;
                replace(n);
            }
        }
        int s = (int) (tick & MASK);
        Node n = near[s];
        if (n != null) {
            near[s] = null;
            nearTail[s] = null;
            detach(n);
            // Looked at before each action: terminate() drops the rest of the tick too, also when
            // an action of this tick calls it (and does not wait for this thread).
            while (n != null && runState != TERMINATED) {
                Node next = n.next;
                n.next = null;
                n.prev = null;
                fire(n);
                n = next;
            }
        }
    }

    /** Places again each node of a detached list (all of them are due in a later block). */
    private void replace(Node n) {
        while (n != null) {
            Node next = n.next;
            n.next = null;
            n.prev = null;
            if (n.state == Node.PENDING) {
                place(n);
            }
            n = next;
        }
    }

    private void fire(Node n) {
        Runnable action = n.claim();
        if (action == null) {
            return; // cancelled meanwhile
        }
        try {
            action.run();
        } catch (Throwable t) {
            reportUncaught(t);
        }
    }

    /**
     * Hands {@code t} to the current thread's uncaught-exception handler; an exception the handler
     * throws is ignored, as the JVM ignores it for a thread that ends: passed on, it would end a
     * thread that other work depends on (this timer, whose pending timers would never run; a
     * carrier, and every fiber whose home it is), or be lost in place of {@code t}.
     */
    public static void reportUncaught(Throwable t) {
        Thread self = Thread.currentThread();
        try {
            self.getUncaughtExceptionHandler().uncaughtException(self, t);
        } catch (Throwable ignored) {
            // as the JVM does
        }
    }

    /** Sleeps until the next tick that has timers, the next block, or a producer's wake-up. */
    private void sleep() {
        long target;
        if (pending == 0) {
            target = IDLE;
        } else {
            // The first tick at or after nextTick that starts a block: it moves mid (and far) timers in.
            long tick = (nextTick + MASK) & ~(long) MASK;
            if (nearCount > 0) {
                for (long t = nextTick; t < tick; t++) {
                    if (near[(int) (t & MASK)] != null) {
                        tick = t;
                        break;
                    }
                }
            }
            target = startOf(tick);
        }
        linked = pending;
        wakeAt = target; // volatile write, then the volatile read of inbox: a producer sees it, or we see its node
        if (inbox != null || runState == TERMINATED) {
            wakeAt = AWAKE;
            return;
        }
        // Nothing here uses the interrupt status (terminate() unparks): left set, by an action or
        // from outside, it would make every park below return at once, and the thread spin.
        Thread.interrupted();
        if (target == IDLE) {
            LockSupport.park(this);
        } else {
            long nanos = target - System.nanoTime();
            if (nanos > 0) {
                LockSupport.parkNanos(this, nanos);
            }
        }
        wakeAt = AWAKE;
    }

    /** Called by {@link Node#cancel()} after it won: queues the node to be unlinked. */
    private void cancelled(Node n) {
        Node head;
        do {
            head = cancelled;
            n.nextCancelled = head;
        } while (!CANCELLED.compareAndSet(this, head, n));
        if (wakeAt == IDLE && WAKE_AT.compareAndSet(this, IDLE, AWAKE)) {
            LockSupport.unpark(thread); // no timer pending, so it would not wake to unlink this one
        }
    }

    /** A timer: the wheel's list node and the {@link Timeout} handed out. */
    private static final class Node implements Timeout {
        static final int PENDING = 0;
        static final int FIRED = 1;
        static final int CANCELLED_STATE = 2;
        static final byte UNLINKED = 0;
        static final byte NEAR = 1;
        static final byte MID = 2;
        static final byte FAR = 3;

        private static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(Node.class, "state", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final TimerThread timer;
        final long deadline;
        /** Dropped once the timer has fired or been cancelled, so a kept Timeout keeps nothing alive. */
        Runnable action;
        volatile int state;
        // Wheel links, timer thread only (next is also the inbox link, before the node is placed).
        Node next;
        Node prev;
        Node nextCancelled;
        int slot;
        byte level;

        Node(TimerThread timer, Runnable action, long deadline) {
            this.timer = timer;
            this.action = action;
            this.deadline = deadline;
        }

        /** Timer thread: takes the action if the timer was still pending. */
        Runnable claim() {
            if (state == PENDING && STATE.compareAndSet(this, PENDING, FIRED)) {
                Runnable a = action;
                action = null;
                return a;
            }
            return null;
        }

        /** Pending to cancelled without queueing it for unlinking: for a node never placed. */
        boolean drop() {
            if (state == PENDING && STATE.compareAndSet(this, PENDING, CANCELLED_STATE)) {
                action = null;
                return true;
            }
            return false;
        }

        @Override
        public boolean cancel() {
            if (state == PENDING && STATE.compareAndSet(this, PENDING, CANCELLED_STATE)) {
                action = null;
                timer.cancelled(this);
                return true;
            }
            return false;
        }
    }
}
