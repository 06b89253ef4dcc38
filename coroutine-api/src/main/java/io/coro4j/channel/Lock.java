package io.coro4j.channel;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Mutual exclusion between tasks, as asyncio's {@code Lock}: {@link #lock()} suspends the task
 * (never blocking its carrier thread) while another task holds the lock. Use it instead of
 * {@code synchronized} or a {@code java.util.concurrent} lock around code that suspends.
 *
 * <p>The owner is the {@link Task} ({@link Coro#currentTask()}), not the thread, which may change
 * across a suspension. Not reentrant: {@link #lock()} by the owner throws instead of deadlocking,
 * and only the owner may {@link #unlock()}; a child task is not its parent. A generator body runs
 * in the task that resumes it, so a lock it holds across a yield belongs to the task that resumed
 * it when it locked: if another task closes the generator (or the cleaner closes it once it is
 * unreachable), the body's {@code unlock()} throws and the lock stays held. Release a lock before
 * a yield.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #lock()}, {@link #tryLock()}, {@link #unlock()} and
 * {@link #withLock} must run inside a task; {@link #isLocked()} and {@link #queueLength()} may be
 * called from any thread.
 *
 * <p><b>Fairness.</b> FIFO: {@code unlock()} hands the lock to the longest-waiting task, and
 * {@link #tryLock()} never takes it while a task waits.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: a lock
 * cancelled while it waits throws {@link CancellationException} without the lock; one that was
 * handed the lock before the task saw the cancellation returns normally holding it, so
 * {@code lock(); try { ... } finally { unlock(); }} never leaves the lock held.
 *
 * <p>{@link Condition} is a condition variable over a lock: wait, holding it, until another task
 * signals.
 *
 * <p><b>Select.</b> {@link #onLock} is a {@link Select} clause: the lock, or whatever comes first.
 * With {@link Select#onTimeout} it is a lock with a deadline:
 * {@code if (Select.select(lock.onLock(() -> true), Select.onTimeout(timeout, () -> false))) { try { ... } finally { lock.unlock(); } }}.
 *
 * <p><b>Progress.</b> Lock-based, the inner lock held for a few field updates; a waiting task
 * suspends, holding no thread. Linearizable.
 */
public final class Lock {

    private final ReentrantLock sync = new ReentrantLock();
    /** Where this lock's inner lock comes in the order a {@link Select} takes several in. */
    private final long lockOrder = Select.nextLockOrder();
    /**
     * Tasks suspended in lock, and selects waiting in {@link #onLock} clauses, each with its task as
     * the value; guarded by {@link #sync}. Invariant: non-empty only while {@link #owner} is set (a
     * select's stale registration may linger until it is reached and dropped).
     */
    private final WaitQueue waiters = new WaitQueue();
    /** Written under {@link #sync}; volatile for {@link #isLocked()}. */
    private volatile Task<?> owner;

    /** A lock that is not held. */
    public Lock() {}

    /**
     * Acquires the lock, suspending while another task holds it.
     *
     * @throws IllegalStateException if the current task already holds it (re-locking would
     *     deadlock), or outside a task
     * @throws CancellationException if the task is cancelled on entry or while waiting (the lock
     *     is then not held)
     */
    public void lock() {
        TaskHandle self = Tasks.current("Lock.lock");
        Task<?> me = Coro.currentTask();
        self.checkCancelled();
        Waiter w;
        sync.lock();
        try {
            if (owner == me) {
                throw relocked(me);
            }
            if (owner == null) {
                owner = me;
                return;
            }
            w = new Waiter(self, me);
            waiters.addLast(w);
        } finally {
            sync.unlock();
        }
        Waiter.await(sync, waiters, w);
    }

    /**
     * Acquires the lock if no task holds it.
     *
     * @return whether the current task now holds the lock
     * @throws IllegalStateException if the current task already holds it, or outside a task
     */
    public boolean tryLock() {
        Tasks.current("Lock.tryLock");
        Task<?> me = Coro.currentTask();
        sync.lock();
        try {
            if (owner == me) {
                throw relocked(me);
            }
            if (owner == null) {
                owner = me;
                return true;
            }
            return false;
        } finally {
            sync.unlock();
        }
    }

    /**
     * Releases the lock, handing it to the longest-waiting task if there is one.
     *
     * @throws IllegalStateException if the current task does not hold the lock, or outside a task
     */
    public void unlock() {
        Tasks.current("Lock.unlock");
        Task<?> me = Coro.currentTask();
        Waiter next;
        sync.lock();
        try {
            Task<?> o = owner;
            if (o != me) {
                throw new IllegalStateException("lock is not held by the current task: " + me.name()
                        + (o == null ? " unlocked a lock that is free" : " unlocked a lock held by " + o.name()));
            }
            next = waiters.pollFirstClaimable();
            if (next == null) {
                owner = null;
                return;
            }
            owner = (Task<?>) next.value;
            next.complete();
        } finally {
            sync.unlock();
        }
        next.handle.wake();
    }

    /**
     * Runs {@code body} holding the lock: {@link #lock()}, then {@code body}, then {@link #unlock()}
     * however the body ends.
     *
     * @return what {@code body} returned
     * @throws Exception whatever {@code body} threw, unchanged (if the final {@code unlock()} then
     *     fails too, because the body released the lock itself, its failure is suppressed on the
     *     body's, as try-with-resources does); what {@link #lock()} throws; and that failure of
     *     {@code unlock()} if the body returned
     */
    public <R> R withLock(Callable<R> body) throws Exception {
        if (body == null) {
            throw new NullPointerException("body must not be null");
        }
        Tasks.current("Lock.withLock");
        lock();
        R value;
        try {
            value = body.call();
        } catch (Throwable failure) {
            try {
                unlock();
            } catch (Throwable unlockFailure) {
                failure.addSuppressed(unlockFailure);
            }
            throw failure;
        }
        unlock();
        return value;
    }

    /**
     * A {@link Select} clause that acquires the lock for the selecting task, as {@link #lock()}
     * would, and makes the select return {@code onLocked}'s result; the lock is then held by that
     * task, also if the handler throws. A select waiting in it takes its place in the FIFO of
     * waiting locks; one that completes another clause is not handed the lock (unlocked meanwhile,
     * it goes to the next waiter).
     *
     * @throws NullPointerException if {@code onLocked} is null
     */
    public <R> Select.Clause<R> onLock(Supplier<? extends R> onLocked) {
        return new LockClause<>(this, Objects.requireNonNull(onLocked, "onLocked"));
    }

    /** {@link #onLock}'s clause. */
    static final class LockClause<R> extends Select.Clause<R> {
        private final Lock lock;
        private final Supplier<? extends R> onLocked;

        LockClause(Lock lock, Supplier<? extends R> onLocked) {
            super(lock, lock.sync, lock.lockOrder, lock.waiters, null);
            this.lock = lock;
            this.onLocked = onLocked;
        }

        /** A select by the owner would wait for itself: refused, as {@link Lock#lock()} refuses it. */
        @Override
        void refuseHopeless() {
            Task<?> me = Coro.currentTask();
            if (lock.isHeldBy(me)) {
                throw relocked(me);
            }
        }

        @Override
        Object tryNow(Object[] woken) {
            if (lock.owner == null) {
                lock.owner = Coro.currentTask();
                return lock;
            }
            return Select.NOT_READY;
        }

        @Override
        Waiter enqueue(Waiter w) {
            w.value = Coro.currentTask(); // unlock hands the lock to the task of the waiter it completes
            return super.enqueue(w);
        }

        @Override
        R handle(Object got) {
            return onLocked.get();
        }
    }

    /** Whether {@code task} holds the lock; exact when {@code task} is the current one. */
    boolean isHeldBy(Task<?> task) {
        return owner == task && task != null;
    }

    /** Whether some task holds the lock; a snapshot. Any thread. */
    public boolean isLocked() {
        return owner != null;
    }

    /**
     * The number of tasks suspended in {@link #lock()}, and of selects waiting in {@link #onLock}
     * (one waiting in several places counts in each until it has withdrawn); a snapshot, for
     * monitoring and tests. Any thread.
     */
    public int queueLength() {
        return waiters.size(sync);
    }

    @Override
    public String toString() {
        Task<?> o = owner;
        return "Lock[" + (o == null ? "unlocked" : "held by " + o.name() + ", " + queueLength() + " waiting") + "]";
    }

    private static IllegalStateException relocked(Task<?> me) {
        return new IllegalStateException("lock is already held by the current task " + me.name()
                + ": re-locking would deadlock (Lock is not reentrant)");
    }
}
