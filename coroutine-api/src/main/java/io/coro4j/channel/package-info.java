/**
 * asyncio's synchronization primitives for coro4j tasks: {@link io.coro4j.channel.Channel}
 * (rendezvous, bounded, unbounded; Go's channels with asyncio.Queue's drain-on-close),
 * {@link io.coro4j.channel.Semaphore}, {@link io.coro4j.channel.Event},
 * {@link io.coro4j.channel.Lock}, {@link io.coro4j.channel.Condition} and
 * {@link io.coro4j.channel.Barrier};
 * {@link io.coro4j.channel.Select} over several of them at once.
 *
 * <h2>How they are built</h2>
 * Each primitive keeps its state (buffer, permits, owner, flag) and its FIFO queues of waiting
 * tasks behind one {@link java.util.concurrent.locks.ReentrantLock}, held only for a few field
 * updates and never across a suspension. A task that must wait appends a node (its task handle,
 * a volatile state and an item slot) to a queue, releases the lock and parks until the node's
 * state leaves {@code WAITING}. Whoever completes the operation for it (a sender for a waiting
 * receiver, {@code unlock} for the next {@code lock}, {@code close}, {@code set}) does so under
 * the lock, by filling the slot and then writing the state, and wakes the task after releasing
 * the lock. Every operation therefore takes effect at one point under the lock, which makes the
 * primitives linearizable and waiters FIFO; a waiting task costs no thread. The inner lock is an
 * ordinary {@code java.util.concurrent} lock: under contention it may hold up a carrier thread,
 * but only for those few field updates, since nobody suspends while holding it.
 *
 * <p>A {@link io.coro4j.channel.Select} waits in several channels at once (or semaphores, locks,
 * events: they work the same way, and "channel" below stands for any of them), with one node in each,
 * all sharing one claim. Whoever completes such a node must first win the claim (a
 * compare-and-set, under that channel's lock); a node whose select has been claimed through
 * another is stale, and is dropped in passing for the next waiter. The select takes the locks of
 * all its channels, always in the order the channels were made (so two selects cannot deadlock),
 * to try each clause and queue its nodes in one step, to withdraw the nodes that did not win, and
 * to give up when cancelled: under those locks no completer can claim it, so it either has a
 * winner or never will. A task's end claims a select waiting for it with the same
 * compare-and-set, without a lock, on the task's thread (the select waits among the task's
 * joiners, a registration it takes back as it withdraws). The select claims itself, when it
 * wakes, for a timeout whose deadline has passed and for a task that ended before the clause
 * could register.
 *
 * <p>The queues of waiters are intrusive doubly linked lists, not JCTools queues: every access
 * already happens under the lock, where a lock-free queue buys nothing, and a cancelled waiter
 * must be unlinked from the middle in O(1), which no JCTools queue supports. Channel buffers are
 * {@link java.util.ArrayDeque}s under the same lock, for the same reason.
 *
 * <h2>Cancellation: the rule</h2>
 * Every suspending operation ({@code Channel.send}, {@code Channel.receive}, iteration, {@code Select.select},
 * {@code Semaphore.acquire}, {@code Lock.lock}, {@code Condition.await}, {@code Event.await},
 * {@code Barrier.await}) checks for cancellation on
 * entry, so a cancelled task cannot loop forever on a busy channel. Once it waits, the operation
 * either took effect or it did not, and its outcome says which:
 * <ul>
 *   <li>If the task is cancelled while its node still waits, the node is unlinked under the lock
 *       and the operation throws {@link java.util.concurrent.CancellationException} having had
 *       no effect: a send's item is not in the channel and will never be received, a receive
 *       took nothing, an acquire holds no permit, a lock is not held, a condition's await
 *       consumed no signal (and holds its lock again: it takes it back before it throws), a
 *       barrier's await does not count in its round.</li>
 *   <li>If the operation was completed for it first (an item was handed to the receiver, the
 *       sender's item was taken, a permit or the lock was handed over, the condition was
 *       signalled, the event was set, the barrier's round was released), the
 *       operation returns normally, with the item, permit or lock, even though the task was
 *       cancelled. The cancellation stays pending (cancellation is level-triggered) and is
 *       raised at the task's next suspension point.</li>
 * </ul>
 * So nothing is lost or duplicated: with {@code sent} the sends that returned normally (and
 * {@code trySend}s that returned {@code true}), {@code delivered} the receives that returned an
 * item, and {@code undelivered} the items still buffered when the channel is closed,
 * {@code sent == delivered + undelivered} always holds.
 */
package io.coro4j.channel;
