package io.coro4j.channel;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * A condition variable for tasks, as asyncio's {@code Condition} (and
 * {@link java.util.concurrent.locks.Condition} for threads): a task holding the {@link Lock}
 * {@link #await()}s until another task {@link #signal()}s, releasing the lock while it waits and
 * holding it again when it returns.
 *
 * <pre>{@code
 * lock.lock();
 * try {
 *     notEmpty.awaitUntil(() -> !queue.isEmpty());
 *     item = queue.poll();
 * } finally {
 *     lock.unlock();
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> Thread-safe. Every method but {@link #queueLength()} must run inside a task
 * that holds the lock; {@link #await()} and {@link #awaitUntil} are suspension points.
 *
 * <p><b>Fairness.</b> FIFO: {@code signal()} wakes the longest-waiting task. A woken task then
 * waits for the lock as {@link Lock#lock()} does, behind the tasks already waiting for it, so
 * by the time it holds the lock again the state it waited for may have changed: wait in a loop,
 * or with {@link #awaitUntil}.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}, and the
 * lock is held again whichever way an await ends: one cancelled while it waits takes the lock
 * again (waiting for it, held off from the cancellation, as in {@link Coro#shielded}) and then
 * throws {@link CancellationException}, having consumed no signal; one that was signalled before
 * the task saw the cancellation returns normally, and the task sees the cancellation at its next
 * suspension point. An await that fails all the same after a {@link #signal()} woke it (an
 * {@link Error} from its park or while it takes the lock back) passes that signal on to the next
 * waiting task, as a {@link java.util.concurrent.locks.Condition} must. So a signal is never lost
 * to a cancelled or failed waiter, and
 * {@code lock(); try { ... await() ... } finally { unlock(); }} never leaves the lock held nor
 * unlocks it twice.
 *
 * <p><b>Progress.</b> Lock-based, its inner lock held for a few field updates; a waiting task
 * suspends, holding no thread.
 */
public final class Condition {

    private final Lock lock;
    private final ReentrantLock sync = new ReentrantLock();
    /** Tasks suspended in await; guarded by {@link #sync}. */
    private final WaitQueue waiters = new WaitQueue();
    /** The {@link Waiter#value} of a waiter that {@link #signal()} woke, not {@link #signalAll()}. */
    private static final Object SIGNALLED = new Object();

    /**
     * A condition over {@code lock}: the lock a task must hold to await or signal it. Several
     * conditions may share one lock (a buffer's "not full" and "not empty").
     *
     * @throws NullPointerException if {@code lock} is null
     */
    public Condition(Lock lock) {
        this.lock = Objects.requireNonNull(lock, "lock");
    }

    /** A condition over a new {@link Lock} of its own, as asyncio's {@code Condition()}. */
    public Condition() {
        this(new Lock());
    }

    /** The lock a task must hold to await or signal this condition. */
    public Lock lock() {
        return lock;
    }

    /**
     * Releases the lock, suspends until a {@link #signal()} or {@link #signalAll()} wakes this
     * task, then takes the lock again and returns holding it.
     *
     * @throws IllegalStateException if the current task does not hold the lock, or outside a task, or
     *     where the task cannot suspend (threadpool: a class initializer; the lock is then still held)
     * @throws CancellationException if the task is cancelled on entry (the lock is then still
     *     held, never released) or while waiting (the lock is then held again)
     */
    public void await() {
        TaskHandle self = Tasks.current("Condition.await");
        requireHeld("await");
        self.checkCancelled();
        // Refused here, still holding the lock, where the task cannot suspend (threadpool: a class
        // initializer): past the unlock, which may hand the lock to a waiting task, taking it back
        // would need a park that fails too, and the await would end without the lock.
        self.checkCanSuspend();
        Waiter w = new Waiter(self, null);
        sync.lock();
        try {
            waiters.addLast(w);
        } finally {
            sync.unlock();
        }
        lock.unlock();
        Throwable failure = null;
        try {
            Waiter.await(sync, waiters, w);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        try {
            relock(failure);
        } catch (RuntimeException | Error e) {
            failure = e; // the wait's failure, if any, is suppressed in it
        }
        if (failure != null) {
            if (w.value == SIGNALLED) {
                // Signalled, and failing all the same (an Error from the park after the signal, or
                // from taking the lock back): the signal goes on to the next waiter, as a
                // java.util.concurrent Condition's must when it favours an interrupt over a signal.
                passOnSignal(failure);
            }
            if (failure instanceof Error e) {
                throw e;
            }
            throw (RuntimeException) failure;
        }
    }

    /**
     * Awaits until {@code predicate} holds: tests it (holding the lock) and {@link #await()}s
     * while it does not. Returns at once, without releasing the lock, if it holds already.
     *
     * @throws NullPointerException if {@code predicate} is null
     * @throws IllegalStateException if the current task does not hold the lock, or outside a task
     * @throws CancellationException as {@link #await()}; the lock is held then too
     */
    public void awaitUntil(BooleanSupplier predicate) {
        Objects.requireNonNull(predicate, "predicate");
        Tasks.current("Condition.awaitUntil");
        requireHeld("awaitUntil");
        while (!predicate.getAsBoolean()) {
            await();
        }
    }

    /**
     * Wakes the longest-waiting task, if one waits; it returns from {@link #await()} once it holds
     * the lock again, so not before this task unlocks it.
     *
     * @return whether a task was waiting (and is now woken)
     * @throws IllegalStateException if the current task does not hold the lock, or outside a task
     */
    public boolean signal() {
        Tasks.current("Condition.signal");
        requireHeld("signal");
        return signalFirst();
    }

    /** Wakes the longest-waiting task, marked as woken by {@link #signal()} alone; whether one waited. */
    private boolean signalFirst() {
        Waiter next;
        sync.lock();
        try {
            next = waiters.pollFirst();
            if (next == null) {
                return false;
            }
            next.value = SIGNALLED;
            next.complete();
        } finally {
            sync.unlock();
        }
        next.handle.wake();
        return true;
    }

    /**
     * Hands the signal that woke an await which then failed to the next waiting task, if any; a
     * failure to do so (only for want of memory or stack) is added to the await's. A task that
     * {@link #signalAll()} woke passes nothing on: every task then waiting was woken with it.
     */
    private void passOnSignal(Throwable awaitFailure) {
        try {
            signalFirst();
        } catch (RuntimeException | Error e) {
            awaitFailure.addSuppressed(e);
        }
    }

    /**
     * Wakes every waiting task, in the order they came; each returns from {@link #await()} once it
     * holds the lock again.
     *
     * @return how many tasks were waiting (and are now woken)
     * @throws IllegalStateException if the current task does not hold the lock, or outside a task
     */
    public int signalAll() {
        Tasks.current("Condition.signalAll");
        requireHeld("signalAll");
        Waiter woken;
        int n;
        sync.lock();
        try {
            n = waiters.size();
            woken = waiters.drainInto(null, Waiter.DONE);
        } finally {
            sync.unlock();
        }
        Waiter.wakeAll(woken);
        return n;
    }

    /** The number of tasks suspended in {@link #await()}; a snapshot, for monitoring and tests. Any thread. */
    public int queueLength() {
        return waiters.size(sync);
    }

    @Override
    public String toString() {
        return "Condition[" + queueLength() + " waiting, " + lock + "]";
    }

    private void requireHeld(String what) {
        Task<?> me = Coro.currentTask();
        if (!lock.isHeldBy(me)) {
            throw new IllegalStateException("Condition." + what + " needs its lock held by the current task " + me.name()
                    + ": lock it first (" + lock + ")");
        }
    }

    /**
     * Takes the lock again after a wait, however the wait ended: held off from a cancellation,
     * which stays pending (it is raised by the wait itself, or at the next suspension point), so
     * that the caller's {@code finally} unlocks a lock it holds.
     */
    private void relock(Throwable waitFailure) {
        try {
            Coro.shielded(() -> {
                lock.lock();
                return null;
            });
        } catch (RuntimeException | Error e) {
            if (waitFailure != null) {
                e.addSuppressed(waitFailure);
            }
            throw e;
        } catch (Exception unreachable) {
            throw new IllegalStateException(unreachable); // lock() throws no checked exception
        }
    }
}
