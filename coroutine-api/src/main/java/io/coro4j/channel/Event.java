package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A flag tasks can wait for, as asyncio's {@code Event}: {@link #set()} raises it and wakes every
 * waiting task, {@link #clear()} lowers it, {@link #await()} suspends until it is raised (returning
 * at once if it is). A task waiting when {@code set()} is called returns even if the event is
 * cleared again before it runs.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #await()} is a suspension point and must run inside a
 * task; {@link #set()}, {@link #clear()} and {@link #isSet()} may be called from any thread.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: an await
 * cancelled while the event is not set throws {@link CancellationException}; one that was released
 * by {@code set()} before the task saw the cancellation returns normally.
 *
 * <p><b>Select.</b> {@link #onSet} is a {@link Select} clause, so a task can wait for the next
 * item or a stop signal, whichever comes first:
 * {@code Select.select(jobs.onReceive(job -> run(job)), stop.onSet(() -> STOPPED))}.
 *
 * <p><b>Progress.</b> {@link #isSet()} is wait-free and {@link #await()} on a set event takes no
 * lock; the rest takes a lock held for a few field updates. A waiting task holds no thread.
 */
public final class Event {

    private final ReentrantLock lock = new ReentrantLock();
    /** Where this event's lock comes in the order a {@link Select} takes several in. */
    private final long lockOrder = Select.nextLockOrder();
    /**
     * Tasks suspended in await, and selects waiting in {@link #onSet} clauses; guarded by
     * {@link #lock}. Invariant: empty while {@link #set} is true.
     */
    private final WaitQueue waiters = new WaitQueue();
    /** Written under {@link #lock}; volatile for the lock-free reads. */
    private volatile boolean set;

    /** An event that is not set. */
    public Event() {}

    /** Raises the flag and wakes every waiting task. Idempotent; any thread. */
    public void set() {
        Waiter woken = null;
        lock.lock();
        try {
            set = true;
            woken = waiters.drainInto(null, Waiter.DONE);
        } finally {
            lock.unlock();
        }
        Waiter.wakeAll(woken);
    }

    /** Lowers the flag: later {@link #await()}s suspend until the next {@link #set()}. Any thread. */
    public void clear() {
        lock.lock();
        try {
            set = false;
        } finally {
            lock.unlock();
        }
    }

    /** Whether the flag is raised. Any thread. */
    public boolean isSet() {
        return set;
    }

    /**
     * Suspends until the flag is raised; returns at once if it is.
     *
     * @throws CancellationException if the task is cancelled on entry or while waiting
     * @throws IllegalStateException outside a task
     */
    public void await() {
        TaskHandle self = Tasks.current("Event.await");
        self.checkCancelled();
        if (set) {
            return;
        }
        Waiter w;
        lock.lock();
        try {
            if (set) {
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
     * A {@link Select} clause that waits for the flag, as {@link #await()} would, and makes the
     * select return {@code onSet}'s result. It can complete at once while the flag is raised;
     * choosing it takes nothing, so a select that completes another clause leaves the event as it
     * was for everyone else.
     *
     * @throws NullPointerException if {@code onSet} is null
     */
    public <R> Select.Clause<R> onSet(Supplier<? extends R> onSet) {
        return new SetClause<>(this, Objects.requireNonNull(onSet, "onSet"));
    }

    /** {@link #onSet}'s clause. */
    static final class SetClause<R> extends Select.Clause<R> {
        private final Event event;
        private final Supplier<? extends R> onSet;

        SetClause(Event event, Supplier<? extends R> onSet) {
            super(event, event.lock, event.lockOrder, event.waiters, null);
            this.event = event;
            this.onSet = onSet;
        }

        @Override
        Object tryNow(Object[] woken) {
            return event.set ? event : Select.NOT_READY;
        }

        @Override
        R handle(Object got) {
            return onSet.get();
        }
    }

    /**
     * The number of tasks suspended in {@link #await()}, and of selects waiting in {@link #onSet}
     * (one waiting in several places counts in each until it has withdrawn); a snapshot, for
     * monitoring and tests. Any thread.
     */
    public int queueLength() {
        return waiters.size(lock);
    }

    @Override
    public String toString() {
        return "Event[" + (set ? "set" : "not set, " + queueLength() + " waiting") + "]";
    }
}
