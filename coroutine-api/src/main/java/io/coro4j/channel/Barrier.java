package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A cyclic barrier for tasks, as asyncio's {@code Barrier}: {@link #await()} suspends until
 * {@code parties} tasks are waiting, then releases them all at once, and the barrier is ready for
 * the next round.
 *
 * <pre>{@code
 * Barrier ready = new Barrier(3);
 * for (int i = 0; i < 3; i++) {
 *     group.spawn(() -> {
 *         prepare();
 *         ready.await();   // all three have prepared
 *         return run();
 *     });
 * }
 * }</pre>
 *
 * <p>{@link #await()} returns the task's place in its round, 0 for the first to arrive up to
 * {@code parties - 1} for the one whose arrival released the round (the reverse of
 * {@link java.util.concurrent.CyclicBarrier#await()}'s arrival index); each place goes to exactly
 * one task of a round (so one task can be picked to do something once per round).
 * {@link #abort()} breaks the barrier: the waiting tasks and every later await throw
 * {@link BrokenBarrierException}, until {@link #reset()}, which empties the barrier (the waiting
 * tasks throw too) and makes it usable again.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #await()} is a suspension point and must run inside a
 * task; the other methods never wait and may be called from any thread.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: an await
 * cancelled while it waits throws {@link CancellationException} and leaves the round as if the
 * task had never arrived (the round then needs another task; unlike
 * {@link java.util.concurrent.CyclicBarrier}, and as asyncio's barrier, a cancelled waiter does
 * not break it); one whose round was released before the task saw the cancellation returns its
 * place normally, and the task sees the cancellation at its next suspension point.
 *
 * <p><b>Progress.</b> Lock-based, the lock held for a few field updates (and, to release a
 * round, one pass over its waiters); a waiting task suspends, holding no thread.
 */
public final class Barrier {

    private final int parties;
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * The tasks waiting in this round, first come first; guarded by {@link #lock}. Its size is how
     * many have arrived: a cancelled waiter, unlinked, no longer counts. Always fewer than
     * {@link #parties}, and empty while {@link #broken}.
     */
    private final WaitQueue waiters = new WaitQueue();
    /** Written under {@link #lock}; volatile for {@link #isBroken()}. */
    private volatile boolean broken;

    /**
     * A barrier that releases each round of {@code parties} tasks.
     *
     * @throws IllegalArgumentException if {@code parties} is less than 1
     */
    public Barrier(int parties) {
        if (parties < 1) {
            throw new IllegalArgumentException("barrier parties " + parties + " should be at least 1");
        }
        this.parties = parties;
    }

    /**
     * Waits until {@code parties} tasks, this one included, are waiting, and returns this task's
     * place in that round: 0 for the first to arrive, {@code parties - 1} for the last, whose
     * arrival releases the round without suspending.
     *
     * @throws BrokenBarrierException if the barrier is broken ({@link #abort()}), or is aborted or
     *     reset while this task waits
     * @throws CancellationException if the task is cancelled on entry or while waiting (it then
     *     does not count in the round)
     * @throws IllegalStateException outside a task
     */
    public int await() {
        TaskHandle self = Tasks.current("Barrier.await");
        self.checkCancelled();
        Waiter w;
        Waiter released;
        lock.lock();
        try {
            if (broken) {
                throw new BrokenBarrierException("Barrier.await on a broken barrier (" + parties
                        + " parties; abort() was called): reset() it, or make a new one");
            }
            if (waiters.size() + 1 < parties) {
                w = new Waiter(self, null);
                waiters.addLast(w);
                released = null;
            } else {
                w = null;
                released = waiters.drainInto(null, Waiter.DONE, Integer::valueOf); // each its place in the round
            }
        } finally {
            lock.unlock();
        }
        if (w == null) {
            Waiter.wakeAll(released);
            return parties - 1;
        }
        if (Waiter.await(lock, waiters, w) == Waiter.CLOSED) {
            throw new BrokenBarrierException((String) w.value);
        }
        return (Integer) w.value;
    }

    /**
     * Breaks the barrier: the waiting tasks, and every later {@link #await()} until
     * {@link #reset()}, throw {@link BrokenBarrierException}. Idempotent; any thread.
     */
    public void abort() {
        breakRound(true, "the barrier was aborted while this task waited (" + parties + " parties)");
    }

    /**
     * Empties the barrier and mends it if broken: the waiting tasks throw
     * {@link BrokenBarrierException}, and the next {@code parties} awaits form a new round. Any
     * thread.
     */
    public void reset() {
        breakRound(false, "the barrier was reset while this task waited (" + parties + " parties)");
    }

    private void breakRound(boolean broken, String why) {
        Waiter woken;
        lock.lock();
        try {
            this.broken = broken;
            woken = waiters.drainInto(null, Waiter.CLOSED, place -> why);
        } finally {
            lock.unlock();
        }
        Waiter.wakeAll(woken);
    }

    /** The number of tasks needed to release a round. */
    public int parties() {
        return parties;
    }

    /** The number of tasks waiting in the current round; a snapshot, for monitoring and tests. Any thread. */
    public int waiting() {
        return waiters.size(lock);
    }

    /** Whether the barrier is broken ({@link #abort()}, not {@link #reset()} since). Any thread. */
    public boolean isBroken() {
        return broken;
    }

    @Override
    public String toString() {
        return "Barrier[" + (broken ? "broken" : waiting() + " of " + parties + " waiting") + "]";
    }
}
