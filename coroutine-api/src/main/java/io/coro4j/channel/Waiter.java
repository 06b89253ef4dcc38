package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A task waiting in one of this package's primitives, and the node of a {@link WaitQueue}.
 *
 * <p>Everything but {@link #state} is guarded by the primitive's lock. Whoever completes the
 * waiter does so under that lock: it writes {@link #value} (if any) and then the volatile
 * {@link #state}, and calls {@code handle.wake()} after releasing the lock. The waiting task reads
 * {@code state} without the lock and, once it is no longer {@link #WAITING}, {@code value}.
 * A {@link Select}'s waiters ({@link Select.SelectWaiter}) must be claimed before that
 * ({@link WaitQueue#pollFirstClaimable}).
 */
class Waiter {

    /** Linked in its queue; nobody has completed it. */
    static final int WAITING = 0;
    /** Completed: the operation took effect (item handed over, permit or lock granted, event set). */
    static final int DONE = 1;
    /** Unlinked by its own task, which was cancelled while waiting; the operation had no effect. */
    static final int CANCELLED = 2;
    /** Unlinked by {@code Channel.close()}; the operation had no effect. */
    static final int CLOSED = 3;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Waiter.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final TaskHandle handle;
    volatile int state;
    /** The item to send, the item received, or the task that will own a lock. */
    Object value;
    Waiter prev;
    Waiter next;

    Waiter(TaskHandle handle, Object value) {
        this.handle = handle;
        this.value = value;
    }

    /**
     * Marks this waiter {@link #DONE}: under the primitive's lock, after writing {@link #value}, and
     * to be followed by {@code handle.wake()} once the lock is released. A release store, not a
     * volatile one (which costs a fence): the waiting task reads the state with a volatile read
     * and, having read it still {@link #WAITING}, parks, and the wake makes it read again.
     */
    void complete() {
        STATE.setRelease(this, DONE);
    }

    /** Wakes the tasks of a chain made by {@link WaitQueue#drainInto}; call it without the lock. */
    static void wakeAll(Waiter chain) {
        while (chain != null) {
            Waiter next = chain.next;
            chain.next = null;
            chain.handle.wake();
            chain = next;
        }
    }

    /**
     * Parks the waiter's task (the caller) until {@code w} is completed, and returns its final
     * state. If the park throws while {@code w} still waits (the task was cancelled, or it cannot
     * suspend here), unlinks it from {@code queue} under {@code lock}, marks it
     * {@link #CANCELLED} and rethrows: the operation had no effect. If {@code w} was completed
     * first, the operation took effect, so the completed state is returned and an exception from
     * the park is dropped: a cancellation stays pending (it is level-triggered), and a park that
     * cannot suspend fails again at the next one that must wait. Only an {@link Error} is
     * rethrown then. Must be called without holding {@code lock}.
     */
    static int await(ReentrantLock lock, WaitQueue queue, Waiter w) {
        try {
            while (w.state == WAITING) {
                w.handle.park();
            }
            return w.state;
        } catch (Throwable t) {
            lock.lock();
            try {
                if (w.state == WAITING) {
                    queue.remove(w);
                    w.state = CANCELLED;
                    throw t;
                }
            } finally {
                lock.unlock();
            }
            if (t instanceof Error) {
                throw t;
            }
            // Thrown, the item handed over, the permit or the lock granted would be lost.
            return w.state;
        }
    }
}
