package io.coro4j.channel;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;

/**
 * A FIFO of {@link Waiter}s: an intrusive doubly linked list, so that a cancelled waiter is
 * unlinked from the middle in O(1). Not thread-safe: guarded by the owning primitive's lock.
 */
final class WaitQueue {

    private Waiter head;
    private Waiter tail;
    private int size;

    boolean isEmpty() {
        return head == null;
    }

    int size() {
        return size;
    }

    /**
     * {@link #size()} read under {@code guard}, the owning primitive's lock: for its snapshot
     * accessors (queue lengths), which any thread may call.
     */
    int size(ReentrantLock guard) {
        guard.lock();
        try {
            return size;
        } finally {
            guard.unlock();
        }
    }

    void addLast(Waiter w) {
        w.prev = tail;
        w.next = null;
        if (tail == null) {
            head = w;
        } else {
            tail.next = w;
        }
        tail = w;
        size++;
    }

    /** Unlinks and returns the first waiter, or {@code null} if there is none. */
    Waiter pollFirst() {
        Waiter w = head;
        if (w != null) {
            remove(w);
        }
        return w;
    }

    /**
     * Unlinks and returns the first waiter that may be completed, or {@code null} if there is none:
     * unlinks and drops on the way a {@link Select}'s registrations whose select has completed
     * another (or been cancelled), and claims the select of the one it returns.
     */
    Waiter pollFirstClaimable() {
        Waiter w;
        do {
            w = pollFirst();
        } while (w != null && !Select.claim(w));
        return w;
    }

    /** Whether {@code w}, which may be linked nowhere or here only, is linked here. */
    boolean contains(Waiter w) {
        return w.prev != null || head == w;
    }

    /**
     * Unlinks every waiter, completes as {@code state} each that may be completed
     * ({@link #pollFirstClaimable}), clearing its value first as the protocol in {@link Waiter}
     * wants, and returns those in queue order, first come first, linked
     * through {@link Waiter#next} and followed by {@code chain}, for {@link Waiter#wakeAll} once
     * the lock is released: so they are woken, and on one carrier resume, first come, first served.
     */
    Waiter drainInto(Waiter chain, int state) {
        return drainInto(chain, state, null);
    }

    /**
     * {@link #drainInto(Waiter, int)}, giving each waiter completed the value {@code values} makes
     * of its place among them (0 for the first), or null where {@code values} is null.
     */
    Waiter drainInto(Waiter chain, int state, IntFunction<Object> values) {
        Waiter first = null;
        Waiter last = null;
        Waiter w;
        int place = 0;
        while ((w = pollFirstClaimable()) != null) {
            w.value = values == null ? null : values.apply(place++);
            w.state = state; // after the value, which its task reads once it sees the state
            if (last == null) {
                first = w;
            } else {
                last.next = w;
            }
            last = w;
        }
        if (last == null) {
            return chain;
        }
        last.next = chain;
        return first;
    }

    /** Unlinks {@code w}, which must be in this queue. */
    void remove(Waiter w) {
        Waiter p = w.prev;
        Waiter n = w.next;
        if (p == null) {
            head = n;
        } else {
            p.next = n;
        }
        if (n == null) {
            tail = p;
        } else {
            n.prev = p;
        }
        w.prev = null;
        w.next = null;
        size--;
    }
}
