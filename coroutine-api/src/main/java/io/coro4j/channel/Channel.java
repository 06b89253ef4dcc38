package io.coro4j.channel;

import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A FIFO channel between tasks (Go's channel, asyncio's {@code Queue} with Kotlin's
 * {@code close}): {@linkplain #rendezvous() rendezvous} (a send waits until a receiver takes the
 * item), {@linkplain #bounded(int) bounded} (a send waits while the buffer is full) or
 * {@linkplain #unbounded() unbounded} (a send never waits).
 *
 * <p><b>Several channels at once.</b> {@link #onReceive} and {@link #onSend} make the clauses of a
 * {@link Select}, which completes exactly one of several operations on several channels.
 *
 * <p><b>Threads.</b> Thread-safe. {@link #send}, {@link #receive} and iteration are suspension
 * points and must run inside a task; {@link #trySend}, {@link #tryReceive}, {@link #close},
 * {@link #isClosed} and the monitoring methods never wait and may be called from any thread.
 *
 * <p><b>Order.</b> Items from one producer are received in the order it sent them; waiting
 * senders and waiting receivers are each served first come, first served. Null items are
 * rejected with {@link NullPointerException}.
 *
 * <p><b>Closing</b> is drain-then-closed: after {@link #close()} every send throws
 * {@link ClosedChannelException}, including those waiting at the time (their items are not in the
 * channel), while items already buffered can still be received; once they are, every receive
 * throws {@link ClosedChannelException} and iteration ends. A channel is {@link AutoCloseable}, so a
 * producer may close it with try-with-resources.
 *
 * <p><b>Cancellation</b> follows the rule of the {@linkplain io.coro4j.channel package}: a send
 * or receive cancelled while it waits throws {@link CancellationException} and had no effect; one
 * that was completed before the task saw the cancellation returns normally (the receive with its
 * item), and the task sees the cancellation at its next suspension point. Hence
 * {@code sent == delivered + undelivered}, counting the sends that returned normally, the items
 * received and the items still buffered when the channel was closed.
 *
 * <p><b>Progress.</b> Blocking in the lock-based sense: every operation takes a lock held for a
 * few field updates and never across a suspension; a waiting task suspends, holding no thread.
 * Linearizable.
 *
 * @param <T> the type of the items
 */
public final class Channel<T> implements Iterable<T>, AutoCloseable {

    /** Returned internally by a receive that found the channel closed and drained. */
    static final Object CLOSED = new Object();
    /** Returned by {@link #offerNow} for an item it buffered: no receiver to wake. */
    private static final Waiter BUFFERED = new Waiter(null, null);

    /** 0 for rendezvous, {@link Integer#MAX_VALUE} for unbounded. */
    private final int capacity;
    final ReentrantLock lock = new ReentrantLock();
    /** Where this channel's lock comes in the order a {@link Select} takes several in. */
    final long lockOrder = Select.nextLockOrder();
    /**
     * The buffered items; guarded by {@link #lock}. Invariants: if receivers wait the buffer is
     * empty and no sender waits; if senders wait the buffer is full ({@code capacity} items).
     * Waiting means live: a {@link Select}'s stale registration (its select completed elsewhere)
     * may linger until it is reached and dropped, and one select may wait both to send and to
     * receive here. An ArrayDeque, not a JCTools queue: it is only touched under the lock.
     */
    private final ArrayDeque<Object> buffer;
    /** Tasks suspended in send, each with its item; guarded by {@link #lock}. */
    private final WaitQueue senders = new WaitQueue();
    /** Tasks suspended in receive; guarded by {@link #lock}. */
    private final WaitQueue receivers = new WaitQueue();
    /** Written under {@link #lock}; volatile for {@link #isClosed()}. */
    private volatile boolean closed;

    private Channel(int capacity) {
        this.capacity = capacity;
        this.buffer = new ArrayDeque<>(Math.min(Math.max(capacity, 1), 16));
    }

    /** A channel without a buffer: each send waits until a receiver takes its item. */
    public static <T> Channel<T> rendezvous() {
        return new Channel<>(0);
    }

    /**
     * A channel that buffers up to {@code capacity} items; a send waits while it is full.
     *
     * @throws IllegalArgumentException if {@code capacity} is less than 1
     */
    public static <T> Channel<T> bounded(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("channel capacity " + capacity
                    + " should be at least 1 (for a channel without a buffer use Channel.rendezvous())");
        }
        return new Channel<>(capacity);
    }

    /** A channel whose buffer grows as needed: a send never waits. */
    public static <T> Channel<T> unbounded() {
        return new Channel<>(Integer.MAX_VALUE);
    }

    /**
     * Sends {@code item}: hands it to the first waiting receiver, or buffers it if there is room;
     * otherwise suspends until a receiver takes it (rendezvous) or there is room (bounded).
     *
     * @throws NullPointerException if {@code item} is null
     * @throws ClosedChannelException if the channel is closed, or is closed while this send waits
     *     (the item is then not in the channel)
     * @throws CancellationException if the task is cancelled on entry or while waiting (the item
     *     is then not in the channel)
     * @throws IllegalStateException outside a task
     */
    public void send(T item) {
        requireItem(item);
        TaskHandle self = Tasks.current("Channel.send");
        self.checkCancelled();
        Waiter receiver;
        Waiter w = null;
        lock.lock();
        try {
            if (closed) {
                throw closedForSend("Channel.send");
            }
            receiver = offerNow(item);
            if (receiver == null) {
                w = new Waiter(self, item);
                senders.addLast(w);
            }
        } finally {
            lock.unlock();
        }
        if (w != null) {
            if (Waiter.await(lock, senders, w) == Waiter.CLOSED) {
                throw closedForSend("Channel.send");
            }
        } else if (receiver != BUFFERED) {
            receiver.handle.wake();
        }
    }

    /**
     * Sends {@code item} if that needs no waiting: hands it to a waiting receiver or buffers it.
     * Any thread.
     *
     * @return whether the item was sent; {@code false} if the buffer is full (or, on a rendezvous
     *     channel, no receiver waits)
     * @throws NullPointerException if {@code item} is null
     * @throws ClosedChannelException if the channel is closed
     */
    public boolean trySend(T item) {
        requireItem(item);
        Waiter receiver;
        lock.lock();
        try {
            if (closed) {
                throw closedForSend("Channel.trySend");
            }
            receiver = offerNow(item);
        } finally {
            lock.unlock();
        }
        if (receiver == null) {
            return false;
        }
        if (receiver != BUFFERED) {
            receiver.handle.wake();
        }
        return true;
    }

    /**
     * Under the lock, the channel open: hands {@code item} to the first live waiting receiver, or
     * buffers it if there is room. Returns that receiver (to be woken once the lock is released),
     * {@link #BUFFERED}, or null if the item would have to wait.
     */
    private Waiter offerNow(Object item) {
        Waiter receiver = receivers.pollFirstClaimable();
        if (receiver != null) {
            receiver.value = item;
            receiver.complete();
            return receiver;
        }
        if (buffer.size() < capacity) {
            buffer.addLast(item);
            return BUFFERED;
        }
        return null;
    }

    /**
     * Receives the oldest item, suspending while there is none.
     *
     * @throws ClosedChannelException if the channel is closed and has no item left, also when it
     *     is closed while this receive waits
     * @throws CancellationException if the task is cancelled on entry or while waiting (nothing
     *     was taken)
     * @throws IllegalStateException outside a task
     */
    public T receive() {
        Object x = receiveOrClosed(Tasks.current("Channel.receive"));
        if (x == CLOSED) {
            throw closedForReceive("Channel.receive");
        }
        return cast(x);
    }

    /**
     * Receives the oldest item if there is one (taking it from a waiting sender on a rendezvous
     * channel). Any thread.
     *
     * @return the item, or {@code null} if there is none now
     * @throws ClosedChannelException if the channel is closed and has no item left
     */
    public T tryReceive() {
        Object x;
        Waiter sender;
        lock.lock();
        try {
            x = buffer.pollFirst();
            sender = senders.pollFirstClaimable();
            if (sender != null) {
                if (x == null) {
                    x = sender.value;
                } else {
                    buffer.addLast(sender.value);
                }
                sender.value = null;
                sender.complete();
            }
            if (x == null && closed) {
                throw closedForReceive("Channel.tryReceive");
            }
        } finally {
            lock.unlock();
        }
        if (sender != null) {
            sender.handle.wake();
        }
        return cast(x);
    }

    /** Takes an item, suspending while there is none; returns {@link #CLOSED} if closed and drained. */
    private Object receiveOrClosed(TaskHandle self) {
        self.checkCancelled();
        Object x;
        Waiter sender;
        Waiter w = null;
        lock.lock();
        try {
            x = buffer.pollFirst();
            // A waiting sender means the buffer was full: its item refills the slot just freed,
            // or, on a rendezvous channel, is the item.
            sender = senders.pollFirstClaimable();
            if (sender != null) {
                if (x == null) {
                    x = sender.value;
                } else {
                    buffer.addLast(sender.value);
                }
                sender.value = null;
                sender.complete();
            }
            if (x == null) {
                if (closed) {
                    return CLOSED;
                }
                w = new Waiter(self, null);
                receivers.addLast(w);
            }
        } finally {
            lock.unlock();
        }
        if (sender != null) {
            sender.handle.wake();
        }
        if (w == null) {
            return x;
        }
        return Waiter.await(lock, receivers, w) == Waiter.CLOSED ? CLOSED : w.value;
    }

    /**
     * Closes the channel: sends are refused from now on, and every task waiting to send or
     * receive is woken with {@link ClosedChannelException}; buffered items stay receivable.
     * Idempotent; any thread.
     */
    @Override
    public void close() {
        Waiter woken;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            // Both queues, receivers first: a select waiting to send and to receive here is in
            // both, and gets its receive clause's CLOSED (the send one's claim then fails); the
            // select then chooses the first of the two in argument order (Select.firstOnItsChannel).
            woken = senders.drainInto(receivers.drainInto(null, Waiter.CLOSED), Waiter.CLOSED);
        } finally {
            lock.unlock();
        }
        Waiter.wakeAll(woken);
    }

    /** Whether {@link #close()} was called (items may still be buffered). Any thread. */
    public boolean isClosed() {
        return closed;
    }

    /** The number of buffered items; a snapshot, for monitoring and tests. Any thread. */
    public int size() {
        lock.lock();
        try {
            return buffer.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The number of tasks suspended in {@link #send}, and of selects waiting to send here (one
     * waiting in several channels counts in each until it has withdrawn); a snapshot, for monitoring
     * and tests. Any thread.
     */
    public int sendersWaiting() {
        return senders.size(lock);
    }

    /**
     * The number of tasks suspended in {@link #receive} or iteration, and of selects waiting to
     * receive here (one waiting in several channels counts in each until it has withdrawn); a
     * snapshot, for monitoring and tests. Any thread.
     */
    public int receiversWaiting() {
        return receivers.size(lock);
    }

    /**
     * A {@link Select} clause that receives an item from this channel, as {@link #receive()} would,
     * and makes the select return {@code onItem}'s result for it. Chosen on a closed, drained
     * channel, it makes the select throw {@link ClosedChannelException}.
     *
     * @throws NullPointerException if {@code onItem} is null
     */
    public <R> Select.Clause<R> onReceive(Function<? super T, ? extends R> onItem) {
        return new ReceiveClause<>(this, Objects.requireNonNull(onItem, "onItem"), null);
    }

    /**
     * A {@link Select} clause that receives an item from this channel and makes the select return
     * {@code onItem}'s result for it, or, chosen on a closed, drained channel, {@code onClosed}'s.
     *
     * @throws NullPointerException if a handler is null
     */
    public <R> Select.Clause<R> onReceive(Function<? super T, ? extends R> onItem, Supplier<? extends R> onClosed) {
        return new ReceiveClause<>(this, Objects.requireNonNull(onItem, "onItem"), Objects.requireNonNull(onClosed, "onClosed"));
    }

    /**
     * A {@link Select} clause that sends {@code item} on this channel, as {@link #send} would, and
     * makes the select return {@code onSent}'s result. Chosen on a closed channel, it makes the
     * select throw {@link ClosedChannelException} (the item is then not in the channel).
     *
     * @throws NullPointerException if {@code item} or {@code onSent} is null
     */
    public <R> Select.Clause<R> onSend(T item, Supplier<? extends R> onSent) {
        requireItem(item);
        return new SendClause<>(this, item, Objects.requireNonNull(onSent, "onSent"));
    }

    /** {@link #onReceive}'s clause. */
    static final class ReceiveClause<T, R> extends Select.Clause<R> {
        private final Channel<T> channel;
        private final Function<? super T, ? extends R> onItem;
        private final Supplier<? extends R> onClosed;

        ReceiveClause(Channel<T> channel, Function<? super T, ? extends R> onItem, Supplier<? extends R> onClosed) {
            super(channel, channel.lock, channel.lockOrder, channel.receivers, null);
            this.channel = channel;
            this.onItem = onItem;
            this.onClosed = onClosed;
        }

        @Override
        Object tryNow(Object[] woken) {
            // A waiting sender means the buffer is full: its item goes behind the buffered ones
            // (or, on a rendezvous channel, is the only one).
            Waiter sender = channel.senders.pollFirstClaimable();
            if (sender != null) {
                channel.buffer.addLast(sender.value);
                sender.value = null;
                sender.complete();
                woken[0] = sender;
            }
            Object x = channel.buffer.pollFirst();
            return x != null ? x : channel.closed ? CLOSED : Select.NOT_READY;
        }

        @Override
        R handle(Object got) {
            if (got != CLOSED) {
                return onItem.apply(cast(got));
            }
            if (onClosed == null) {
                throw closedForReceive("Select.select(channel.onReceive(...))");
            }
            return onClosed.get();
        }
    }

    /** {@link #onSend}'s clause. */
    static final class SendClause<T, R> extends Select.Clause<R> {
        private final Channel<T> channel;
        private final Supplier<? extends R> onSent;

        SendClause(Channel<T> channel, T item, Supplier<? extends R> onSent) {
            super(channel, channel.lock, channel.lockOrder, channel.senders, item);
            this.channel = channel;
            this.onSent = onSent;
        }

        @Override
        Object tryNow(Object[] woken) {
            if (channel.closed) {
                return CLOSED;
            }
            Waiter receiver = channel.offerNow(item);
            if (receiver == null) {
                return Select.NOT_READY;
            }
            if (receiver != BUFFERED) {
                woken[0] = receiver;
            }
            return item;
        }

        @Override
        R handle(Object got) {
            if (got == CLOSED) {
                throw closedForSend("Select.select(channel.onSend(...))");
            }
            return onSent.get();
        }
    }

    /**
     * An iterator that receives: {@code hasNext()} suspends until an item arrives (it is then
     * received) or the channel is closed and drained ({@code false}). Its methods are suspension
     * points with {@link #receive()}'s exceptions, except that a closed, drained channel ends the
     * iteration instead of throwing. Use it in one task at a time; several tasks may iterate over
     * the same channel with iterators of their own, each item going to one of them.
     */
    @Override
    public Iterator<T> iterator() {
        return new Iterator<>() {
            private Object next;
            private boolean ended;

            @Override
            public boolean hasNext() {
                if (next != null) {
                    return true;
                }
                if (ended) {
                    return false;
                }
                Object x = receiveOrClosed(Tasks.current("Channel iteration"));
                if (x == CLOSED) {
                    ended = true;
                    return false;
                }
                next = x;
                return true;
            }

            @Override
            public T next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("the channel is closed and all its items have been received");
                }
                Object x = next;
                next = null;
                return cast(x);
            }
        };
    }

    @Override
    public String toString() {
        lock.lock();
        try {
            String kind = capacity == 0 ? "rendezvous" : capacity == Integer.MAX_VALUE ? "unbounded" : "bounded(" + capacity + ")";
            return "Channel[" + kind + ", " + buffer.size() + " buffered, " + senders.size() + " senders waiting, "
                    + receivers.size() + " receivers waiting" + (closed ? ", closed" : "") + "]";
        } finally {
            lock.unlock();
        }
    }

    private static void requireItem(Object item) {
        if (item == null) {
            throw new NullPointerException("a channel item must not be null");
        }
    }

    private static ClosedChannelException closedForSend(String what) {
        return new ClosedChannelException(what + " on a closed channel: the channel is closed and accepts no more items");
    }

    private static ClosedChannelException closedForReceive(String what) {
        return new ClosedChannelException(what + " on a closed channel: the channel is closed and all its items have been received");
    }

    @SuppressWarnings("unchecked")
    private static <T> T cast(Object x) {
        return (T) x;
    }
}
