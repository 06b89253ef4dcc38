package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Channel}: the three kinds, drain-then-closed, iteration, FIFO, every misuse with its
 * message, cancellation of a waiting send or receive, and stress (producers × consumers with
 * per-producer sequence numbers; cancellations racing sends and receives, checked with
 * {@code sent == delivered + undelivered}). Each test is named for the rule it checks.
 *
 * <p>If a test here fails, check in this order: the invariant between the buffer and the two
 * waiter queues (receivers wait only on an empty buffer, senders only on a full one), that a
 * waiter is completed under the lock before it is woken, and that a cancelled waiter is unlinked
 * only while it is still waiting.
 */
public abstract class ChannelTck extends SchedulerTck {

    // ---- helpers ----

    /**
     * Spawns {@code body} as a task that returns what it threw, or null: a child task that fails
     * would fail its parent (a test expecting the failure checks it on the returned value instead).
     */
    protected static Task<Throwable> spawnCatching(Callable<?> body) {
        return Coro.spawn(() -> {
            try {
                body.call();
                return null;
            } catch (CancellationException e) {
                throw e;
            } catch (Throwable e) {
                return e;
            }
        });
    }

    // ---- the three kinds ----

    @Test
    void rendezvousSendWaitsUntilAReceiverTakesTheItem() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            Task<Void> sender = Coro.spawn(() -> {
                ch.send("a");
                return null;
            });
            until("the sender waits", () -> ch.sendersWaiting() == 1);
            Coro.sleep(Duration.ofMillis(20));
            assertThat(sender.isDone()).as("a rendezvous send returns only once a receiver took the item").isFalse();
            assertThat(ch.size()).isZero();
            assertThat(ch.receive()).isEqualTo("a");
            sender.join();
            assertThat(ch.sendersWaiting()).isZero();
            return null;
        });
    }

    @Test
    void rendezvousReceiveWaitsUntilASenderComes() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            Task<String> receiver = Coro.spawn(ch::receive);
            until("the receiver waits", () -> ch.receiversWaiting() == 1);
            assertThat(receiver.isDone()).isFalse();
            ch.send("b");
            assertThat(receiver.join()).isEqualTo("b");
            return null;
        });
    }

    @Test
    void rendezvousTryOperationsSucceedOnlyAgainstAWaitingPartner() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            assertThat(ch.trySend("x")).as("trySend without a waiting receiver").isFalse();
            assertThat(ch.tryReceive()).as("tryReceive without a waiting sender").isNull();
            Task<String> receiver = Coro.spawn(ch::receive);
            until("the receiver waits", () -> ch.receiversWaiting() == 1);
            assertThat(ch.trySend("y")).isTrue();
            assertThat(receiver.join()).isEqualTo("y");
            Task<Void> sender = Coro.spawn(() -> {
                ch.send("z");
                return null;
            });
            until("the sender waits", () -> ch.sendersWaiting() == 1);
            assertThat(ch.tryReceive()).isEqualTo("z");
            sender.join();
            return null;
        });
    }

    @Test
    void boundedSendSuspendsWhileFullAndResumesWhenAReceiverMakesRoom() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(2);
            ch.send(1);
            ch.send(2);
            assertThat(ch.size()).isEqualTo(2);
            Task<Void> sender = Coro.spawn(() -> {
                ch.send(3);
                return null;
            });
            until("the third sender waits", () -> ch.sendersWaiting() == 1);
            Coro.sleep(Duration.ofMillis(20));
            assertThat(sender.isDone()).as("send on a full channel waits").isFalse();
            assertThat(ch.trySend(4)).as("trySend on a full channel").isFalse();
            assertThat(ch.receive()).isEqualTo(1);
            sender.join();
            assertThat(ch.size()).as("the waiting sender's item refilled the slot").isEqualTo(2);
            assertThat(ch.receive()).isEqualTo(2);
            assertThat(ch.receive()).isEqualTo(3);
            assertThat(ch.tryReceive()).isNull();
            return null;
        });
    }

    @Test
    void unboundedSendNeverSuspends() throws Exception {
        int n = Stress.scaled(100_000);
        runTask(() -> {
            Channel<Integer> ch = Channel.unbounded();
            for (int i = 0; i < n; i++) {
                ch.send(i);
            }
            assertThat(ch.trySend(n)).isTrue();
            assertThat(ch.size()).isEqualTo(n + 1);
            assertThat(ch.sendersWaiting()).isZero();
            for (int i = 0; i <= n; i++) {
                assertThat(ch.receive()).isEqualTo(i);
            }
            return null;
        });
    }

    @Test
    void tryOperationsWorkFromAnyThread() {
        Channel<String> ch = Channel.bounded(1);
        assertThat(ch.trySend("a")).isTrue();
        assertThat(ch.trySend("b")).isFalse();
        assertThat(ch.tryReceive()).isEqualTo("a");
        assertThat(ch.tryReceive()).isNull();
        ch.close();
        assertThat(ch.isClosed()).isTrue();
    }

    // ---- closing ----

    @Test
    void closeIsDrainThenClosed() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(4);
            ch.send(1);
            ch.send(2);
            ch.trySend(3);
            assertThat(ch.isClosed()).isFalse();
            ch.close();
            ch.close();
            assertThat(ch.isClosed()).isTrue();
            assertThatThrownBy(() -> ch.send(4)).isInstanceOf(ClosedChannelException.class)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("Channel.send on a closed channel: the channel is closed and accepts no more items");
            assertThatThrownBy(() -> ch.trySend(4)).isInstanceOf(ClosedChannelException.class)
                    .hasMessage("Channel.trySend on a closed channel: the channel is closed and accepts no more items");
            assertThat(ch.receive()).isEqualTo(1);
            assertThat(ch.tryReceive()).isEqualTo(2);
            assertThat(ch.receive()).isEqualTo(3);
            assertThatThrownBy(ch::receive).isInstanceOf(ClosedChannelException.class)
                    .hasMessage("Channel.receive on a closed channel: the channel is closed and all its items have been received");
            assertThatThrownBy(ch::tryReceive).isInstanceOf(ClosedChannelException.class)
                    .hasMessage("Channel.tryReceive on a closed channel: the channel is closed and all its items have been received");
            return null;
        });
    }

    @Test
    void closeWakesWaitingReceiversWithClosedChannelException() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(1);
            List<Task<Throwable>> receivers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                receivers.add(spawnCatching(ch::receive));
            }
            until("three receivers wait", () -> ch.receiversWaiting() == 3);
            ch.close();
            for (Task<Throwable> r : receivers) {
                assertThat(r.join()).isInstanceOf(ClosedChannelException.class)
                        .hasMessage("Channel.receive on a closed channel: the channel is closed and all its items have been received");
            }
            assertThat(ch.receiversWaiting()).isZero();
            return null;
        });
    }

    /**
     * The receivers a {@code close()} fails resume in the order they began to wait, as waiting
     * receivers are served first come, first served. On one carrier the resumption order is the
     * wake-up order.
     */
    @Test
    void closeResumesWaitingReceiversInArrivalOrderOnOneCarrier() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        scheduler = newScheduler(1);
        runTask(() -> {
            Channel<Integer> ch = Channel.rendezvous();
            List<Integer> order = Collections.synchronizedList(new ArrayList<>());
            List<Task<Throwable>> receivers = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                int id = i;
                receivers.add(spawnCatching(() -> {
                    try {
                        return ch.receive();
                    } finally {
                        order.add(id);
                    }
                }));
                until("receiver " + id + " waits", () -> ch.receiversWaiting() == id + 1);
            }
            ch.close();
            for (Task<Throwable> r : receivers) {
                assertThat(r.join()).isInstanceOf(ClosedChannelException.class);
            }
            assertThat(order).as("the order in which the receivers resumed").containsExactly(0, 1, 2, 3, 4);
            return null;
        });
    }

    @Test
    void closeFailsWaitingSendersAndTheirItemsAreNotInTheChannel() throws Exception {
        runTask(() -> {
            for (Channel<Integer> ch : List.of(Channel.<Integer>rendezvous(), Channel.<Integer>bounded(1))) {
                boolean rendezvous = !ch.trySend(0);
                List<Task<Throwable>> senders = new ArrayList<>();
                for (int i = 1; i <= 3; i++) {
                    int item = i;
                    senders.add(spawnCatching(() -> {
                        ch.send(item);
                        return null;
                    }));
                }
                until("three senders wait", () -> ch.sendersWaiting() == 3);
                ch.close();
                for (Task<Throwable> s : senders) {
                    assertThat(s.join()).isInstanceOf(ClosedChannelException.class)
                            .hasMessage("Channel.send on a closed channel: the channel is closed and accepts no more items");
                }
                if (!rendezvous) {
                    assertThat(ch.receive()).as("the item buffered before close").isZero();
                }
                assertThatThrownBy(ch::receive).as("no waiting sender's item is in the channel")
                        .isExactlyInstanceOf(ClosedChannelException.class)
                        .hasMessage("Channel.receive on a closed channel: the channel is closed and all its items have been received");
            }
            return null;
        });
    }

    // ---- iteration ----

    @Test
    void iterationReceivesEveryItemUntilTheChannelIsClosedAndDrained() throws Exception {
        int n = 1000;
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(8);
            Coro.spawn(() -> {
                try (ch) {
                    for (int i = 0; i < n; i++) {
                        ch.send(i);
                    }
                }
                return null;
            });
            List<Integer> got = new ArrayList<>();
            for (int x : ch) {
                got.add(x);
            }
            assertThat(got).hasSize(n);
            for (int i = 0; i < n; i++) {
                assertThat(got.get(i)).isEqualTo(i);
            }
            Iterator<Integer> it = ch.iterator();
            assertThat(it.hasNext()).isFalse();
            assertThat(it.hasNext()).isFalse();
            assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class)
                    .hasMessage("the channel is closed and all its items have been received");
            return null;
        });
    }

    @Test
    void iteratorHasNextWaitsForAnItemAndNextReturnsIt() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.unbounded();
            Iterator<String> it = ch.iterator();
            Task<Boolean> waiting = Coro.spawn(it::hasNext);
            until("hasNext waits", () -> ch.receiversWaiting() == 1);
            ch.send("q");
            assertThat(waiting.join()).isTrue();
            assertThat(it.hasNext()).as("hasNext is idempotent").isTrue();
            assertThat(it.next()).isEqualTo("q");
            return null;
        });
    }

    @Test
    void severalConsumersIteratingShareTheItemsEachOnce() throws Exception {
        int n = Stress.scaled(20_000);
        runTask(() -> {
            Channel<Integer> ch = Channel.rendezvous();
            List<Task<List<Integer>>> consumers = new ArrayList<>();
            for (int c = 0; c < 3; c++) {
                consumers.add(Coro.spawn(() -> {
                    List<Integer> mine = new ArrayList<>();
                    for (int x : ch) {
                        mine.add(x);
                    }
                    return mine;
                }));
            }
            for (int i = 0; i < n; i++) {
                ch.send(i);
            }
            ch.close();
            List<Integer> all = new ArrayList<>();
            for (Task<List<Integer>> c : consumers) {
                List<Integer> mine = c.join();
                assertThat(mine).as("each consumer sees one producer's items in order").isSorted();
                all.addAll(mine);
            }
            Collections.sort(all);
            assertThat(all).hasSize(n);
            for (int i = 0; i < n; i++) {
                assertThat(all.get(i)).isEqualTo(i);
            }
            return null;
        });
    }

    // ---- misuse ----

    @Test
    void capacityBelowOneIsRejectedNamingTheValue() {
        assertThatThrownBy(() -> Channel.bounded(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("channel capacity 0 should be at least 1 (for a channel without a buffer use Channel.rendezvous())");
        assertThatThrownBy(() -> Channel.bounded(-5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("channel capacity -5 should be at least 1 (for a channel without a buffer use Channel.rendezvous())");
    }

    @Test
    void nullItemsAreRejected() throws Exception {
        Channel<String> ch = Channel.unbounded();
        assertThatThrownBy(() -> ch.trySend(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("a channel item must not be null");
        runTask(() -> {
            assertThatThrownBy(() -> ch.send(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("a channel item must not be null");
            return null;
        });
        assertThat(ch.size()).isZero();
    }

    @Test
    void suspendingOperationsOutsideATaskAreRejected() {
        Channel<String> ch = Channel.unbounded();
        ch.trySend("x");
        assertThatThrownBy(() -> ch.send("y")).isInstanceOf(IllegalStateException.class)
                .hasMessage("Channel.send" + OUTSIDE);
        assertThatThrownBy(ch::receive).isInstanceOf(IllegalStateException.class)
                .hasMessage("Channel.receive" + OUTSIDE);
        assertThatThrownBy(() -> ch.iterator().hasNext()).isInstanceOf(IllegalStateException.class)
                .hasMessage("Channel iteration" + OUTSIDE);
        assertThat(ch.size()).as("nothing was sent or taken").isEqualTo(1);
    }

    // ---- FIFO ----

    @Test
    void waitingReceiversAreServedInArrivalOrder() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(4);
            List<Task<Integer>> receivers = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                receivers.add(Coro.spawn(ch::receive));
                int waiting = i + 1;
                until(waiting + " receivers wait", () -> ch.receiversWaiting() == waiting);
            }
            for (int i = 0; i < 5; i++) {
                ch.send(i);
            }
            for (int i = 0; i < 5; i++) {
                assertThat(receivers.get(i).join()).as("receiver %d", i).isEqualTo(i);
            }
            return null;
        });
    }

    @Test
    void waitingSendersAreServedInArrivalOrder() throws Exception {
        runTask(() -> {
            for (Channel<Integer> ch : List.of(Channel.<Integer>rendezvous(), Channel.<Integer>bounded(1))) {
                boolean buffered = ch.trySend(-1);
                List<Task<Void>> senders = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    int item = i;
                    senders.add(Coro.spawn(() -> {
                        ch.send(item);
                        return null;
                    }));
                    int waiting = i + 1;
                    until(waiting + " senders wait", () -> ch.sendersWaiting() == waiting);
                }
                if (buffered) {
                    assertThat(ch.receive()).isEqualTo(-1);
                }
                for (int i = 0; i < 5; i++) {
                    assertThat(ch.receive()).isEqualTo(i);
                }
                for (Task<Void> s : senders) {
                    s.join();
                }
            }
            return null;
        });
    }

    /**
     * A tryReceive from a full buffer refills the freed slot with the first waiting sender's
     * item, behind the items already buffered: receive does this too, and tryReceive must not
     * put that item in front of older ones.
     */
    @Test
    void tryReceiveFromAFullChannelKeepsTheWaitingSendersItemsBehindTheBufferedOnes() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.bounded(2);
            ch.send(1);
            ch.send(2);
            List<Task<Void>> senders = new ArrayList<>();
            for (int i = 3; i <= 4; i++) {
                int item = i;
                senders.add(Coro.spawn(() -> {
                    ch.send(item);
                    return null;
                }));
                int waiting = i - 2;
                until(waiting + " senders wait", () -> ch.sendersWaiting() == waiting);
            }
            List<Integer> got = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                got.add(ch.tryReceive());
            }
            assertThat(got).containsExactly(1, 2, 3, 4);
            assertThat(ch.tryReceive()).isNull();
            for (Task<Void> s : senders) {
                s.join();
            }
            return null;
        });
    }

    // ---- cancellation ----

    @Test
    void cancellingAWaitingReceiveThrowsRunsFinallyAndTakesNothing() throws Exception {
        runTask(() -> {
            for (int kind = 0; kind < 3; kind++) {
                boolean rendezvous = kind == 0;
                Channel<Integer> ch = kind == 0 ? Channel.rendezvous() : kind == 1 ? Channel.bounded(2) : Channel.unbounded();
                AtomicBoolean finallyRan = new AtomicBoolean();
                Task<Integer> receiver = Coro.spawn(() -> {
                    try {
                        return ch.receive();
                    } finally {
                        finallyRan.set(true);
                    }
                });
                until("the receiver waits", () -> ch.receiversWaiting() == 1);
                receiver.cancel();
                assertCancelled(receiver);
                assertThat(finallyRan).isTrue();
                assertThat(ch.receiversWaiting()).isZero();
                // The cancelled receiver took nothing: a rendezvous trySend finds nobody, a buffered one stays buffered.
                assertThat(ch.trySend(7)).isEqualTo(!rendezvous);
                assertThat(ch.size()).isEqualTo(rendezvous ? 0 : 1);
                Task<Integer> next = Coro.spawn(ch::receive);
                if (rendezvous) {
                    ch.send(7);
                }
                assertThat(next.join()).isEqualTo(7);
            }
            return null;
        });
    }

    @Test
    void cancellingAWaitingSendThrowsRunsFinallyAndItsItemIsNotInTheChannel() throws Exception {
        runTask(() -> {
            for (Channel<Integer> ch : List.of(Channel.<Integer>rendezvous(), Channel.<Integer>bounded(1))) {
                boolean buffered = ch.trySend(1);
                AtomicBoolean finallyRan = new AtomicBoolean();
                Task<Void> sender = Coro.spawn(() -> {
                    try {
                        ch.send(2);
                    } finally {
                        finallyRan.set(true);
                    }
                    return null;
                });
                until("the sender waits", () -> ch.sendersWaiting() == 1);
                sender.cancel();
                assertCancelled(sender);
                assertThat(finallyRan).isTrue();
                assertThat(ch.sendersWaiting()).isZero();
                if (buffered) {
                    assertThat(ch.receive()).isEqualTo(1);
                }
                assertThat(ch.tryReceive()).as("the cancelled send's item").isNull();
                ch.close();
                assertThatThrownBy(ch::receive).isExactlyInstanceOf(ClosedChannelException.class)
                        .hasMessage("Channel.receive on a closed channel: the channel is closed and all its items have been received");
            }
            return null;
        });
    }

    /**
     * The rule for a receive that was handed an item before its task saw the cancellation: it
     * returns the item (nothing is lost), and the task sees the cancellation at its next
     * suspension point.
     */
    @Test
    void aReceiveCompletedBeforeTheCancellationIsSeenReturnsItsItem() throws Exception {
        runTask(() -> {
            for (int round = 0; round < 50; round++) {
                Channel<Integer> ch = Channel.rendezvous();
                AtomicReference<Integer> got = new AtomicReference<>();
                Task<Void> receiver = Coro.spawn(() -> {
                    got.set(ch.receive());
                    Coro.sleep(Duration.ofDays(1));
                    return null;
                });
                until("the receiver waits", () -> ch.receiversWaiting() == 1);
                assertThat(ch.trySend(round)).isTrue();
                receiver.cancel();
                assertCancelled(receiver);
                assertThat(got.get()).as("the handed-over item, round %d", round).isEqualTo(round);
            }
            return null;
        });
    }

    /** The rule for a send whose item was taken before its task saw the cancellation: it returns normally. */
    @Test
    void aSendCompletedBeforeTheCancellationIsSeenReturnsNormally() throws Exception {
        runTask(() -> {
            for (int round = 0; round < 50; round++) {
                Channel<Integer> ch = Channel.rendezvous();
                AtomicBoolean returned = new AtomicBoolean();
                int item = round;
                Task<Void> sender = Coro.spawn(() -> {
                    ch.send(item);
                    returned.set(true);
                    Coro.sleep(Duration.ofDays(1));
                    return null;
                });
                until("the sender waits", () -> ch.sendersWaiting() == 1);
                assertThat(ch.tryReceive()).isEqualTo(round);
                sender.cancel();
                assertCancelled(sender);
                assertThat(returned).as("the send whose item was taken returned normally").isTrue();
            }
            return null;
        });
    }

    /**
     * A receive whose task has seen the cancellation, and is about to withdraw, when a send hands
     * it an item (the send holding the channel's lock first; {@link GrantWindow}): the item is not
     * lost, the receive returns it.
     */
    @Test
    void aReceiveHandedAnItemWhileItsCancelledTaskWithdrawsReturnsTheItem() throws Exception {
        List<String> log = runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            List<String> out = new java.util.concurrent.CopyOnWriteArrayList<>();
            Task<Void> receiver = Coro.spawn(() -> {
                out.add("received " + ch.receive());
                Coro.yieldNow(); // the cancellation, still pending
                out.add("not cancelled");
                return null;
            });
            until("the receiver waits", () -> ch.receiversWaiting() == 1);
            GrantWindow.cancelAndGrant(ch, receiver, () -> out.add("trySend returned " + ch.trySend("the item")));
            out.add("buffered " + ch.size() + ", receivers waiting " + ch.receiversWaiting());
            return out;
        });
        assertThat(log).containsExactly("trySend returned true", "received the item", "buffered 0, receivers waiting 0");
    }

    /**
     * A send whose task has seen the cancellation, and is about to withdraw, when a receive takes
     * its item ({@link GrantWindow}): the send returns normally, as the item was delivered.
     */
    @Test
    void aSendWhoseItemIsTakenWhileItsCancelledTaskWithdrawsReturnsNormally() throws Exception {
        List<String> log = runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            List<String> out = new java.util.concurrent.CopyOnWriteArrayList<>();
            Task<Void> sender = Coro.spawn(() -> {
                ch.send("the item");
                out.add("send returned");
                Coro.yieldNow(); // the cancellation, still pending
                out.add("not cancelled");
                return null;
            });
            until("the sender waits", () -> ch.sendersWaiting() == 1);
            GrantWindow.cancelAndGrant(ch, sender, () -> out.add("tryReceive returned " + ch.tryReceive()));
            out.add("buffered " + ch.size() + ", senders waiting " + ch.sendersWaiting());
            return out;
        });
        assertThat(log).containsExactly("tryReceive returned the item", "send returned", "buffered 0, senders waiting 0");
    }

    @Test
    void aCancelledTaskCannotSendOrReceiveEvenWithoutWaiting() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.unbounded();
            ch.send(1);
            AtomicReference<Throwable> sendFailure = new AtomicReference<>();
            AtomicReference<Throwable> receiveFailure = new AtomicReference<>();
            AtomicBoolean started = new AtomicBoolean();
            Task<Void> cancelledEarly = Coro.spawn(() -> {
                started.set(true);
                try {
                    Coro.sleep(Duration.ofDays(1));
                } finally {
                    try {
                        ch.send(2);
                    } catch (Throwable e) {
                        sendFailure.set(e);
                    }
                    try {
                        ch.receive();
                    } catch (Throwable e) {
                        receiveFailure.set(e);
                    }
                }
                return null;
            });
            // Not a yieldNow: a task cancelled before it starts never runs its body (nor finally).
            until("the task has started", started::get);
            cancelledEarly.cancel();
            assertCancelled(cancelledEarly);
            assertThat(sendFailure.get()).isExactlyInstanceOf(CancellationException.class)
                    .hasMessage("task " + cancelledEarly.name() + " was cancelled");
            assertThat(receiveFailure.get()).isExactlyInstanceOf(CancellationException.class)
                    .hasMessage("task " + cancelledEarly.name() + " was cancelled");
            assertThat(ch.size()).as("the cancelled task neither sent nor received").isEqualTo(1);
            return null;
        });
    }

    @Test
    void aTimeoutAroundAReceiveCancelsItAndTakesNothing() throws Exception {
        runTask(() -> {
            Channel<Integer> ch = Channel.rendezvous();
            assertThatThrownBy(() -> Coro.withTimeout(Duration.ofMillis(20), ch::receive))
                    .isInstanceOf(TimeoutExceededException.class);
            assertThat(Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> {
                ch.send(1);
                return "sent";
            })).isNull();
            assertThat(ch.receiversWaiting()).isZero();
            assertThat(ch.sendersWaiting()).isZero();
            assertThat(ch.trySend(2)).isFalse();
            return null;
        });
    }

    // ---- stress ----

    /**
     * N producers × M consumers move {@code Stress.scaled(1,000,000)} items through a bounded
     * channel of capacity 16 (senders and receivers both suspend often): none lost, none
     * duplicated, and every consumer sees each producer's items in the order they were sent.
     */
    @ParameterizedTest(name = "{0} producers x {1} consumers")
    @CsvSource({"1, 1", "1, 4", "4, 1", "4, 4"})
    void stressProducersConsumersLoseNothingDuplicateNothingAndKeepOrder(int producers, int consumers) throws Exception {
        int perProducer = Stress.scaled(1_000_000) / producers;
        exchange(Channel.bounded(16), producers, consumers, perProducer);
    }

    /** The same over a rendezvous and an unbounded channel, at a tenth of the size. */
    @Test
    void stressRendezvousAndUnboundedChannels() throws Exception {
        int total = Stress.scaled(100_000);
        exchange(Channel.rendezvous(), 2, 2, total / 2);
        exchange(Channel.unbounded(), 2, 2, total / 2);
    }

    private void exchange(Channel<Long> ch, int producers, int consumers, int perProducer) throws Exception {
        long total = (long) producers * perProducer;
        AtomicLongArray seen = new AtomicLongArray((int) ((total + 63) / 64));
        AtomicIntegerArray duplicates = new AtomicIntegerArray(1);
        Duration limit = Duration.ofSeconds(Math.max(60, total / 10_000));
        runTask(limit, () -> {
            List<Task<Void>> consumerTasks = new ArrayList<>();
            for (int c = 0; c < consumers; c++) {
                consumerTasks.add(Coro.spawn(() -> {
                    int[] last = new int[producers];
                    Arrays.fill(last, -1);
                    for (long x : ch) {
                        int p = (int) (x >>> 32);
                        int seq = (int) x;
                        if (seq <= last[p]) {
                            throw new AssertionError("producer " + p + "'s item " + seq + " received after its item " + last[p]);
                        }
                        last[p] = seq;
                        long bit = (long) p * perProducer + seq;
                        long mask = 1L << (bit & 63);
                        if ((seen.getAndAccumulate((int) (bit >>> 6), mask, (a, b) -> a | b) & mask) != 0) {
                            duplicates.incrementAndGet(0);
                        }
                    }
                    return null;
                }));
            }
            List<Task<Void>> producerTasks = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                long tag = (long) p << 32;
                producerTasks.add(Coro.spawn(() -> {
                    for (int seq = 0; seq < perProducer; seq++) {
                        ch.send(tag | seq);
                    }
                    return null;
                }));
            }
            for (Task<Void> t : producerTasks) {
                t.join();
            }
            ch.close();
            for (Task<Void> t : consumerTasks) {
                t.join();
            }
            return null;
        });
        long received = 0;
        for (int i = 0; i < seen.length(); i++) {
            received += Long.bitCount(seen.get(i));
        }
        assertThat(duplicates.get(0)).as("duplicated items").isZero();
        assertThat(total - received).as("lost items of %d", total).isZero();
    }

    /**
     * Producers and consumers cancelled at random moments (by {@link Task#cancel()} and by
     * timeouts around receives), then the channel closed and drained: for every producer, the
     * items delivered plus those left in the channel are exactly the ones whose send returned
     * normally, each once ({@code sent == delivered + undelivered}).
     */
    @Test
    void stressCancellationRacingSendAndReceiveLosesAndDuplicatesNothing() throws Exception {
        int rounds = Stress.scaled(300);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        long[] totals = new long[3];
        runTask(Duration.ofSeconds(Math.max(60, rounds / 2)), () -> {
            for (int round = 0; round < rounds; round++) {
                cancellationRound(random.split(), totals, "seed " + seed + " round " + round);
            }
            return null;
        });
        assertThat(totals[0]).as("items sent in all rounds").isPositive();
        assertThat(totals[0]).as("sent == delivered + undelivered (delivered %d, undelivered %d)", totals[1], totals[2])
                .isEqualTo(totals[1] + totals[2]);
    }

    private static void cancellationRound(SplittableRandom random, long[] totals, String what) throws Exception {
        int kind = random.nextInt(3);
        Channel<Long> ch = kind == 0 ? Channel.rendezvous() : kind == 1 ? Channel.bounded(1 + random.nextInt(8)) : Channel.unbounded();
        int producers = 1 + random.nextInt(3);
        int consumers = 1 + random.nextInt(3);
        int perProducer = 2_000;
        ItemLedger ledger = new ItemLedger(producers, perProducer);
        List<Task<Void>> tasks = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int producer = p;
            tasks.add(Coro.spawn(() -> {
                try {
                    for (int seq = 0; seq < perProducer; seq++) {
                        ch.send(ItemLedger.item(producer, seq));
                        ledger.sent(producer, seq);
                    }
                } catch (ClosedChannelException e) {
                    // closed at the end of the round
                }
                return null;
            }));
        }
        for (int c = 0; c < consumers; c++) {
            boolean withTimeouts = random.nextBoolean();
            long timeoutNanos = 1_000 + random.nextInt(50_000);
            tasks.add(Coro.spawn(() -> {
                try {
                    while (true) {
                        Long x = withTimeouts
                                ? Coro.withTimeoutOrNull(Duration.ofNanos(timeoutNanos), ch::receive)
                                : ch.receive();
                        if (x != null) {
                            ledger.received(x);
                        }
                    }
                } catch (ClosedChannelException e) {
                    return null;
                }
            }));
        }
        List<Task<Void>> victims = new ArrayList<>(tasks);
        Collections.shuffle(victims, new Random(random.nextLong()));
        int cancels = random.nextInt(victims.size() + 1);
        for (int i = 0; i < cancels; i++) {
            pause(random);
            victims.get(i).cancel();
        }
        pause(random);
        ch.close();
        for (Task<Void> t : tasks) {
            try {
                t.join();
            } catch (CancellationException e) {
                // a victim
            }
        }
        ledger.check(what, ledger.drain(ch, what), totals);
    }

    /**
     * A waiting receive (then a waiting send) cancelled at nearly the moment its hand-over
     * happens, in either order, a few microseconds apart: the hand-over succeeded exactly when the
     * operation returned normally (a {@code trySend} that returned {@code true} means the receiver
     * returned the item; a {@code tryReceive} that returned the item means the send returned).
     * This drives the waiter through both outcomes of the cancellation rule, including the one
     * where it sees the cancellation after its operation was completed.
     */
    @Test
    void stressHandOverRacingCancellationDecidesEachOperationExactlyOnce() throws Exception {
        int rounds = Stress.scaled(5_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 20)), () -> {
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                Channel<Integer> ch = Channel.rendezvous();
                int item = round;
                AtomicReference<Integer> got = new AtomicReference<>();
                Task<Void> receiver = Coro.spawn(() -> {
                    got.set(ch.receive());
                    return null;
                });
                until("the receiver waits", () -> ch.receiversWaiting() == 1);
                boolean sent = race(random, receiver, () -> ch.trySend(item));
                try {
                    receiver.join();
                } catch (CancellationException e) {
                    // cancelled before the hand-over
                }
                assertThat(got.get()).as("%s: the receiver's item (trySend returned %s)", what, sent).isEqualTo(sent ? item : null);

                AtomicBoolean returned = new AtomicBoolean();
                Task<Void> sender = Coro.spawn(() -> {
                    ch.send(item);
                    returned.set(true);
                    return null;
                });
                until("the sender waits", () -> ch.sendersWaiting() == 1);
                AtomicReference<Integer> taken = new AtomicReference<>();
                race(random, sender, () -> {
                    taken.set(ch.tryReceive());
                    return true;
                });
                try {
                    sender.join();
                } catch (CancellationException e) {
                    // cancelled before the hand-over
                }
                assertThat(returned.get()).as("%s: the send returned normally (tryReceive took %s)", what, taken.get())
                        .isEqualTo(taken.get() != null);
                assertThat(ch.receiversWaiting() + ch.sendersWaiting()).as("%s: waiters left", what).isZero();
            }
            return null;
        });
    }

    /** Cancels {@code victim} and runs {@code handOver}, in random order, a random few microseconds apart. */
    static boolean race(SplittableRandom random, Task<?> victim, BooleanSupplier handOver) {
        long gap = random.nextInt(20_000);
        boolean result;
        if (random.nextBoolean()) {
            victim.cancel();
            spin(gap);
            result = handOver.getAsBoolean();
        } else {
            result = handOver.getAsBoolean();
            spin(gap);
            victim.cancel();
        }
        return result;
    }

    /** Busy-waits {@code nanos} on the calling thread, holding its carrier. */
    static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /** Lets the other tasks run for a random while: a short sleep, or a few yields. */
    static void pause(SplittableRandom random) {
        int r = random.nextInt(2);
        if (r == 0) {
            Coro.sleep(Duration.ofNanos(random.nextInt(2_000_000)));
        } else {
            for (int i = random.nextInt(20); i > 0; i--) {
                Coro.yieldNow();
            }
        }
    }
}
