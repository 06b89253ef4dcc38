package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

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
 * <p><b>Progress.</b> Lock-based, the lock held for a few field updates; a waiting task suspends,
 * holding no thread. Linearizable.
 */
public final class Semaphore {

    private final int initial;
    private final ReentrantLock lock = new ReentrantLock();
    /** Tasks suspended in acquire; guarded by {@link #lock}. Invariant: non-empty only while {@link #permits} is 0. */
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
            next = waiters.pollFirst();
            if (next == null) {
                permits++;
                return;
            }
            next.state = Waiter.DONE;
        } finally {
            lock.unlock();
        }
        next.handle.wake();
    }

    /** The number of permits available now; a snapshot. Any thread. */
    public int availablePermits() {
        return permits;
    }

    /** The number of tasks suspended in {@link #acquire()}; a snapshot, for monitoring and tests. Any thread. */
    public int queueLength() {
        lock.lock();
        try {
            return waiters.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "Semaphore[" + permits + " of " + initial + " permits available, " + queueLength() + " waiting]";
    }
}
