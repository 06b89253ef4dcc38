package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A counting semaphore for tasks, bounded like asyncio's {@code BoundedSemaphore}: it starts with
 * {@code permits} permits, {@link #acquire()} takes one (suspending while there is none) and
 * {@link #release()} gives one back; releasing more than were acquired is an error.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #acquire()} is a suspension point and must run inside a
 * task; {@link #tryAcquire()}, {@link #release()} and the monitoring methods never wait and may be
 * called from any thread (a permit belongs to no task: one may acquire, another release).
 *
 * <p><b>Fairness.</b> FIFO: a released permit goes to the longest-waiting task, and
 * {@link #tryAcquire()} never takes a permit while a task waits for one.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: an
 * acquire cancelled while it waits throws {@link CancellationException} holding no permit; one
 * that was handed a permit before the task saw the cancellation returns normally holding it, so
 * {@code acquire(); try { ... } finally { release(); }} never leaks a permit.
 *
 * <p><b>Select.</b> {@link #onAcquire} is a {@link Select} clause: a permit, or whatever comes
 * first. With {@link Select#onTimeout} it is an acquire with a deadline:
 * <pre>{@code
 * if (Select.select(permits.onAcquire(() -> true), Select.onTimeout(Duration.ofSeconds(1), () -> false))) {
 *     try { ... } finally { permits.release(); }
 * }
 * }</pre>
 *
 * <p><b>Progress.</b> Lock-based, the lock held for a few field updates; a waiting task suspends,
 * holding no thread. Linearizable.
 */
public final class Semaphore {

    private final int initial;
    private final ReentrantLock lock = new ReentrantLock();
    /** Where this semaphore's lock comes in the order a {@link Select} takes several in. */
    private final long lockOrder = Select.nextLockOrder();
    /**
     * Tasks suspended in acquire, and selects waiting in {@link #onAcquire} clauses; guarded by
     * {@link #lock}. Invariant: non-empty only while {@link #permits} is 0 (a select's stale
     * registration may linger until it is reached and dropped).
     */
    private final WaitQueue waiters = new WaitQueue();
    /** Written under {@link #lock}; volatile for {@link #availablePermits()}. */
    private volatile int permits;

    /**
     * A semaphore with {@code permits} permits, all available.
     *
     * @throws IllegalArgumentException if {@code permits} is less than 1
     */
    public Semaphore(int permits) {
        if (permits < 1) {
            throw new IllegalArgumentException("semaphore permits " + permits + " should be at least 1");
        }
        this.initial = permits;
        this.permits = permits;
    }

    /**
     * Takes a permit, suspending until one is available.
     *
     * @throws CancellationException if the task is cancelled on entry or while waiting (no permit is then held)
     * @throws IllegalStateException outside a task
     */
    public void acquire() {
        TaskHandle self = Tasks.current("Semaphore.acquire");
        self.checkCancelled();
        Waiter w;
        lock.lock();
        try {
            if (permits > 0) {
                permits--;
                return;
            }
            w = new Waiter(self, null);
            waiters.addLast(w);
        } finally {
            lock.unlock();
        }
        Waiter.await(lock, waiters, w);
    }

    /**
     * A {@link Select} clause that takes a permit, as {@link #acquire()} would, and makes the
     * select return {@code onAcquired}'s result; the permit is then the selecting task's to
     * release, also if the handler throws. A select waiting in it takes its place in the FIFO of
     * waiting acquires; one that completes another clause takes no permit (a permit released to
     * it meanwhile goes to the next waiter).
     *
     * @throws NullPointerException if {@code onAcquired} is null
     */
    public <R> Select.Clause<R> onAcquire(Supplier<? extends R> onAcquired) {
        return new AcquireClause<>(this, Objects.requireNonNull(onAcquired, "onAcquired"));
    }

    /** {@link #onAcquire}'s clause. */
    static final class AcquireClause<R> extends Select.Clause<R> {
        private final Semaphore semaphore;
        private final Supplier<? extends R> onAcquired;

        AcquireClause(Semaphore semaphore, Supplier<? extends R> onAcquired) {
            super(semaphore, semaphore.lock, semaphore.lockOrder, semaphore.waiters, null);
            this.semaphore = semaphore;
            this.onAcquired = onAcquired;
        }

        @Override
        Object tryNow(Object[] woken) {
            if (semaphore.permits > 0) {
                semaphore.permits--;
                return semaphore;
            }
            return Select.NOT_READY;
        }

        @Override
        R handle(Object got) {
            return onAcquired.get();
        }
    }

    /** Takes a permit if one is available now. Any thread. */
    public boolean tryAcquire() {
        lock.lock();
        try {
            if (permits > 0) {
                permits--;
                return true;
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives a permit back: to the longest-waiting task if there is one. Any thread.
     *
     * @throws IllegalStateException if every permit is already available (released more often
     *     than acquired)
     */
    public void release() {
        Waiter next;
        lock.lock();
        try {
            if (permits == initial) {
                throw new IllegalStateException("semaphore released more times than acquired: all " + initial
                        + " permits are already available");
            }
            next = waiters.pollFirstClaimable();
            if (next == null) {
                permits++;
                return;
            }
            next.complete();
        } finally {
            lock.unlock();
        }
        next.handle.wake();
    }

    /** The number of permits available now; a snapshot. Any thread. */
    public int availablePermits() {
        return permits;
    }

    /**
     * The number of tasks suspended in {@link #acquire()}, and of selects waiting in
     * {@link #onAcquire} (one waiting in several places counts in each until it has withdrawn); a
     * snapshot, for monitoring and tests. Any thread.
     */
    public int queueLength() {
        return waiters.size(lock);
    }

    @Override
    public String toString() {
        return "Semaphore[" + permits + " of " + initial + " permits available, " + queueLength() + " waiting]";
    }
}
