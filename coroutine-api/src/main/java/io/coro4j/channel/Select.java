package io.coro4j.channel;

import io.coro4j.Task;
import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Waits for the first of several channel operations that can complete, completes that one only,
 * and returns what its handler makes of it: Go's {@code select}, kotlinx.coroutines'
 * {@code select} over {@code onReceive}, {@code onSend}, {@code onTimeout}, {@code onJoin} and
 * {@code onAwait} (a task's end is a clause too). The package's other primitives have clauses
 * too: {@link Semaphore#onAcquire}, {@link Lock#onLock} and {@link Event#onSet}, which take part
 * as a channel operation does (a permit or the lock is handed to the select that is chosen for it,
 * and to nobody else).
 *
 * <pre>{@code
 * String got = Select.select(
 *         orders.onReceive(order -> "order " + order),
 *         cancels.onReceive(id -> "cancel " + id),
 *         audit.onSend(entry, () -> "audited"),
 *         Select.onJoin(worker, () -> "worker ended"),
 *         Select.onTimeout(Duration.ofSeconds(1), () -> "idle"));
 * }</pre>
 *
 * <p><b>Which clause.</b> If clauses can complete at once, the first of them in argument order
 * does (biased, as kotlinx's {@code select}; put the clause that must not starve first, or rotate
 * the order). Otherwise the select waits in every clause's channel at once; the first operation
 * that another task completes for it wins and its other registrations are withdrawn, so exactly one
 * clause takes effect: one item received, or one item sent. A channel may appear in several
 * clauses (a receive and a send on the same channel do not complete each other).
 *
 * <p><b>Closed channels.</b> A receive clause whose channel is closed and drained, or a send
 * clause whose channel is closed, can complete at once and is chosen as any other: a send clause
 * then makes the select throw {@link ClosedChannelException}, as {@link Channel#send} does, and so
 * does a receive clause made by {@link Channel#onReceive(java.util.function.Function)}; one made
 * by {@link Channel#onReceive(java.util.function.Function, java.util.function.Supplier)} returns
 * what its {@code onClosed} handler returns instead, so a loop over several producers can drop
 * the channels that close. A close while the select waits to send and to receive on that channel
 * completes both clauses at once: the first of them in argument order is chosen, as when the
 * channel was closed before the select ran.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: a select
 * cancelled while it waits throws {@link CancellationException} and no clause took effect; one
 * whose clause was completed before the task saw the cancellation returns normally (its handler
 * runs), and the task sees the cancellation at its next suspension point.
 *
 * <p><b>Deadlines.</b> A {@link #onTimeout} clause is chosen if no other clause completes in time;
 * a {@code Coro.withTimeout} around the select works too, and also bounds the handler.
 *
 * <p><b>Tasks.</b> An {@link #onJoin} or {@link #onAwait} clause can complete once its task has
 * ended; choosing it takes nothing from anyone. The end of a task a select waits for completes
 * its clause as a channel operation does, so the cancellation rule above holds for it too: a
 * select whose task ended before the select saw a cancellation returns normally.
 *
 * <p><b>Handlers</b> run in the selecting task after the operation has completed and every lock is
 * released, so they may suspend; what they throw, the select throws (the operation has taken
 * effect all the same).
 *
 * <p><b>Threads.</b> {@link #select} is a suspension point and must run inside a task. A clause
 * holds nothing until a select uses it and may be used by several selects, one after another or
 * at once.
 */
public final class Select {

    private Select() {}

    /**
     * Completes the first of {@code clauses} that can complete, waiting until one can, and returns
     * its handler's result.
     *
     * @throws IllegalArgumentException if there are no clauses, or more than one {@link #onTimeout}
     * @throws NullPointerException if a clause is null
     * @throws ClosedChannelException if the chosen clause is a send on a closed channel or a receive
     *     without {@code onClosed} on a closed, drained one
     * @throws CancellationException if the task is cancelled on entry or while waiting (no clause
     *     took effect then); or thrown by the chosen clause's handler, as a suspension point inside
     *     it raises a cancellation pending (the clause took effect then)
     * @throws IllegalStateException outside a task
     */
    @SafeVarargs
    public static <R> R select(Clause<? extends R>... clauses) {
        return select(Arrays.asList(Objects.requireNonNull(clauses, "clauses")));
    }

    /** {@link #select(Clause[])} over a list of clauses, in list order. */
    public static <R> R select(List<? extends Clause<? extends R>> clauses) {
        Objects.requireNonNull(clauses, "clauses");
        if (clauses.isEmpty()) {
            throw new IllegalArgumentException("Select.select needs at least one clause (channel.onReceive(...), channel.onSend(...),"
                    + " semaphore.onAcquire(...), lock.onLock(...), event.onSet(...), Select.onJoin(...), Select.onAwait(...)"
                    + " or Select.onTimeout(...))");
        }
        long start = System.nanoTime();
        Clause<?>[] all = new Clause<?>[clauses.size()];
        int timeout = -1;
        for (int i = 0; i < all.length; i++) {
            all[i] = clauses.get(i);
            if (all[i] == null) {
                throw new NullPointerException("select clause " + i + " is null");
            }
            if (all[i] instanceof TimeoutClause) {
                if (timeout >= 0) {
                    throw new IllegalArgumentException("a select takes at most one Select.onTimeout clause (clauses "
                            + timeout + " and " + i + "): keep the shortest");
                }
                timeout = i;
            }
        }
        TaskHandle self = Tasks.current("Select.select");
        boolean joins = false;
        for (Clause<?> c : all) {
            c.refuseHopeless();
            joins |= c instanceof JoinClause<?, ?>;
        }
        self.checkCancelled();
        Run run = new Run();
        Clause<?>[] byLock = lockOrder(all);
        Waiter[] registered = null;
        Waiter toWake = null;
        int chosen = -1;
        Object got = null;
        Object[] woken = new Object[1];
        lockAll(byLock);
        try {
            for (int i = 0; i < all.length && chosen < 0; i++) {
                Object r = all[i].tryNow(woken);
                if (r != NOT_READY) {
                    // A task's end is not held still by the locks: one that ended since its clause was
                    // looked at is ready as this one is (the same task, in two clauses), and comes first.
                    chosen = all[i] instanceof JoinClause<?, ?> ? firstEnded(all, i + 1) : i;
                    got = r;
                    toWake = (Waiter) woken[0];
                }
            }
            if (chosen < 0) {
                registered = new Waiter[all.length];
                boolean mayRepeat = joins || sharesAChannel(byLock);
                for (int i = 0; i < all.length; i++) {
                    // A later clause of the same kind on the same channel would queue behind the
                    // earlier one and never be completed: it waits there as the earlier one does,
                    // and the select counts once in sendersWaiting or receiversWaiting. A later
                    // clause of the same task would be completed by the same end, which comes
                    // first to the earlier one: argument order.
                    if (!mayRepeat || !repeats(all, i)) {
                        registered[i] = all[i].enqueue(new SelectWaiter(self, run, i, all[i].item));
                    }
                }
            }
        } finally {
            unlockAll(byLock);
        }
        if (toWake != null) {
            toWake.handle.wake();
        }
        if (chosen >= 0) {
            return handle(all[chosen], got);
        }
        long deadline = timeout < 0 ? 0 : start + ((TimeoutClause<?>) all[timeout]).nanos;
        SelectWaiter won = await(self, run, all, byLock, registered, timeout < 0 ? null : registered[timeout], deadline, joins);
        if (won.state == Waiter.CLOSED) {
            return handle(all[firstOnItsChannel(all, won.clause)], Channel.CLOSED);
        }
        return handle(all[won.clause], won.value);
    }

    /**
     * The first clause, in argument order, on the channel of {@code all[closed]}, whose close
     * completed that clause's registration. The close completes all of this select's clauses on the
     * channel at once (a send is refused; a receive waited there, so the channel is drained), as
     * clauses ready at once: the first of them is chosen, as when the channel was closed before the
     * select ran, whichever registration the close reached first.
     */
    private static int firstOnItsChannel(Clause<?>[] all, int closed) {
        Object channel = all[closed].source;
        for (int i = 0; i < closed; i++) {
            if (all[i].source == channel) {
                return i;
            }
        }
        return closed;
    }

    /**
     * Parks until a registration of {@code run} is completed, or, with {@code joins}, until a task
     * of a join clause has ended and that clause's node claims the run, or, with a {@code timedOut}
     * node, until {@code deadline} passes and that node claims the run; withdraws the others and
     * returns the winner.
     */
    private static SelectWaiter await(TaskHandle self, Run run, Clause<?>[] all, Clause<?>[] byLock, Waiter[] registered,
                                      Waiter timedOut, long deadline, boolean joins) {
        try {
            Waiter w;
            while ((w = run.winner) == null || w.state == Waiter.WAITING) {
                int ended = joins ? endedBeforeRegistering(all, registered) : -1;
                if (ended >= 0) {
                    // A task's end claims the run for its clause; one that came before the clause
                    // could register, the select claims itself. A cancellation seen here goes to
                    // the catch below, which returns the ended task's clause all the same: the end
                    // came before the select saw the cancellation.
                    self.checkCancelled();
                    run.claim(registered[ended]); // loses only to a clause that has just won: either ends the wait
                } else if (timedOut == null) {
                    self.park();
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        // A cancellation that came while the select waited wins over its timeout, as
                        // over a park: nothing took effect (kotlinx's select throws too). A task that
                        // has ended wins over both (its end is about to claim the run: it came first).
                        self.checkCancelled();
                        run.claim(endedOr(all, registered, joins, timedOut)); // loses only to a clause that has just won
                    } else {
                        self.parkNanos(left);
                    }
                }
            }
        } catch (Throwable t) {
            boolean cancelled;
            lockAll(byLock);
            try {
                // Channel completers claim a registration under its channel's lock, all held here,
                // and fill it in; a task's end claims one without a lock, filled in beforehand.
                // Either one has, or none can from now on.
                // A task that has ended, whose end has not claimed the run yet (its thread runs
                // its completion callbacks first), completed its clause before the select saw the
                // cancellation: the select returns it, as a join waiting beside it returns.
                Waiter ended = endedOr(all, registered, joins, null);
                cancelled = (ended == null || !run.claim(ended)) && run.claim(CANCELLED);
                if (cancelled) {
                    withdraw(all, registered, null);
                }
            } finally {
                unlockAll(byLock);
            }
            if (cancelled || t instanceof Error) {
                throw t;
            }
            // A clause took effect first: thrown, its item would be lost or its send unaccounted for.
        }
        SelectWaiter won = (SelectWaiter) run.winner;
        lockAll(byLock);
        try {
            withdraw(all, registered, won);
        } finally {
            unlockAll(byLock);
        }
        return won;
    }

    /**
     * The registration of the first join clause, in argument order, whose task has ended (isDone:
     * its end claims the run for it, or is about to); {@code otherwise} if none has.
     */
    private static Waiter endedOr(Clause<?>[] all, Waiter[] registered, boolean joins, Waiter otherwise) {
        int ended = joins ? firstEnded(all, all.length) : -1;
        return ended >= 0 && registered[ended] != null ? registered[ended] : otherwise;
    }

    /**
     * The first join clause, in argument order, whose task had ended when it tried to register (so
     * that no end will claim the run for it); -1 if none had.
     */
    private static int endedBeforeRegistering(Clause<?>[] all, Waiter[] registered) {
        for (int i = 0; i < all.length; i++) {
            if (all[i] instanceof JoinClause<?, ?> && registered[i] != null && registered[i].value == null) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The first join clause, in argument order, before {@code limit}, whose task has ended; -1 if
     * none has. Found, it looks again at the clauses before it, until none of them has ended: a
     * task that ends while it looks (the same task may be in two clauses) may have ended after its
     * clause was passed over, and is then ready as the one found is, and comes first. Each look
     * finds an earlier clause or none, so it ends; the result's task had ended when the last look
     * began, and those before it had not.
     */
    private static int firstEnded(Clause<?>[] all, int limit) {
        int found = -1;
        for (int end = limit; ; ) {
            int i = 0;
            while (i < end && !(all[i] instanceof JoinClause<?, ?> j && j.task.isDone())) {
                i++;
            }
            if (i == end) {
                return found;
            }
            found = i;
            end = i;
        }
    }

    private static void withdraw(Clause<?>[] all, Waiter[] registered, Waiter keep) {
        for (int i = 0; i < all.length; i++) {
            if (registered[i] != null && registered[i] != keep) {
                all[i].withdraw(registered[i]);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <R> R handle(Clause<?> clause, Object got) {
        return (R) clause.handle(got); // every clause came in as a Clause<? extends R>
    }

    /**
     * The clauses on a channel, in the order their channels' locks are taken: by channel, so that
     * two selects never deadlock.
     */
    private static Clause<?>[] lockOrder(Clause<?>[] all) {
        int n = 0;
        for (Clause<?> c : all) {
            if (c.lock != null) {
                n++;
            }
        }
        Clause<?>[] sorted = new Clause<?>[n];
        n = 0;
        for (Clause<?> c : all) {
            if (c.lock != null) {
                sorted[n++] = c;
            }
        }
        if (n > 16) {
            Arrays.sort(sorted, java.util.Comparator.comparingLong(c -> c.lockOrder));
            return sorted;
        }
        // Insertion sort: cheaper than a comparator for the handful of clauses of most selects.
        for (int j = 1; j < n; j++) {
            Clause<?> c = sorted[j];
            int i = j;
            while (i > 0 && sorted[i - 1].lockOrder > c.lockOrder) {
                sorted[i] = sorted[i - 1];
                i--;
            }
            sorted[i] = c;
        }
        return sorted;
    }

    /** Whether two of the clauses, sorted by {@link #lockOrder}, are on one channel or primitive. */
    private static boolean sharesAChannel(Clause<?>[] byLock) {
        for (int i = 1; i < byLock.length; i++) {
            if (byLock[i].source == byLock[i - 1].source) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a clause before {@code all[i]} is completed by what completes it, and first: one of
     * its kind (send or receive, acquire, lock, set) on its channel or primitive, or, for a task's
     * clause, one of its task.
     */
    private static boolean repeats(Clause<?>[] all, int i) {
        Clause<?> c = all[i];
        for (int j = 0; j < i; j++) {
            Clause<?> d = all[j];
            if (c.source != null ? d.source == c.source && d.getClass() == c.getClass()
                    : c instanceof JoinClause<?, ?> t && d instanceof JoinClause<?, ?> u && u.task == t.task) {
                return true;
            }
        }
        return false;
    }

    private static void lockAll(Clause<?>[] byLock) {
        for (Clause<?> c : byLock) {
            c.lock.lock(); // reentrant: a channel in two clauses is locked twice, unlocked twice
        }
    }

    private static void unlockAll(Clause<?>[] byLock) {
        for (int i = byLock.length - 1; i >= 0; i--) {
            byLock[i].lock.unlock();
        }
    }

    /**
     * A clause chosen when {@code timeout}, counted from the call to {@link #select}, passes before
     * another clause completes: the select then returns {@code onTimeout}'s result, and no other
     * clause took effect (kotlinx's {@code onTimeout}, Go's {@code case <-time.After(d)}). A zero
     * timeout is ready at once, so it is chosen when no clause before it in argument order can
     * complete at once. At most one per select. A select cancelled while it waits throws
     * {@link CancellationException}, also when it sees the cancellation only after its timeout has
     * passed. Unlike a {@code Coro.withTimeoutOrNull} around the select, it tells a timeout apart
     * from a handler that returns null, and cancels nothing.
     *
     * @throws NullPointerException if {@code timeout} or {@code onTimeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public static <R> Clause<R> onTimeout(Duration timeout, Supplier<? extends R> onTimeout) {
        if (timeout == null) {
            throw new NullPointerException("select timeout must not be null");
        }
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("select timeout " + timeout + " must not be negative");
        }
        long nanos;
        try {
            nanos = timeout.toNanos();
        } catch (ArithmeticException e) {
            nanos = Long.MAX_VALUE;
        }
        return new TimeoutClause<>(Math.min(nanos, Long.MAX_VALUE >> 1), Objects.requireNonNull(onTimeout, "onTimeout"));
    }

    /** {@link #onTimeout}'s clause: queued nowhere; the select's own timed park decides it. */
    static final class TimeoutClause<R> extends Clause<R> {
        final long nanos;
        private final Supplier<? extends R> onTimeout;

        TimeoutClause(long nanos, Supplier<? extends R> onTimeout) {
            super(null, null, 0, null, null);
            this.nanos = nanos;
            this.onTimeout = onTimeout;
        }

        @Override
        Object tryNow(Object[] woken) {
            return nanos == 0 ? this : NOT_READY;
        }

        @Override
        Waiter enqueue(Waiter w) {
            w.state = Waiter.DONE; // complete before it can win: the select reads the winner's state without a lock
            return w;
        }

        @Override
        void withdraw(Waiter w) {}

        @Override
        R handle(Object got) {
            return onTimeout.get();
        }
    }

    /**
     * A clause chosen when {@code task} has ended (kotlinx's {@code job.onJoin}): the select then
     * returns {@code onEnd}'s result. It only waits for the end: it does not observe the task's
     * outcome, so a failure of the task is still reported by its group unless someone joins it (see
     * {@link #onAwait}). The task must not be the one running the select, nor one it runs under:
     * a task ends only after its select returns and after the tasks spawned under it, so such a
     * clause could never be chosen, and the select refuses it.
     *
     * @throws NullPointerException if {@code task} or {@code onEnd} is null
     */
    public static <R> Clause<R> onJoin(Task<?> task, Supplier<? extends R> onEnd) {
        Objects.requireNonNull(onEnd, "onEnd");
        return new JoinClause<>(Objects.requireNonNull(task, "task"), null, onEnd);
    }

    /**
     * A clause chosen when {@code task} has ended (kotlinx's {@code deferred.onAwait}): the select
     * then returns what {@code onValue} makes of the task's value, or throws the task's failure as
     * {@link Task#join()} does ({@link CancellationException} for a cancelled task). Chosen, it
     * observes the task's outcome as a join does: a select waiting in it when the task ends counts
     * as observing it from that moment, as a waiting join does, so the task's group does not report
     * the failure as well. Not chosen, it observes nothing. The task must not be the one running
     * the select, nor one it runs under, as for {@link #onJoin}.
     *
     * @throws NullPointerException if {@code task} or {@code onValue} is null
     */
    public static <T, R> Clause<R> onAwait(Task<T> task, Function<? super T, ? extends R> onValue) {
        Objects.requireNonNull(onValue, "onValue");
        return new JoinClause<>(Objects.requireNonNull(task, "task"), onValue, null);
    }

    /**
     * {@link #onJoin}'s and {@link #onAwait}'s clause: the select registers in the task's list of
     * waiters (a registration it takes back, as a join that gives up does, so a long-lived task
     * that selects are repeatedly made over keeps nothing of them), and the task's end claims the
     * run for it, as a channel operation's completer does; for a task that ended before the clause
     * could register, the select claims the run itself.
     */
    static final class JoinClause<T, R> extends Clause<R> {
        final Task<T> task;
        private final Function<? super T, ? extends R> onValue;
        private final Supplier<? extends R> onEnd;

        JoinClause(Task<T> task, Function<? super T, ? extends R> onValue, Supplier<? extends R> onEnd) {
            super(null, null, 0, null, null);
            this.task = task;
            this.onValue = onValue;
            this.onEnd = onEnd;
        }

        String what() {
            return onValue == null ? "Select.onJoin" : "Select.onAwait";
        }

        @Override
        void refuseHopeless() {
            Tasks.endWaits().refuseHopeless(task, what());
        }

        @Override
        Object tryNow(Object[] woken) {
            return task.isDone() ? task : NOT_READY;
        }

        @Override
        Waiter enqueue(Waiter w) {
            w.state = Waiter.DONE; // complete before it can win: the select reads the winner's state without a lock
            SelectWaiter node = (SelectWaiter) w;
            boolean observes = onValue != null;
            // Run by the task's end, on its thread, before its group hears of the end: a select
            // that wins here for onAwait hands the outcome out, so the task counts as observed.
            // The select itself may have claimed the run for it first, seeing the task done before
            // its end got here (when it gave up waiting): then too it hands the outcome out.
            w.value = Tasks.endWaits().register(task, what(), () -> (node.run.claim(node) || node.run.winner == node) && observes);
            return w;
        }

        @Override
        void withdraw(Waiter w) {
            if (w.value != null) {
                Tasks.endWaits().withdraw(task, w.value);
            }
        }

        @Override
        R handle(Object got) {
            return onValue == null ? onEnd.get() : onValue.apply(task.join());
        }
    }

    /** Returned by {@link Clause#tryNow} when the operation would have to wait. */
    static final Object NOT_READY = new Object();

    /** Gives every channel and primitive its place in the order in which a select takes their locks. */
    private static final java.util.concurrent.atomic.AtomicLong LOCK_ORDER = new java.util.concurrent.atomic.AtomicLong();

    /** A new channel's or primitive's place in the order in which a select takes their locks. */
    static long nextLockOrder() {
        return LOCK_ORDER.getAndIncrement();
    }

    /** What a cancelled select claims itself with, so that no completer can. */
    private static final Waiter CANCELLED = new Waiter(null, null);

    /**
     * One operation a select may complete, made by {@link Channel#onReceive}, {@link Channel#onSend},
     * {@link Semaphore#onAcquire}, {@link Lock#onLock}, {@link Event#onSet}, {@link #onTimeout},
     * {@link #onJoin} or {@link #onAwait}. Immutable; holds nothing until a select uses it.
     *
     * @param <R> what its handler returns
     */
    public abstract static sealed class Clause<R> permits Channel.ReceiveClause, Channel.SendClause, Semaphore.AcquireClause,
            Lock.LockClause, Event.SetClause, TimeoutClause, JoinClause {
        /**
         * The channel or primitive (semaphore, lock, event) of the operation, or null for the
         * clauses of {@link #onTimeout}, {@link #onJoin} and {@link #onAwait}.
         */
        final Object source;
        /** {@link #source}'s lock, which guards its state and queues, or null. */
        final ReentrantLock lock;
        /** Where {@link #lock} comes in the order a select takes several in ({@link #nextLockOrder}). */
        final long lockOrder;
        /** Where the operation waits in {@link #source}, or null. */
        private final WaitQueue queue;
        /** The item a send clause sends, null for any other. */
        final Object item;

        Clause(Object source, ReentrantLock lock, long lockOrder, WaitQueue queue, Object item) {
            this.source = source;
            this.lock = lock;
            this.lockOrder = lockOrder;
            this.queue = queue;
            this.item = item;
        }

        /**
         * Refuses, before the select takes any lock or looks at any clause, a clause that this
         * select's task could never see completed or must not wait in; nothing by default.
         */
        void refuseHopeless() {}

        /** Under the channel's lock: queues {@code w} where this operation waits, and returns it. */
        Waiter enqueue(Waiter w) {
            queue.addLast(w);
            return w;
        }

        /** Under the channel's lock: unlinks {@code w} if it is still queued. */
        void withdraw(Waiter w) {
            if (queue.contains(w)) {
                queue.remove(w);
            }
        }

        /**
         * Under the channel's lock: completes the operation if it needs no waiting and returns the
         * item received (or anything, for a send), or {@link Channel#CLOSED}; else
         * {@link #NOT_READY}. A waiter it completed goes into {@code woken[0]}, to be woken once
         * the locks are released.
         */
        abstract Object tryNow(Object[] woken);

        /** What the select returns for {@code got} (an item, or {@link Channel#CLOSED}). */
        abstract R handle(Object got);
    }

    /**
     * One select's claim: the registration that won, or {@link #CANCELLED}. Completers claim it under
     * the lock of the registration's channel, and a registration of a run already claimed is stale:
     * they drop it and look at the next waiter.
     */
    static final class Run {
        private static final VarHandle WINNER;

        static {
            try {
                WINNER = MethodHandles.lookup().findVarHandle(Run.class, "winner", Waiter.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        volatile Waiter winner;

        boolean claim(Waiter w) {
            return WINNER.compareAndSet(this, null, w);
        }
    }

    /** A select's registration in one channel's queue. */
    static final class SelectWaiter extends Waiter {
        final Run run;
        final int clause;

        SelectWaiter(TaskHandle handle, Run run, int clause, Object item) {
            super(handle, item);
            this.run = run;
            this.clause = clause;
        }
    }

    /**
     * Whether {@code w}, just unlinked from a queue by a completer under its lock, may be completed:
     * a plain waiter always, a select's only if this claims its select for it.
     */
    static boolean claim(Waiter w) {
        return !(w instanceof SelectWaiter s) || s.run.claim(w);
    }
}
