package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Select;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * {@link Select}: exactly one clause takes effect, the first ready one in argument order when
 * several are; the other registrations are withdrawn; closed channels; cancellation and timeouts
 * while waiting (no clause took effect, nothing left queued); two selects completing each other;
 * clauses for a task's end ({@code onJoin}, {@code onAwait}); clauses for a semaphore's permit, a
 * lock and an event (a permit or the lock handed to exactly one waiter, never to a select that chose
 * another clause); misuse with its message; and a
 * stress test of selecting producers and consumers with cancellations, checked with
 * {@code sent == delivered + undelivered} item by item.
 *
 * <p>If a test here fails, check that a select's registration is claimed before it is completed
 * (a completer that fails the claim drops it and serves the next waiter), and that a select takes
 * every channel's lock, in one order, to register, to withdraw and to give up.
 */
public abstract class SelectTck extends SchedulerTck {

    /** Everything still queued on {@code channels}: what a finished select must not leave behind. */
    private static int waiting(Channel<?>... channels) {
        int n = 0;
        for (Channel<?> ch : channels) {
            n += ch.sendersWaiting() + ch.receiversWaiting();
        }
        return n;
    }

    // ---- which clause ----

    @Test
    void receivesFromTheChannelThatHasAnItem() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.bounded(4);
            Channel<String> b = Channel.bounded(4);
            b.send("x");
            String got = Select.select(a.onReceive(s -> "a:" + s), b.onReceive(s -> "b:" + s));
            assertThat(got).isEqualTo("b:x");
            assertThat(a.size() + b.size()).isZero();
            assertThat(waiting(a, b)).isZero();
            return null;
        });
    }

    @Test
    void theFirstReadyClauseInArgumentOrderWinsAndTheOthersTakeNoEffect() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.bounded(4);
            Channel<String> b = Channel.bounded(4);
            Channel<String> out = Channel.bounded(1);
            a.send("1");
            b.send("2");
            assertThat(Select.<String>select(b.onReceive(s -> "b:" + s), a.onReceive(s -> "a:" + s), out.onSend("o", () -> "sent")))
                    .isEqualTo("b:2");
            assertThat(a.tryReceive()).as("the item of a clause that was not chosen").isEqualTo("1");
            assertThat(out.size()).as("a send clause that was not chosen sent nothing").isZero();
            assertThat(Select.<String>select(a.onReceive(s -> "a:" + s), out.onSend("o", () -> "sent"))).isEqualTo("sent");
            assertThat(out.tryReceive()).isEqualTo("o");
            return null;
        });
    }

    @Test
    void aWaitingSelectTakesExactlyOneOfTwoSendsThatComeAtOnce() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> s), b.onReceive(s -> s)));
            until("the select waits on both channels", () -> a.receiversWaiting() == 1 && b.receiversWaiting() == 1);
            Task<Throwable> sendA = ChannelTck.spawnCatching(() -> {
                a.send("from a");
                return null;
            });
            Task<Throwable> sendB = ChannelTck.spawnCatching(() -> {
                b.send("from b");
                return null;
            });
            String got = selector.join();
            until("the other send waits", () -> a.sendersWaiting() + b.sendersWaiting() == 1);
            assertThat(a.receiversWaiting() + b.receiversWaiting()).as("registrations left behind").isZero();
            Channel<String> other = got.equals("from a") ? b : a;
            assertThat(other.tryReceive()).as("the send the select did not take").isEqualTo(got.equals("from a") ? "from b" : "from a");
            assertThat(sendA.join()).isNull();
            assertThat(sendB.join()).isNull();
            return null;
        });
    }

    @Test
    void aSelectOverManyChannelsInAnyOrderWaitsOnAllAndTakesOneItem() throws Exception {
        runTask(() -> {
            for (int n : new int[] {5, 40}) { // a few clauses, and more than the select sorts by insertion
                List<Channel<Integer>> channels = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    channels.add(Channel.rendezvous());
                }
                List<Channel<Integer>> order = new ArrayList<>(channels);
                Collections.shuffle(order, new Random(n));
                List<Select.Clause<String>> clauses = new ArrayList<>();
                for (Channel<Integer> ch : order) {
                    clauses.add(ch.onReceive(x -> "channel " + channels.indexOf(ch) + " sent " + x));
                }
                Task<String> selector = Coro.spawn(() -> Select.select(clauses));
                until("the select waits on every channel", () -> channels.stream().allMatch(ch -> ch.receiversWaiting() == 1));
                channels.get(n - 2).send(7);
                assertThat(selector.join()).isEqualTo("channel " + (n - 2) + " sent 7");
                assertThat(waiting(channels.toArray(Channel<?>[]::new))).as("registrations left of %d", n).isZero();
            }
            return null;
        });
    }

    @Test
    void aSendClauseWaitsForAReceiverOnAnyOfItsChannels() throws Exception {
        runTask(() -> {
            Channel<Integer> a = Channel.rendezvous();
            Channel<Integer> b = Channel.bounded(1);
            b.send(0); // full
            Task<String> selector = Coro.spawn(() -> Select.select(a.onSend(1, () -> "to a"), b.onSend(2, () -> "to b")));
            until("the select waits on both channels", () -> a.sendersWaiting() == 1 && b.sendersWaiting() == 1);
            assertThat(b.receive()).isEqualTo(0);
            assertThat(selector.join()).isEqualTo("to b");
            assertThat(b.tryReceive()).as("the item the select sent on b").isEqualTo(2);
            assertThat(a.tryReceive()).as("a send clause that lost sent nothing").isNull();
            assertThat(waiting(a, b)).isZero();
            return null;
        });
    }

    @Test
    void aSendAndAReceiveClauseOnOneChannelDoNotCompleteEachOther() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            Task<String> selector = Coro.spawn(() -> Select.<String>select(ch.onSend("mine", () -> "sent"), ch.onReceive(s -> "got " + s)));
            until("the select waits to send and to receive", () -> ch.sendersWaiting() == 1 && ch.receiversWaiting() == 1);
            Coro.sleep(Duration.ofMillis(20));
            assertThat(selector.isDone()).isFalse();
            assertThat(ch.receive()).isEqualTo("mine");
            assertThat(selector.join()).isEqualTo("sent");
            assertThat(waiting(ch)).isZero();
            return null;
        });
    }

    /**
     * A select waiting to send and to receive on one rendezvous channel is completed by another
     * select over the same two clauses, through the first of them in the other's argument order:
     * one item changes hands, once, and nothing stays queued.
     */
    @Test
    void twoSelectsEachSendingAndReceivingOnOneChannelCompleteEachOtherOnce() throws Exception {
        List<String> outcomes = runTask(() -> {
            List<String> seen = new ArrayList<>();
            for (boolean receiveFirst : new boolean[] {true, false}) {
                Channel<String> ch = Channel.rendezvous();
                Task<String> waiting = Coro.spawn(() -> Select.<String>select(ch.onSend("a", () -> "sent a"), ch.onReceive(s -> "got " + s)));
                until("the select waits to send and to receive", () -> ch.sendersWaiting() == 1 && ch.receiversWaiting() == 1);
                Select.Clause<String> send = ch.onSend("b", () -> "sent b");
                Select.Clause<String> receive = ch.onReceive(s -> "got " + s);
                String second = Select.select(receiveFirst ? List.of(receive, send) : List.of(send, receive));
                seen.add(second + " / " + waiting.join());
                assertThat(waiting(ch)).isZero();
            }
            return seen;
        });
        assertThat(outcomes).containsExactly("got a / sent a", "sent b / got b");
    }

    /**
     * A close completes a select's send and receive clauses on the closed channel at once (the send
     * is refused, the receive finds the channel closed and drained): the first of them in argument
     * order is chosen, as when the channel was closed before the select ran, whichever of the
     * channel's queues the close reaches first.
     */
    @Test
    void aCloseCompletingASendAndAReceiveClauseOfOneSelectChoosesTheFirstInArgumentOrder() throws Exception {
        List<String> outcomes = runTask(() -> {
            List<String> seen = new ArrayList<>();
            for (boolean whileWaiting : new boolean[] {false, true}) {
                for (boolean sendFirst : new boolean[] {true, false}) {
                    Channel<String> ch = Channel.rendezvous();
                    Select.Clause<String> send = ch.onSend("mine", () -> "sent");
                    Select.Clause<String> receive = ch.onReceive(s -> "got " + s, () -> "on closed");
                    List<Select.Clause<String>> clauses = sendFirst ? List.of(send, receive) : List.of(receive, send);
                    if (!whileWaiting) {
                        ch.close();
                    }
                    Task<String> selector = Coro.spawn(() -> {
                        try {
                            return Select.select(clauses);
                        } catch (ClosedChannelException e) {
                            return "ClosedChannelException";
                        }
                    });
                    if (whileWaiting) {
                        until("the select waits to send and to receive", () -> ch.sendersWaiting() == 1 && ch.receiversWaiting() == 1);
                        ch.close();
                    }
                    seen.add((whileWaiting ? "closed while waiting, " : "closed before, ") + (sendFirst ? "send first: " : "receive first: ")
                            + selector.join());
                    assertThat(waiting(ch)).isZero();
                }
            }
            return seen;
        });
        assertThat(outcomes).containsExactly(
                "closed before, send first: ClosedChannelException",
                "closed before, receive first: on closed",
                "closed while waiting, send first: ClosedChannelException",
                "closed while waiting, receive first: on closed");
    }

    @Test
    void aSelectCompletesAWaitingSelectByOneOfItsClausesOnly() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            Channel<String> c = Channel.rendezvous();
            Task<String> waiting = Coro.spawn(() -> Select.<String>select(a.onReceive(s -> "got " + s + " on a"), b.onReceive(s -> "got " + s + " on b")));
            until("the first select waits", () -> a.receiversWaiting() == 1 && b.receiversWaiting() == 1);
            assertThat(Select.<String>select(c.onSend("y", () -> "sent on c"), b.onSend("x", () -> "sent on b")))
                    .as("a select that can send on b completes the one waiting to receive there").isEqualTo("sent on b");
            assertThat(waiting.join()).isEqualTo("got x on b");
            assertThat(waiting(a, b, c)).isZero();

            Task<String> both = Coro.spawn(() -> Select.<String>select(a.onSend("z", () -> "sent on a"), c.onReceive(s -> "got " + s + " on c")));
            until("the second select waits", () -> a.sendersWaiting() == 1 && c.receiversWaiting() == 1);
            assertThat(Select.<String>select(c.onSend("w", () -> "sent on c"), a.onReceive(s -> "got " + s + " on a")))
                    .as("the first clause that can complete, in argument order").isEqualTo("sent on c");
            assertThat(both.join()).isEqualTo("got w on c");
            assertThat(waiting(a, b, c)).isZero();
            return null;
        });
    }

    @Test
    void handlersRunInTheTaskAfterTheOperationAndMaySuspend() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.bounded(2);
            ch.send("a");
            ch.send("b");
            String got = Select.select(ch.onReceive(s -> {
                assertThat(ch.size()).as("the item is taken before the handler runs").isEqualTo(1);
                Coro.sleep(Duration.ofMillis(1));
                return s + ch.receive();
            }));
            assertThat(got).isEqualTo("ab");
            assertThatThrownBy(() -> Select.select(Channel.<String>unbounded().onSend("c", () -> {
                throw new IllegalStateException("handler failed");
            }))).isExactlyInstanceOf(IllegalStateException.class).hasMessage("handler failed");
            return null;
        });
    }

    /**
     * A select with two receive clauses on one channel, and two send clauses on another, waits
     * there as one select: {@link Channel#receiversWaiting()} and {@link Channel#sendersWaiting()}
     * count it once, as their javadoc says (the later clause of a kind on a channel could never be
     * the one completed: the earlier is ahead of it in the same queue); the first clause wins.
     */
    @Test
    void aSelectWithTwoClausesOfAKindOnOneChannelCountsThereAsOneSelect() throws Exception {
        runTask(() -> {
            Channel<String> in = Channel.rendezvous();
            Channel<String> out = Channel.bounded(1);
            out.send("full");
            Task<String> selector = Coro.spawn(() -> Select.<String>select(in.onReceive(s -> "first got " + s),
                    out.onSend("a", () -> "sent a"), in.onReceive(s -> "second got " + s), out.onSend("b", () -> "sent b")));
            until("the select waits", () -> in.receiversWaiting() > 0 && out.sendersWaiting() > 0);
            assertThat(in.receiversWaiting()).as("selects waiting to receive on in").isEqualTo(1);
            assertThat(out.sendersWaiting()).as("selects waiting to send on out").isEqualTo(1);
            assertThat(out.receive()).isEqualTo("full");
            assertThat(selector.join()).isEqualTo("sent a");
            assertThat(out.tryReceive()).isEqualTo("a");
            assertThat(out.tryReceive()).as("the second send clause sent nothing").isNull();
            assertThat(waiting(in, out)).isZero();

            Task<String> again = Coro.spawn(() -> Select.<String>select(in.onReceive(s -> "first got " + s),
                    in.onReceive(s -> "second got " + s, () -> "second closed"), in.onReceive(s -> "third got " + s, () -> "third closed")));
            until("the select waits", () -> in.receiversWaiting() > 0);
            assertThat(in.receiversWaiting()).as("selects waiting to receive on in").isEqualTo(1);
            assertThat(in.trySend("x")).isTrue();
            assertThat(again.join()).isEqualTo("first got x");
            assertThat(waiting(in)).isZero();
            return null;
        });
    }

    // ---- closed channels ----

    @Test
    void aReceiveClauseOnAClosedDrainedChannelThrowsOrRunsItsOnClosed() throws Exception {
        runTask(() -> {
            Channel<String> closed = Channel.bounded(2);
            closed.send("left");
            closed.close();
            Channel<String> open = Channel.rendezvous();
            assertThat(Select.<String>select(closed.onReceive(s -> s), open.onReceive(s -> s)))
                    .as("a closed channel's buffered item is received").isEqualTo("left");
            assertThatThrownBy(() -> Select.select(closed.onReceive(s -> s), open.onReceive(s -> s)))
                    .isExactlyInstanceOf(ClosedChannelException.class)
                    .hasMessage("Select.select(channel.onReceive(...)) on a closed channel: the channel is closed and all its items have been received");
            assertThat(Select.<String>select(closed.onReceive(s -> s, () -> "closed"), open.onReceive(s -> s))).isEqualTo("closed");
            assertThat(waiting(open)).isZero();
            return null;
        });
    }

    @Test
    void closingAChannelCompletesASelectWaitingOnIt() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            Task<String> withOnClosed = Coro.spawn(() -> Select.select(b.onReceive(s -> s), a.onReceive(s -> s, () -> "a closed")));
            until("the select waits", () -> a.receiversWaiting() == 1 && b.receiversWaiting() == 1);
            a.close();
            assertThat(withOnClosed.join()).isEqualTo("a closed");
            assertThat(waiting(b)).isZero();

            Channel<String> d = Channel.rendezvous();
            Task<Throwable> without = ChannelTck.spawnCatching(() -> Select.select(b.onReceive(s -> s), d.onReceive(s -> s)));
            until("the select waits", () -> b.receiversWaiting() == 1 && d.receiversWaiting() == 1);
            d.close();
            assertThat(without.join()).isExactlyInstanceOf(ClosedChannelException.class)
                    .hasMessage("Select.select(channel.onReceive(...)) on a closed channel: the channel is closed and all its items have been received");
            assertThat(waiting(b)).isZero();
            return null;
        });
    }

    @Test
    void aSendClauseOnAClosedChannelThrowsAndSendsNothing() throws Exception {
        runTask(() -> {
            Channel<String> closed = Channel.unbounded();
            closed.close();
            Channel<String> full = Channel.bounded(1);
            full.send("f");
            assertThatThrownBy(() -> Select.select(full.onSend("x", () -> null), closed.onSend("y", () -> null)))
                    .isExactlyInstanceOf(ClosedChannelException.class)
                    .hasMessage("Select.select(channel.onSend(...)) on a closed channel: the channel is closed and accepts no more items");
            assertThat(full.size()).isEqualTo(1);
            Task<Throwable> waitingSend = ChannelTck.spawnCatching(() -> Select.select(full.onSend("z", () -> null)));
            until("the select waits", () -> full.sendersWaiting() == 1);
            full.close();
            assertThat(waitingSend.join()).isExactlyInstanceOf(ClosedChannelException.class);
            assertThat(full.tryReceive()).isEqualTo("f");
            assertThatThrownBy(full::tryReceive).isExactlyInstanceOf(ClosedChannelException.class);
            return null;
        });
    }

    // ---- cancellation and timeouts ----

    @Test
    void aSelectCancelledWhileWaitingTakesNothingAndLeavesNothingQueued() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.bounded(1);
            b.send("full");
            Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> s), b.onSend("x", () -> "sent")));
            until("the select waits", () -> a.receiversWaiting() == 1 && b.sendersWaiting() == 1);
            selector.cancel();
            assertCancelled(selector);
            assertThat(waiting(a, b)).isZero();
            assertThat(a.trySend("after")).as("a send after the cancelled select found no receiver").isFalse();
            assertThat(b.tryReceive()).isEqualTo("full");
            assertThat(b.tryReceive()).as("the cancelled select's item").isNull();
            return null;
        });
    }

    @Test
    void aSelectOfACancelledTaskThrowsAtOnceEvenWithAClauseReady() throws Exception {
        runTask(() -> {
            Channel<String> ch = Channel.bounded(1);
            ch.send("ready");
            Task<String> t = Coro.spawn(() -> {
                Coro.currentTask().cancel();
                return Select.select(ch.onReceive(s -> s));
            });
            assertCancelled(t);
            assertThat(ch.tryReceive()).isEqualTo("ready");
            return null;
        });
    }

    @Test
    void aTimeoutAroundASelectReturnsNullAndLeavesNothingQueued() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            String got = Coro.withTimeoutOrNull(Duration.ofMillis(30), () -> Select.select(a.onReceive(s -> s), b.onReceive(s -> s)));
            assertThat(got).isNull();
            assertThat(waiting(a, b)).isZero();
            return null;
        });
    }

    /**
     * A select whose task has seen the cancellation, and is about to withdraw, when a send hands
     * one of its receive clauses an item (the send holding that channel's lock first;
     * {@link GrantWindow}): the item is not lost, the select returns it.
     */
    @Test
    void aSelectHandedAnItemWhileItsCancelledTaskWithdrawsReturnsTheItem() throws Exception {
        List<String> log = runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> selector = Coro.spawn(() -> {
                out.add(Select.<String>select(a.onReceive(s -> "received " + s + " on a"), b.onReceive(s -> "received " + s + " on b")));
                Coro.yieldNow(); // the cancellation, still pending
                out.add("not cancelled");
                return null;
            });
            until("the select waits", () -> a.receiversWaiting() == 1 && b.receiversWaiting() == 1);
            GrantWindow.cancelAndGrant(b, selector, () -> out.add("trySend returned " + b.trySend("the item")));
            out.add("waiters left " + waiting(a, b));
            return out;
        });
        assertThat(log).containsExactly("trySend returned true", "received the item on b", "waiters left 0");
    }

    /**
     * A select whose task has seen the cancellation, and is about to withdraw, when a receive takes
     * the item of one of its send clauses ({@link GrantWindow}): the select returns normally, as
     * the item was delivered.
     */
    @Test
    void aSelectWhoseItemIsTakenWhileItsCancelledTaskWithdrawsReturnsNormally() throws Exception {
        List<String> log = runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.rendezvous();
            List<String> out = new CopyOnWriteArrayList<>();
            Task<Void> selector = Coro.spawn(() -> {
                out.add(Select.<String>select(b.onSend("the item", () -> "sent on b"), a.onReceive(s -> "received " + s)));
                Coro.yieldNow(); // the cancellation, still pending
                out.add("not cancelled");
                return null;
            });
            until("the select waits", () -> a.receiversWaiting() == 1 && b.sendersWaiting() == 1);
            GrantWindow.cancelAndGrant(a, selector, () -> out.add("tryReceive on b returned " + b.tryReceive()));
            out.add("waiters left " + waiting(a, b));
            return out;
        });
        assertThat(log).containsExactly("tryReceive on b returned the item", "sent on b", "waiters left 0");
    }

    /**
     * A waiting select cancelled a few microseconds before or after a send completes it: the send
     * took effect exactly when the select returned its item.
     */
    @Test
    void stressCompletionRacingCancellationDecidesTheSelectExactlyOnce() throws Exception {
        int rounds = Stress.scaled(2_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 20)), () -> {
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                Channel<Integer> a = Channel.rendezvous();
                Channel<Integer> b = Channel.rendezvous();
                Task<Integer> selector = Coro.spawn(() -> Select.select(a.onReceive(x -> x), b.onReceive(x -> -x)));
                until("the select waits", () -> a.receiversWaiting() == 1 && b.receiversWaiting() == 1);
                int item = round + 1;
                Channel<Integer> target = random.nextBoolean() ? a : b;
                boolean sent = ChannelTck.race(random, selector, () -> target.trySend(item));
                Integer got;
                try {
                    got = selector.join();
                } catch (CancellationException e) {
                    got = null;
                }
                assertThat(got).as("%s: the select's result (trySend returned %s)", what, sent)
                        .isEqualTo(sent ? (target == a ? item : -item) : null);
                assertThat(waiting(a, b)).as("%s: waiters left", what).isZero();
            }
            return null;
        });
    }

    @Test
    void anOnTimeoutClauseIsChosenWhenNoOtherCompletesInTime() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Channel<String> full = Channel.bounded(1);
            full.send("f");
            long t0 = System.nanoTime();
            String got = Select.select(a.onReceive(s -> s), full.onSend("x", () -> "sent"),
                    Select.onTimeout(Duration.ofMillis(30), () -> "timed out"));
            assertThat(got).isEqualTo("timed out");
            assertThat(System.nanoTime() - t0).as("waited its timeout").isGreaterThanOrEqualTo(Duration.ofMillis(30).toNanos());
            assertThat(waiting(a, full)).isZero();
            assertThat(a.trySend("late")).as("no receiver left behind").isFalse();
            assertThat(full.tryReceive()).isEqualTo("f");
            assertThat(full.tryReceive()).as("the send clause sent nothing").isNull();
            return null;
        });
    }

    @Test
    void aClauseThatCompletesBeforeTheTimeoutWins() throws Exception {
        runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> "got " + s),
                    Select.onTimeout(Duration.ofSeconds(30), () -> "timed out")));
            until("the select waits", () -> a.receiversWaiting() == 1);
            a.send("x");
            assertThat(Coro.withTimeout(Duration.ofSeconds(10), selector::join)).isEqualTo("got x");
            assertThat(waiting(a)).isZero();
            return null;
        });
    }

    @Test
    void aZeroTimeoutIsReadyAtOnceInItsPlaceInArgumentOrder() throws Exception {
        runTask(() -> {
            Channel<String> empty = Channel.rendezvous();
            Channel<String> ready = Channel.bounded(1);
            ready.send("r");
            assertThat(Select.<String>select(empty.onReceive(s -> s), Select.onTimeout(Duration.ZERO, () -> "now"))).isEqualTo("now");
            assertThat(Select.<String>select(Select.onTimeout(Duration.ZERO, () -> "now"), ready.onReceive(s -> s))).isEqualTo("now");
            assertThat(Select.<String>select(ready.onReceive(s -> s), Select.onTimeout(Duration.ZERO, () -> "now"))).isEqualTo("r");
            assertThat(waiting(empty, ready)).isZero();
            return null;
        });
    }

    /**
     * A select whose timeout has passed, but which has not run since (one carrier, held by the
     * task that sends), is completed by a send first: the send took effect, so the select returns
     * the item, not its timeout.
     */
    @Test
    void aSendThatComesAfterTheTimeoutPassedButBeforeTheSelectRanWins() throws Exception {
        assumeTrue(honoursParallelism(), "needs one carrier: the select then runs only once the sender lets it");
        scheduler = newScheduler(1);
        List<String> log = runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Task<String> selector = selectHeldPastItsDeadline(a, task -> {});
            List<String> out = new CopyOnWriteArrayList<>();
            out.add("trySend returned " + a.trySend("the item"));
            out.add(selector.join());
            out.add("waiters left " + waiting(a));
            return out;
        });
        assertThat(log).containsExactly("trySend returned true", "got the item", "waiters left 0");
    }

    /**
     * A select cancelled while it waits, well within its timeout, that runs again only once the
     * timeout has passed (one carrier, held by the task that cancelled it): it was cancelled while
     * waiting and no clause was completed, so it throws {@link CancellationException}, as kotlinx's
     * select and {@code Coro.sleep} in its place do; it does not return its timeout's result.
     */
    @Test
    void aSelectCancelledBeforeItsTimeoutThrowsAlsoWhenItRunsAgainAfterTheDeadline() throws Exception {
        assumeTrue(honoursParallelism(), "needs one carrier: the select then runs only once the canceller lets it");
        scheduler = newScheduler(1);
        List<String> log = runTask(() -> {
            Channel<String> a = Channel.rendezvous();
            Task<String> selector = selectHeldPastItsDeadline(a, task -> task.cancel());
            List<String> out = new CopyOnWriteArrayList<>();
            try {
                out.add("returned " + selector.join());
            } catch (CancellationException e) {
                out.add("cancelled");
            }
            out.add("waiters left " + waiting(a));
            return out;
        });
        assertThat(log).containsExactly("cancelled", "waiters left 0");
    }

    /**
     * On a one-carrier scheduler: spawns a select of a receive on {@code a} and a 100 ms timeout,
     * waits until it waits, runs {@code meanwhile} on it, then holds the only carrier for 300 ms,
     * so that the select's deadline passes while it cannot run; returns the select's task.
     *
     * <p>The select's deadline counts from its start, and nothing can make it park before that
     * deadline: its carrier descheduled (or a pause of the JVM) for the whole 100 ms between its
     * start and its park, and it finds its timeout passed, takes it, and never waits. On one
     * carrier that shows as the select done without ever having been seen waiting. The contract
     * is then checked for what happened instead (it timed out, and no earlier than its timeout,
     * leaving nothing queued) and the test is aborted, not failed: the scenario did not arise.
     */
    private static Task<String> selectHeldPastItsDeadline(Channel<String> a, Consumer<Task<String>> meanwhile) {
        // Once through first, so that the select below parks well within its timeout.
        assertThat(Select.<String>select(a.onReceive(s -> "got " + s), Select.onTimeout(Duration.ofMillis(1), () -> "timed out")))
                .isEqualTo("timed out");
        Duration timeout = Duration.ofMillis(100);
        long spawned = System.nanoTime();
        Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> "got " + s),
                Select.onTimeout(timeout, () -> "timed out")));
        // One carrier: the select registers and parks without letting this task run in between,
        // so it is seen waiting only once it has parked, or seen done if it never parked.
        until("the select waits, or is done without having waited", () -> a.receiversWaiting() == 1 || selector.isDone());
        if (selector.isDone()) {
            long took = System.nanoTime() - spawned;
            assertThat(selector.join()).as("a select that ended without having waited").isEqualTo("timed out");
            assertThat(took).as("a select that timed out without having waited took its timeout").isGreaterThanOrEqualTo(timeout.toNanos());
            assertThat(waiting(a)).isZero();
            abort("the select's " + timeout.toMillis() + " ms timeout passed before it could"
                    + " park (its carrier was held that long: a loaded machine), so it never waited: the scenario did not arise");
        }
        meanwhile.accept(selector);
        ChannelTck.spin(Duration.ofMillis(300).toNanos());
        return selector;
    }

    /**
     * A select with a short timeout, and a send that comes a random few microseconds before or
     * after it expires: the select returned the item exactly when the send took effect, and the
     * timeout otherwise.
     */
    @Test
    void stressTimeoutRacingCompletionDecidesTheSelectExactlyOnce() throws Exception {
        raceRounds((a, item, random) -> {
            Duration timeout = Duration.ofNanos(1_000 + random.nextInt(100_000));
            Task<Integer> selector = Coro.spawn(() -> Select.select(a.onReceive(x -> x), Select.onTimeout(timeout, () -> -1)));
            until("the select waits", () -> a.receiversWaiting() == 1 || selector.isDone());
            ChannelTck.spin(random.nextInt(100_000));
            return new Raced(a.trySend(item), selector.join());
        });
    }

    /** What one round of {@link #raceRounds} saw: whether the send took effect, and what the select returned. */
    private record Raced(boolean sent, int got) {}

    /** One round of {@link #raceRounds}: a select of {@code a.onReceive(x -> x)} and a clause whose result is -1, raced by a send of {@code item}. */
    @FunctionalInterface
    private interface RaceRound {
        Raced run(Channel<Integer> a, int item, SplittableRandom random);
    }

    /**
     * Rounds of a select on a fresh rendezvous channel raced by a send: in each, the select returned
     * the item exactly when the send took effect, and its other clause's -1 otherwise, and left
     * nothing queued.
     */
    private void raceRounds(RaceRound round) throws Exception {
        int rounds = Stress.scaled(2_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 20)), () -> {
            for (int i = 0; i < rounds; i++) {
                String what = "seed " + seed + " round " + i;
                Channel<Integer> a = Channel.rendezvous();
                int item = i + 1;
                Raced r = round.run(a, item, random);
                assertThat(r.got()).as("%s: the select's result (trySend returned %s)", what, r.sent()).isEqualTo(r.sent() ? item : -1);
                assertThat(waiting(a)).as("%s: waiters left", what).isZero();
            }
            return null;
        });
    }

    // ---- a task's end ----

    @Test
    void aClauseOfAnEndedTaskIsReadyAtOnceInItsPlaceInArgumentOrder() throws Exception {
        runTask(() -> {
            Task<Integer> ended = Coro.spawn(() -> 42);
            ended.join();
            Channel<String> ch = Channel.bounded(4);
            ch.send("item");
            assertThat(Select.<String>select(ch.onReceive(s -> "received " + s), Select.onJoin(ended, () -> "ended")))
                    .isEqualTo("received item");
            ch.send("item");
            assertThat(Select.<String>select(Select.onJoin(ended, () -> "ended"), ch.onReceive(s -> "received " + s)))
                    .isEqualTo("ended");
            assertThat(Select.<String>select(Select.onAwait(ended, v -> "value " + v), ch.onReceive(s -> "received " + s)))
                    .isEqualTo("value 42");
            assertThat(ch.tryReceive()).as("the item of the receive clause that was not chosen").isEqualTo("item");
            assertThat(waiting(ch)).isZero();
            return null;
        });
    }

    @Test
    void aWaitingSelectIsChosenByATasksEndAndWithdrawsFromItsChannels() throws Exception {
        runTask(() -> {
            Event finish = new Event();
            Task<String> worker = Coro.spawn(() -> {
                finish.await();
                return "done";
            });
            Task<String> other = Coro.spawn(() -> {
                new Event().await(); // never ends by itself
                return "never";
            });
            Channel<String> a = Channel.rendezvous();
            Channel<String> b = Channel.bounded(1);
            b.send("full");
            Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> "received " + s), b.onSend("x", () -> "sent"),
                    Select.onJoin(other, () -> "other ended"), Select.onAwait(worker, v -> "worker returned " + v)));
            until("the select waits", () -> a.receiversWaiting() == 1 && b.sendersWaiting() == 1);
            finish.set();
            assertThat(selector.join()).isEqualTo("worker returned done");
            assertThat(waiting(a, b)).as("registrations left in the channels").isZero();
            assertThat(a.trySend("after")).as("a send after the select found no receiver").isFalse();
            assertThat(b.tryReceive()).isEqualTo("full");
            assertThat(b.tryReceive()).as("the send clause that was not chosen").isNull();
            other.cancel();
            return null;
        });
    }

    @Test
    void aSelectWaitingForSeveralTasksReturnsForTheFirstToEnd() throws Exception {
        runTask(() -> {
            List<Event> finish = List.of(new Event(), new Event(), new Event());
            List<Task<Integer>> workers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int id = i;
                workers.add(Coro.spawn(() -> {
                    finish.get(id).await();
                    return id;
                }));
            }
            Task<String> selector = Coro.spawn(() -> Select.select(Select.onAwait(workers.get(0), v -> "worker " + v),
                    Select.onAwait(workers.get(1), v -> "worker " + v), Select.onAwait(workers.get(2), v -> "worker " + v)));
            until("the workers and the select wait", () -> scheduler.stats().parkedFibers() >= 4);
            finish.get(2).set();
            assertThat(selector.join()).isEqualTo("worker 2");
            finish.get(0).set();
            finish.get(1).set();
            assertThat(workers.get(0).join() + workers.get(1).join()).isEqualTo(1);
            return null;
        });
    }

    /**
     * onJoin waits for the end only: a failure stays its group's to report. onAwait, chosen, hands
     * the failure out (the select throws it), so the group does not report it as well; not chosen,
     * it observed nothing.
     */
    @Test
    void onJoinLeavesATasksFailureToItsGroup_onAwaitChosenThrowsItAndTheGroupDoesNotReportItAgain() throws Exception {
        List<String> out = new ArrayList<>();
        for (String how : List.of("onJoin", "onAwait", "onAwait not chosen")) {
            out.add(how + ": " + runTask(() -> {
                try {
                    return Coro.supervisorGroup(g -> {
                        Event gate = new Event();
                        Task<Object> child = g.spawn(() -> {
                            gate.await();
                            throw new IllegalStateException("child failed");
                        });
                        Channel<String> ch = Channel.bounded(1);
                        Select.Clause<String> clause = how.equals("onJoin") ? Select.onJoin(child, () -> "ended")
                                : Select.onAwait(child, v -> "returned " + v);
                        Task<String> selector = g.spawn(() -> {
                            try {
                                return Select.select(ch.onReceive(s -> "received " + s), clause);
                            } catch (IllegalStateException e) {
                                return "select threw " + e.getMessage();
                            }
                        });
                        // Registered with the child before it ends: its end then finds the select waiting.
                        until("the select waits", () -> ch.receiversWaiting() == 1);
                        if (how.equals("onAwait not chosen")) {
                            ch.send("item");
                        }
                        gate.set();
                        return selector.join();
                    }) + "; the group reported nothing";
                } catch (IllegalStateException e) {
                    return "the group reported " + e.getMessage();
                }
            }));
        }
        assertThat(out).containsExactly("onJoin: the group reported child failed",
                "onAwait: select threw child failed; the group reported nothing",
                "onAwait not chosen: the group reported child failed");
    }

    /**
     * A select waiting in onAwait when its task fails, then choosing that clause, observes the
     * failure as a join waiting then does: the task's supervisor group does not report it as well,
     * also when the group closes before the select has run again. One carrier (run in turn: the
     * group's owner, yielding, is queued before the select is woken) makes that order certain;
     * elsewhere the rounds race, and the group closes first in most of them.
     */
    @Test
    void onAwaitWaitingWhenItsTaskFailsKeepsTheFailureFromItsGroupAsAWaitingJoinDoes() throws Exception {
        int rounds = 1;
        if (honoursParallelism()) {
            scheduler = newScheduler(1);
        } else {
            rounds = Stress.scaled(20);
        }
        Set<String> out = new TreeSet<>();
        for (int round = 0; round < rounds; round++) {
            for (String how : List.of("join", "onAwait")) {
                out.add(how + ": " + runTask(() -> {
                    CompletableFuture<Task<Object>> childOf = new CompletableFuture<>();
                    Event go = new Event();
                    Channel<String> ch = Channel.rendezvous();
                    Task<String> owner = Coro.spawn(() -> {
                        try {
                            return Coro.supervisorGroup(g -> {
                                Event gate = new Event();
                                Task<Object> child = g.spawn(() -> {
                                    gate.await();
                                    throw new IllegalStateException("child failed");
                                });
                                childOf.complete(child);
                                go.await();
                                gate.set();
                                while (!child.isDone()) { // yields in turn: the child fails, and wakes the waiter, queued after this task
                                    Coro.yieldNow();
                                }
                                return "the group reported nothing";
                            });
                        } catch (IllegalStateException e) {
                            return "the group reported " + e.getMessage();
                        }
                    });
                    until("the child is spawned", childOf::isDone);
                    Task<Object> child = childOf.join();
                    Task<String> waiter = Coro.spawn(() -> {
                        try {
                            return how.equals("join") ? "join returned " + child.join()
                                    : Select.select(ch.onReceive(s -> "received " + s), Select.onAwait(child, v -> "returned " + v));
                        } catch (IllegalStateException e) {
                            return how + " threw " + e.getMessage();
                        }
                    });
                    // The join waits among the child's joiners as the select does (parked: the owner, the child, the waiter).
                    until("the waiter waits", () -> how.equals("join") ? scheduler.stats().parkedFibers() >= 3 : ch.receiversWaiting() == 1);
                    go.set();
                    return owner.join() + "; " + waiter.join();
                }));
            }
        }
        assertThat(out).containsExactly("join: the group reported nothing; join threw child failed",
                "onAwait: the group reported nothing; onAwait threw child failed");
    }

    @Test
    void onAwaitOfACancelledTaskThrowsCancellationException() throws Exception {
        runTask(() -> {
            Task<String> worker = Coro.spawn(() -> {
                new Event().await();
                return "never";
            });
            Task<String> selector = Coro.spawn(() -> Select.select(Select.onAwait(worker, v -> "returned " + v)));
            until("the worker and the select wait", () -> scheduler.stats().parkedFibers() >= 2);
            worker.cancel();
            assertThatThrownBy(selector::join).isInstanceOf(CancellationException.class);
            return null;
        });
    }

    @Test
    void aSelectCancelledWhileWaitingForATasksEndThrowsAndTheTaskRunsOn() throws Exception {
        runTask(() -> {
            Event finish = new Event();
            Task<String> worker = Coro.spawn(() -> {
                finish.await();
                return "done";
            });
            Channel<String> a = Channel.rendezvous();
            Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> s), Select.onAwait(worker, v -> v)));
            until("the select waits", () -> a.receiversWaiting() == 1);
            selector.cancel();
            assertCancelled(selector);
            assertThat(waiting(a)).isZero();
            assertThat(worker.isDone()).isFalse();
            finish.set();
            assertThat(worker.join()).isEqualTo("done");
            return null;
        });
    }

    /**
     * A select waiting for a task's end, cancelled after the task ended but before it ran again
     * (one carrier, run in turn: the task that cancels it runs before it): the end completed its
     * clause first, as a send completes a receive clause, so it returns that clause's result, and
     * the cancellation stays pending for the next suspension point (the package's rule).
     */
    @Test
    void aSelectCancelledAfterTheTaskItWaitsForEndedButBeforeItRanReturnsTheClause() throws Exception {
        assumeTrue(honoursParallelism(), "needs one carrier: the select then runs only after the canceller");
        scheduler = newScheduler(1);
        List<String> log = runTask(() -> {
            Event finish = new Event();
            Task<String> worker = Coro.spawn(() -> {
                finish.await();
                return "done";
            });
            Channel<String> a = Channel.rendezvous();
            Task<String> selector = Coro.spawn(() -> {
                String got = Select.select(a.onReceive(s -> s), Select.onAwait(worker, v -> "returned " + v));
                try {
                    Coro.checkCancelled();
                    return got + ", not cancelled";
                } catch (CancellationException e) {
                    return got + ", then cancelled";
                }
            });
            until("the select waits", () -> a.receiversWaiting() == 1);
            finish.set();
            while (!worker.isDone()) { // yields in turn: the worker ends, and wakes the select, queued after this task
                scheduler.currentFiber().yieldNow();
            }
            List<String> out = new ArrayList<>();
            out.add("select done before the cancel: " + selector.isDone());
            selector.cancel();
            out.add(selector.join());
            out.add("waiters left " + waiting(a));
            return out;
        });
        assertThat(log).containsExactly("select done before the cancel: false", "returned done, then cancelled", "waiters left 0");
    }

    /**
     * A task that has ended (isDone, and a join or a select made now returns its outcome at once)
     * before a select waiting for it is cancelled, or before its timeout passes, completed the
     * select's clause first: the select returns that clause, as a join waiting beside it returns
     * the outcome. The window is held open by a completion callback of the task's stage, which
     * runs on the task's thread once it has ended, and here waits (bounded) until the waiters
     * have answered.
     */
    @Test
    void aSelectCancelledOrTimedOutAfterItsTaskEndedReturnsTheTasksClauseAsAJoinReturnsTheOutcome() throws Exception {
        List<String> out = new ArrayList<>();
        for (String how : List.of("cancelled", "timed out")) {
            // The worker runs on a scheduler of its own, whose one carrier its callback holds, so
            // that the waiters run meanwhile on this test's scheduler.
            Scheduler home = newScheduler(1);
            CompletableFuture<Task<String>> workerOf = new CompletableFuture<>();
            Event finish = new Event();
            Thread.ofPlatform().daemon().name("tck-worker-home").start(() -> {
                try {
                    Coro.run(home, () -> {
                        Task<String> w = Coro.spawn(() -> {
                            finish.await();
                            return "done";
                        });
                        workerOf.complete(w);
                        return w.join();
                    });
                } catch (Exception e) {
                    workerOf.completeExceptionally(e);
                }
            });
            out.add(how + ": " + runTask(() -> {
                until("the worker is spawned", workerOf::isDone);
                Task<String> worker = workerOf.join();
                Channel<String> a = Channel.rendezvous();
                Duration timeout = Duration.ofMillis(how.equals("cancelled") ? 60_000 : 300);
                Task<String> selector = Coro.spawn(() -> {
                    try {
                        return Select.select(a.onReceive(s -> "received " + s), Select.onAwait(worker, v -> "returned " + v),
                                Select.onTimeout(timeout, () -> "timed out"));
                    } catch (CancellationException e) {
                        return "cancelled";
                    }
                });
                Task<String> joiner = Coro.spawn(() -> {
                    try {
                        return worker.join();
                    } catch (CancellationException e) {
                        return "cancelled";
                    }
                });
                until("the select and the join wait", () -> a.receiversWaiting() == 1 && scheduler.stats().parkedFibers() >= 2);
                boolean[] endedFirst = new boolean[1];
                worker.toCompletableFuture().whenComplete((v, e) -> {
                    // On the worker's thread, once it has ended, before it wakes its waiters.
                    endedFirst[0] = worker.isDone() && !selector.isDone();
                    if (how.equals("cancelled")) {
                        selector.cancel();
                        joiner.cancel();
                    }
                    long giveUp = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                    // (A join not cancelled waits for the wake-up, after this callback.)
                    while (!(selector.isDone() && (joiner.isDone() || how.equals("timed out"))) && System.nanoTime() - giveUp < 0) {
                        Thread.onSpinWait();
                    }
                });
                finish.set();
                String got = selector.join() + ", join " + joiner.join();
                assertThat(endedFirst[0]).as("the worker ended before the select gave up").isTrue();
                return got;
            }));
        }
        assertThat(out).containsExactly("cancelled: returned done, join done", "timed out: returned done, join done");
    }

    /**
     * A select that another clause completes, or that is cancelled, takes its registration back
     * from the task it waited for: a long-lived task that many selects waited for keeps none of
     * their tasks reachable.
     */
    @Test
    void selectsThatWaitedForALongLivedTaskLeaveNothingBehindOnIt() throws Exception {
        runTask(() -> {
            Event finish = new Event();
            Task<String> longLived = Coro.spawn(() -> {
                finish.await();
                return "done";
            });
            List<WeakReference<Task<String>>> selectors = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                Channel<String> a = Channel.rendezvous();
                Task<String> selector = Coro.spawn(() -> Select.select(a.onReceive(s -> s), Select.onJoin(longLived, () -> "ended")));
                until("the select waits", () -> a.receiversWaiting() == 1);
                if (i % 2 == 0) {
                    a.send("item " + i);
                    assertThat(selector.join()).isEqualTo("item " + i);
                } else {
                    selector.cancel();
                    assertCancelled(selector);
                }
                selectors.add(new WeakReference<>(selector));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (selectors.stream().anyMatch(r -> r.get() != null) && System.nanoTime() - deadline < 0) {
                System.gc();
                Coro.sleep(Duration.ofMillis(10));
            }
            // At most one may stay, held by a stale slot of an interpreted frame (-Xint runs).
            assertThat(selectors.stream().filter(r -> r.get() != null).count()).as("selectors still reachable").isLessThanOrEqualTo(1);
            finish.set();
            assertThat(longLived.join()).isEqualTo("done");
            return null;
        });
    }

    /**
     * A send racing a task's end for a select waiting on both: the select returned the item
     * exactly when the send took effect, and the task's end otherwise.
     */
    @Test
    void stressATasksEndRacingASendDecidesTheSelectExactlyOnce() throws Exception {
        raceRounds((a, item, random) -> {
            Event finish = new Event();
            Task<Integer> worker = Coro.spawn(() -> {
                finish.await();
                return -1;
            });
            Task<Integer> selector = Coro.spawn(() -> Select.select(a.onReceive(x -> x), Select.onAwait(worker, v -> v)));
            until("the select waits", () -> a.receiversWaiting() == 1);
            long gap = random.nextInt(20_000);
            Task<Boolean> sender = Coro.spawn(() -> {
                ChannelTck.spin(gap);
                return a.trySend(item);
            });
            ChannelTck.spin(random.nextInt(20_000));
            finish.set();
            return new Raced(sender.join(), selector.join());
        });
    }

    /**
     * The same task in two clauses, with many channel clauses between them: its end makes both
     * ready at once, so the select returns the first in argument order, also when the task ends
     * while the select looks at its clauses (before it waits, or as it wakes). The worker runs
     * beside the select and its end is steered to where it meets the select's look at the
     * clauses: later after a round in which the select had not registered when the worker ended,
     * earlier after one in which it had.
     */
    @Test
    void stressATaskInTwoClausesEndingAsTheSelectLooksIsChosenInItsFirstPlace() throws Exception {
        int rounds = Stress.scaled(400);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        List<String> wrong = runTask(Duration.ofSeconds(Math.max(60, rounds / 10)), () -> {
            List<Channel<String>> between = new ArrayList<>();
            for (int i = 0; i < 1_000; i++) {
                between.add(Channel.rendezvous());
            }
            List<String> out = new ArrayList<>();
            long delay = 0;
            for (int round = 0; round < rounds; round++) {
                long spin = delay;
                boolean[] late = new boolean[1];
                AtomicBoolean selecting = new AtomicBoolean();
                Task<String> worker = Coro.spawn(() -> {
                    // On a carrier of its own, so that it ends as the select runs; bounded, in case the
                    // select is queued behind it (the round then only misses the window).
                    long giveUp = System.nanoTime() + Duration.ofSeconds(1).toNanos();
                    while (!selecting.get() && System.nanoTime() - giveUp < 0) {
                        Thread.onSpinWait();
                    }
                    ChannelTck.spin(spin);
                    late[0] = between.get(between.size() - 1).receiversWaiting() > 0; // the select had registered
                    return "value";
                });
                List<Select.Clause<String>> clauses = new ArrayList<>();
                clauses.add(Select.onJoin(worker, () -> "onJoin, the first"));
                for (Channel<String> ch : between) {
                    clauses.add(ch.onReceive(s -> "received " + s));
                }
                clauses.add(Select.onAwait(worker, v -> "onAwait, the last"));
                Task<String> selector = Coro.spawn(() -> {
                    selecting.set(true);
                    return Select.select(clauses);
                });
                String got = selector.join();
                worker.join();
                if (!got.equals("onJoin, the first")) {
                    out.add("seed " + seed + " round " + round + ": " + got);
                }
                long step = 1 + random.nextLong(5_000);
                delay = late[0] ? Math.max(0, delay - step) : delay + step;
            }
            assertThat(waiting(between.toArray(new Channel<?>[0]))).as("registrations left in the channels").isZero();
            return out;
        });
        assertThat(wrong).as("rounds in which the select chose the later clause of the task").isEmpty();
    }

    /**
     * A task's failure racing a cancellation (or a timeout) of a select waiting in onAwait for it:
     * exactly one of them hands the failure out. The select throws it, and the task's supervisor
     * group does not report it; or the select throws CancellationException (returns its timeout),
     * and the group reports it. Never both, never neither.
     */
    @Test
    void stressATasksFailureRacingTheSelectsCancellationIsHandedOutExactlyOnce() throws Exception {
        int rounds = Stress.scaled(1_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        List<String> wrong = runTask(Duration.ofSeconds(Math.max(60, rounds / 20)), () -> {
            List<String> out = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                boolean timeout = round % 2 == 1;
                long gap = random.nextInt(20_000);
                String[] selectSaw = new String[1];
                String groupSaw;
                try {
                    groupSaw = Coro.supervisorGroup(g -> {
                        Event gate = new Event();
                        Task<Object> child = g.spawn(() -> {
                            gate.await();
                            throw new IllegalStateException("child failed");
                        });
                        Channel<String> ch = Channel.rendezvous();
                        Task<String> selector = g.spawn(() -> {
                            try {
                                return timeout ? Select.select(ch.onReceive(s -> s), Select.onAwait(child, v -> "returned"),
                                        Select.onTimeout(Duration.ofNanos(1_000 + gap), () -> "timed out"))
                                        : Select.select(ch.onReceive(s -> s), Select.onAwait(child, v -> "returned"));
                            } catch (CancellationException e) {
                                return "cancelled";
                            } catch (IllegalStateException e) {
                                return "threw " + e.getMessage();
                            }
                        });
                        until("the select waits", () -> ch.receiversWaiting() == 1 || selector.isDone());
                        Task<Void> canceller = g.spawn(() -> {
                            ChannelTck.spin(gap);
                            if (!timeout) {
                                selector.cancel();
                            }
                            return null;
                        });
                        ChannelTck.spin(random.nextInt(20_000));
                        gate.set();
                        selectSaw[0] = selector.join();
                        canceller.join();
                        return "nothing";
                    });
                } catch (IllegalStateException e) {
                    groupSaw = e.getMessage();
                }
                boolean selectHandedIt = selectSaw[0].equals("threw child failed");
                boolean groupReported = groupSaw.equals("child failed");
                if (selectHandedIt == groupReported) {
                    out.add("seed " + seed + " round " + round + ": select " + selectSaw[0] + ", group reported " + groupSaw);
                }
            }
            return out;
        });
        assertThat(wrong).as("rounds in which the failure was handed out twice or not at all").isEmpty();
    }

    // ---- semaphores, locks, events ----

    @Test
    void primitiveClausesAreReadyAtOnceInTheirPlaceInArgumentOrder() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            Semaphore permits = new Semaphore(2);
            Lock lock = new Lock();
            Event event = new Event();
            Channel<String> ch = Channel.bounded(1);
            out.add(Select.select(ch.onReceive(s -> "received " + s), permits.onAcquire(() -> "permit"), event.onSet(() -> "set")));
            out.add("permits " + permits.availablePermits());
            out.add(Select.select(event.onSet(() -> "set"), lock.onLock(() -> "locked")));
            out.add("locked " + lock.isLocked());
            lock.unlock(); // the select made this task the owner
            event.set();
            ch.send("x");
            out.add(Select.select(event.onSet(() -> "set"), lock.onLock(() -> "locked"), ch.onReceive(s -> "received " + s)));
            out.add("locked " + lock.isLocked() + ", event set " + event.isSet() + ", channel size " + ch.size());
            permits.acquire();
            out.add(Select.select(permits.onAcquire(() -> "permit"), ch.onReceive(s -> "received " + s), lock.onLock(() -> "locked")));
            out.add("permits " + permits.availablePermits() + ", locked " + lock.isLocked());
            out.add("waiting " + permits.queueLength() + " " + lock.queueLength() + " " + event.queueLength() + " " + waiting(ch));
            return out;
        });
        assertThat(log).containsExactly("permit", "permits 1", "locked", "locked true",
                "set", "locked false, event set true, channel size 1",
                "received x", "permits 0, locked false",
                "waiting 0 0 0 0");
    }

    /**
     * A select waiting for a permit, the lock and an event at once, with a channel: each of
     * release, unlock and set completes it by that clause only, and it withdraws from the rest.
     */
    @Test
    void aWaitingSelectIsChosenByAReleaseAnUnlockOrASetAndWithdrawsFromTheRest() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            Semaphore permits = new Semaphore(1);
            Lock lock = new Lock();
            Event event = new Event();
            Channel<String> ch = Channel.rendezvous();
            permits.acquire();
            lock.lock();
            for (String how : List.of("release", "unlock", "set")) {
                Task<String> selector = Coro.spawn(() -> {
                    String got = Select.select(ch.onReceive(s -> "received " + s), permits.onAcquire(() -> "permit"),
                            lock.onLock(() -> "locked"), event.onSet(() -> "set"));
                    if (got.equals("locked")) {
                        lock.unlock(); // the select's task owns it
                        return got + ", and unlocked";
                    }
                    return got;
                });
                until("the select waits", () -> permits.queueLength() == 1 && lock.queueLength() == 1
                        && event.queueLength() == 1 && ch.receiversWaiting() == 1);
                switch (how) {
                    case "release" -> permits.release();
                    case "unlock" -> lock.unlock();
                    default -> event.set();
                }
                out.add(how + ": " + selector.join() + "; waiting " + permits.queueLength() + " " + lock.queueLength()
                        + " " + event.queueLength() + " " + waiting(ch) + "; permits " + permits.availablePermits()
                        + ", locked " + lock.isLocked());
                if (how.equals("unlock")) {
                    lock.lock(); // free again: hold it for the next round
                }
            }
            return out;
        });
        assertThat(log).containsExactly(
                "release: permit; waiting 0 0 0 0; permits 0, locked true",
                "unlock: locked, and unlocked; waiting 0 0 0 0; permits 0, locked false",
                "set: set; waiting 0 0 0 0; permits 0, locked true");
    }

    /**
     * A permit released, or the lock unlocked, right after a send chose a waiting select's other
     * clause, while its registration may still be queued ahead of a plain waiter: the permit or
     * the lock goes to that waiter, not to the select (which would hold it without knowing).
     */
    @Test
    void aPermitOrTheLockFreedAfterASelectChoseAnotherClauseGoesToTheNextWaiter() throws Exception {
        List<String> log = runTask(() -> {
            List<String> out = new ArrayList<>();
            Semaphore permits = new Semaphore(1);
            Lock lock = new Lock();
            Channel<String> ch = Channel.rendezvous();
            permits.acquire();
            lock.lock();
            for (String what : List.of("permit", "lock")) {
                Task<String> selector = Coro.spawn(() -> Select.select(what.equals("permit")
                        ? permits.onAcquire(() -> "permit") : lock.onLock(() -> "locked"), ch.onReceive(s -> "received " + s)));
                until("the select waits", () -> ch.receiversWaiting() == 1);
                Task<String> next = Coro.spawn(() -> {
                    if (what.equals("permit")) {
                        permits.acquire();
                        return "acquired";
                    }
                    lock.lock();
                    lock.unlock();
                    return "locked and unlocked";
                });
                until("the plain waiter waits behind the select",
                        () -> (what.equals("permit") ? permits.queueLength() : lock.queueLength()) == 2);
                // Both at once, without suspending between them: the select has not withdrawn yet.
                boolean sent = ch.trySend("x");
                if (what.equals("permit")) {
                    permits.release();
                } else {
                    lock.unlock();
                }
                out.add(what + ": sent " + sent + ", select " + selector.join() + ", next waiter " + next.join()
                        + "; permits " + permits.availablePermits() + ", locked " + lock.isLocked()
                        + ", waiting " + permits.queueLength() + " " + lock.queueLength() + " " + waiting(ch));
            }
            return out;
        });
        assertThat(log).containsExactly(
                "permit: sent true, select received x, next waiter acquired; permits 0, locked true, waiting 0 0 0",
                "lock: sent true, select received x, next waiter locked and unlocked; permits 0, locked false, waiting 0 0 0");
    }

    @Test
    void aSelectCancelledWhileWaitingForAPermitOrTheLockTakesNeither() throws Exception {
        List<String> log = runTask(() -> {
            Semaphore permits = new Semaphore(1);
            Lock lock = new Lock();
            Event event = new Event();
            permits.acquire();
            lock.lock();
            Task<String> selector = Coro.spawn(() -> Select.select(permits.onAcquire(() -> "permit"), lock.onLock(() -> "locked"),
                    event.onSet(() -> "set")));
            until("the select waits", () -> permits.queueLength() == 1 && lock.queueLength() == 1 && event.queueLength() == 1);
            selector.cancel();
            assertCancelled(selector);
            permits.release();
            lock.unlock();
            return List.of("waiting " + permits.queueLength() + " " + lock.queueLength() + " " + event.queueLength(),
                    "permits " + permits.availablePermits() + ", locked " + lock.isLocked());
        });
        assertThat(log).containsExactly("waiting 0 0 0", "permits 1, locked false");
    }

    /**
     * A select whose task has seen the cancellation, and is about to withdraw, when a release
     * hands its onAcquire clause the permit, or a set completes its onSet clause (the release or
     * the set holding the primitive's lock first; {@link GrantWindow}): the clause took effect, so
     * the select returns it (the permit, which the task then gives back), as the package's rule says.
     */
    @Test
    void aPermitOrAnEventHandedToASelectWhileItsCancelledTaskWithdrawsTakesEffect() throws Exception {
        List<String> log = runTask(() -> {
            Semaphore permits = new Semaphore(1);
            Event event = new Event();
            Channel<String> ch = Channel.rendezvous();
            List<String> out = new CopyOnWriteArrayList<>();
            permits.acquire();
            for (String what : List.of("permit", "set")) {
                Task<Void> selector = Coro.spawn(() -> {
                    String got = Select.select(what.equals("permit") ? permits.onAcquire(() -> "permit") : event.onSet(() -> "set"),
                            ch.onReceive(s -> "received " + s));
                    out.add(got);
                    try {
                        Coro.yieldNow(); // the cancellation, still pending
                        out.add("not cancelled");
                    } finally {
                        if (got.equals("permit")) {
                            permits.release();
                        }
                    }
                    return null;
                });
                until("the select waits", () -> ch.receiversWaiting() == 1
                        && (what.equals("permit") ? permits.queueLength() : event.queueLength()) == 1);
                if (what.equals("permit")) {
                    GrantWindow.cancelAndGrant(permits, selector, permits::release); // the main task's permit, handed on
                } else {
                    GrantWindow.cancelAndGrant(event, selector, event::set);
                }
                out.add("permits " + permits.availablePermits() + ", event set " + event.isSet() + ", waiting "
                        + permits.queueLength() + " " + event.queueLength() + " " + waiting(ch));
            }
            return out;
        });
        assertThat(log).containsExactly("permit", "permits 1, event set false, waiting 0 0 0",
                "set", "permits 1, event set true, waiting 0 0 0");
    }

    /**
     * A select whose task has seen the cancellation, and waits for the lock's inner lock to
     * withdraw, when the owner's unlock, queued for that inner lock first, hands it the lock: the
     * select returns normally and its task owns the lock (and unlocks it), also when the select
     * runs in a generator body (the owner is then the task that resumed the body). A plain thread
     * holds the inner lock until both are queued, in that order; the owner runs on a scheduler of
     * its own, so that its carrier, held up in the unlock, is not the one the select runs on.
     */
    @Test
    void aSelectHandedTheLockWhileItsCancelledTaskWithdrawsOwnsIt() throws Exception {
        for (boolean inGenerator : new boolean[] {false, true}) {
            Scheduler ownersScheduler = newScheduler(1);
            Lock lock = new Lock();
            Event unlock = new Event();
            CompletableFuture<Void> locked = new CompletableFuture<>();
            CompletableFuture<Void> ownerDone = new CompletableFuture<>();
            Thread.ofPlatform().daemon().name("tck-lock-owner").start(() -> {
                try {
                    Coro.run(ownersScheduler, () -> {
                        lock.lock();
                        locked.complete(null);
                        unlock.await();
                        lock.unlock(); // held up in the inner lock until the window closes
                        return null;
                    });
                    ownerDone.complete(null);
                } catch (Throwable e) {
                    locked.completeExceptionally(e);
                    ownerDone.completeExceptionally(e);
                }
            });
            List<String> log = runTask(() -> {
                Channel<String> ch = Channel.rendezvous();
                until("the owner holds the lock", locked::isDone);
                locked.join();
                List<String> out = new CopyOnWriteArrayList<>();
                Task<Void> selector = Coro.spawn(() -> {
                    Callable<String> select = () -> Select.select(lock.onLock(() -> "locked"), ch.onReceive(s -> "received " + s));
                    String got = inGenerator
                            ? ((Step.Yielded<String, Void>) Generator.<String, Object, Void>of(co -> {
                                co.yield(select.call());
                                return null;
                            }).next()).value()
                            : select.call();
                    out.add(got + (inGenerator ? " in a generator body" : ""));
                    try {
                        Coro.yieldNow(); // the cancellation, still pending
                        out.add("not cancelled");
                    } finally {
                        if (got.equals("locked")) {
                            lock.unlock(); // throws unless this task owns it
                            out.add("unlocked by the select's task");
                        }
                    }
                    return null;
                });
                until("the select waits", () -> lock.queueLength() == 1 && ch.receiversWaiting() == 1);
                ReentrantLock inner = innerLockOf(lock);
                CountDownLatch held = new CountDownLatch(1);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread window = Thread.ofPlatform().daemon().name("tck-grant-window").start(() -> {
                    inner.lock();
                    try {
                        held.countDown();
                        awaitQueued(inner, 1); // the owner's unlock
                        selector.cancel();
                        awaitQueued(inner, 2); // the select, to withdraw
                    } catch (Throwable e) {
                        failure.set(e);
                    } finally {
                        inner.unlock();
                    }
                });
                until("the inner lock is held", () -> held.getCount() == 0);
                unlock.set();
                assertCancelled(selector);
                until("the window is closed", () -> !window.isAlive());
                assertThat(failure.get()).as("what the window threw").isNull();
                until("the owner is done", ownerDone::isDone);
                ownerDone.join();
                out.add("locked " + lock.isLocked() + ", waiting " + lock.queueLength() + " " + waiting(ch));
                return out;
            });
            String where = inGenerator ? " in a generator body" : "";
            assertThat(log).containsExactly("locked" + where, "unlocked by the select's task", "locked false, waiting 0 0");
        }
    }

    private static ReentrantLock innerLockOf(Lock lock) throws ReflectiveOperationException {
        for (Field f : Lock.class.getDeclaredFields()) {
            if (f.getType() == ReentrantLock.class) {
                f.setAccessible(true);
                return (ReentrantLock) f.get(lock);
            }
        }
        throw new AssertionError("Lock has no ReentrantLock field");
    }

    private static void awaitQueued(ReentrantLock inner, int threads) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (inner.getQueueLength() < threads) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(threads + " not queued for the lock's inner lock within 30 s");
            }
            Thread.onSpinWait();
        }
    }

    /** Two clauses for the same semaphore (or lock) wait there as one: the first in argument order is chosen. */
    @Test
    void twoClausesOnOnePrimitiveWaitThereAsOne() throws Exception {
        List<String> log = runTask(() -> {
            Semaphore permits = new Semaphore(1);
            permits.acquire();
            Task<String> selector = Coro.spawn(() -> Select.select(permits.onAcquire(() -> "first"), permits.onAcquire(() -> "second")));
            until("the select waits", () -> permits.queueLength() == 1);
            Coro.yieldNow();
            int queued = permits.queueLength();
            permits.release();
            return List.of("queued " + queued, selector.join(), "permits " + permits.availablePermits() + ", waiting " + permits.queueLength());
        });
        assertThat(log).containsExactly("queued 1", "first", "permits 0, waiting 0");
    }

    /**
     * Acquire with a deadline: a select of a permit and a short timeout, raced by a release a few
     * microseconds before or after the deadline, or by the select's cancellation. The select took
     * the permit exactly when it says so (and releases it), so every permit is back at the end of
     * each round; a permit lost or handed out twice would show.
     */
    @Test
    void stressAPermitRacingTheDeadlineOrTheCancellationOfASelectIsNeverLostNorDoubled() throws Exception {
        int rounds = Stress.scaled(2_000);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        runTask(Duration.ofSeconds(Math.max(60, rounds / 20)), () -> {
            Semaphore permits = new Semaphore(1);
            Lock lock = new Lock();
            for (int round = 0; round < rounds; round++) {
                String what = "seed " + seed + " round " + round;
                boolean byLock = random.nextBoolean();
                if (byLock) {
                    lock.lock();
                } else {
                    permits.acquire();
                }
                Duration timeout = Duration.ofNanos(1_000 + random.nextInt(100_000));
                Task<Integer> selector = Coro.spawn(() -> {
                    int r = Select.select(byLock ? lock.onLock(() -> 1) : permits.onAcquire(() -> 1), Select.onTimeout(timeout, () -> 0));
                    if (r == 1) {
                        if (byLock) {
                            lock.unlock();
                        } else {
                            permits.release();
                        }
                    }
                    return r;
                });
                until("the select waits", () -> (byLock ? lock.queueLength() : permits.queueLength()) == 1 || selector.isDone());
                Runnable free = byLock ? lock::unlock : permits::release;
                if (random.nextBoolean()) {
                    ChannelTck.spin(random.nextInt(100_000));
                    free.run();
                } else {
                    ChannelTck.race(random, selector, () -> {
                        free.run();
                        return true;
                    });
                }
                int r;
                try {
                    r = selector.join();
                } catch (CancellationException e) {
                    r = 2;
                }
                assertThat(permits.availablePermits()).as("%s: permits after the round", what).isEqualTo(1);
                assertThat(lock.isLocked()).as("%s: lock held after the round", what).isFalse();
                assertThat(permits.queueLength() + lock.queueLength()).as("%s: waiting", what).isZero();
            }
            return null;
        });
    }

    // ---- misuse ----

    @Test
    void misuseIsRefusedWithAMessage() throws Exception {
        Channel<String> ch = Channel.rendezvous();
        assertThatThrownBy(() -> ch.onSend(null, () -> null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("a channel item must not be null");
        assertThatThrownBy(() -> ch.onReceive(null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onItem");
        assertThatThrownBy(() -> ch.onReceive(s -> s, null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onClosed");
        assertThatThrownBy(() -> ch.onSend("x", null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onSent");
        assertThatThrownBy(() -> Select.onTimeout(null, () -> null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("select timeout must not be null");
        assertThatThrownBy(() -> Select.onTimeout(Duration.ofMillis(-1), () -> null)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("select timeout PT-0.001S must not be negative");
        assertThatThrownBy(() -> Select.onTimeout(Duration.ZERO, null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("onTimeout");
        assertThatThrownBy(() -> new Semaphore(1).onAcquire(null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onAcquired");
        assertThatThrownBy(() -> new Lock().onLock(null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onLocked");
        assertThatThrownBy(() -> new Event().onSet(null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onSet");
        assertThatThrownBy(() -> Select.select(ch.onReceive(s -> s)))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage("Select.select" + OUTSIDE);
        runTask(() -> {
            assertThatThrownBy(() -> Select.select())
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("Select.select needs at least one clause (channel.onReceive(...), channel.onSend(...),"
                            + " semaphore.onAcquire(...), lock.onLock(...), event.onSet(...), Select.onJoin(...),"
                            + " Select.onAwait(...) or Select.onTimeout(...))");
            assertThatThrownBy(() -> Select.select(ch.onReceive(s -> s), null))
                    .isExactlyInstanceOf(NullPointerException.class).hasMessage("select clause 1 is null");
            Lock lock = new Lock();
            Channel<String> ready = Channel.bounded(1);
            ready.send("ready");
            lock.lock();
            assertThatThrownBy(() -> Select.select(ready.onReceive(s -> s), lock.onLock(() -> "again")))
                    .isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("lock is already held by the current task " + Coro.currentTask().name()
                            + ": re-locking would deadlock (Lock is not reentrant)");
            assertThat(ready.size()).as("refused before any clause took effect").isEqualTo(1);
            lock.unlock();
            assertThat(ready.tryReceive()).isEqualTo("ready");
            assertThatThrownBy(() -> Select.select(Select.onTimeout(Duration.ofSeconds(1), () -> 1), ch.onReceive(s -> s),
                    Select.onTimeout(Duration.ofSeconds(2), () -> 2)))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("a select takes at most one Select.onTimeout clause (clauses 0 and 2): keep the shortest");
            return null;
        });
        assertThat(waiting(ch)).isZero();
    }

    /**
     * A clause for the end of the task running the select, or of a task it runs under, could never
     * be chosen (each ends only after the select returns): refused before anything is queued.
     */
    @Test
    void taskClausesThatCouldNeverBeChosenAreRefusedWithAMessage() throws Exception {
        assertThatThrownBy(() -> Select.onJoin(null, () -> 1)).isExactlyInstanceOf(NullPointerException.class).hasMessage("task");
        assertThatThrownBy(() -> Select.onAwait(null, v -> 1)).isExactlyInstanceOf(NullPointerException.class).hasMessage("task");
        List<String> out = runTask(() -> {
            Channel<String> ch = Channel.rendezvous();
            Task<?> self = Coro.currentTask();
            List<String> r = new ArrayList<>();
            assertThatThrownBy(() -> Select.onJoin(self, null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onEnd");
            assertThatThrownBy(() -> Select.onAwait(self, null)).isExactlyInstanceOf(NullPointerException.class).hasMessage("onValue");
            try {
                Select.select(ch.onReceive(s -> s), Select.onJoin(self, () -> "ended"));
            } catch (IllegalStateException e) {
                r.add(e.getMessage().replace(self.name(), "SELF"));
            }
            Task<String> child = Coro.spawn(() -> {
                try {
                    return Select.select(ch.onReceive(s -> s), Select.onAwait(self, v -> "parent ended"));
                } catch (IllegalStateException e) {
                    return e.getMessage().replace(self.name(), "SELF").replace(Coro.currentTask().name(), "CHILD");
                }
            });
            r.add(child.join());
            r.add("left queued: " + waiting(ch));
            return r;
        });
        assertThat(out).containsExactly(
                "Select.onJoin of SELF, the task running the select: a task ends only after its select returns, so this clause"
                        + " could never be chosen",
                "Select.onAwait of SELF in CHILD, a task that runs under it: a task ends only after the tasks spawned under it,"
                        + " so this clause could never be chosen; hand the value over another way (a Channel, a CompletableFuture)",
                "left queued: 0");
    }

    @Test
    void aNullArrayOfClausesIsRefusedWithAMessage() {
        assertThatThrownBy(() -> Select.select((Select.Clause<String>[]) null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("clauses");
        assertThatThrownBy(() -> Select.select((List<Select.Clause<String>>) null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("clauses");
    }

    // ---- stress ----

    /**
     * Producers sending each item by a select over three channels (or, one item in four, a plain
     * send on one of them) and consumers receiving by a select over all three (or a plain
     * iteration of one), each select listing the channels in a random order (a select that took
     * their locks in that order, not theirs, deadlocks here), on channels of random kinds, with
     * tasks cancelled and selects timed out at random moments, then the channels closed and
     * drained: every item whose send returned normally was received or left in a channel, exactly
     * once, and no other; and items a producer sent on one channel arrived at each consumer in the
     * order it sent them.
     */
    @Test
    void stressSelectingProducersAndConsumersLoseAndDuplicateNothing() throws Exception {
        int rounds = Stress.scaled(60);
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        long[] totals = new long[3];
        runTask(Duration.ofSeconds(Math.max(60, rounds)), () -> {
            for (int round = 0; round < rounds; round++) {
                selectRound(random.split(), totals, "seed " + seed + " round " + round);
            }
            return null;
        });
        assertThat(totals[0]).as("items sent in all rounds").isPositive();
        assertThat(totals[1]).as("items delivered in all rounds").isPositive();
        assertThat(totals[0]).as("sent == delivered + undelivered (delivered %d, undelivered %d)", totals[1], totals[2])
                .isEqualTo(totals[1] + totals[2]);
    }

    private static void selectRound(SplittableRandom random, long[] totals, String what) throws Exception {
        List<Channel<Long>> channels = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int kind = random.nextInt(3);
            channels.add(kind == 0 ? Channel.rendezvous() : kind == 1 ? Channel.bounded(1 + random.nextInt(4)) : Channel.unbounded());
        }
        int producers = 1 + random.nextInt(3);
        int consumers = 1 + random.nextInt(3);
        int perProducer = 1_000;
        ItemLedger ledger = new ItemLedger(producers, perProducer);
        AtomicInteger outOfOrder = new AtomicInteger();
        List<Task<Void>> tasks = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int producer = p;
            SplittableRandom r = random.split();
            tasks.add(Coro.spawn(() -> {
                try {
                    for (int seq = 0; seq < perProducer; seq++) {
                        Long item = ItemLedger.item(producer, seq);
                        if (r.nextInt(4) == 0) {
                            channels.get(r.nextInt(3)).send(item);
                        } else {
                            // In a random order, so that selects list the channels in orders other than their locks'.
                            int first = r.nextInt(3);
                            int step = 1 + r.nextInt(2);
                            Select.select(channels.get(first).onSend(item, () -> null),
                                    channels.get((first + step) % 3).onSend(item, () -> null),
                                    channels.get((first + 2 * step) % 3).onSend(item, () -> null));
                        }
                        ledger.sent(producer, seq);
                    }
                } catch (ClosedChannelException e) {
                    // closed at the end of the round
                }
                return null;
            }));
        }
        for (int c = 0; c < consumers; c++) {
            SplittableRandom r = random.split();
            boolean plain = r.nextInt(4) == 0;
            boolean withTimeouts = r.nextBoolean();
            long timeoutNanos = 1_000 + r.nextInt(50_000);
            tasks.add(Coro.spawn(() -> {
                // Per channel, per producer: the last sequence number this consumer received.
                int[][] last = new int[3][producers];
                for (int[] l : last) {
                    Arrays.fill(l, -1);
                }
                if (plain) {
                    int i = r.nextInt(3);
                    for (long x : channels.get(i)) {
                        if (!check(last[i], x)) {
                            outOfOrder.incrementAndGet();
                        }
                        ledger.received(x);
                    }
                    return null;
                }
                List<Integer> open = new ArrayList<>(List.of(0, 1, 2));
                while (!open.isEmpty()) {
                    List<Select.Clause<long[]>> clauses = new ArrayList<>();
                    Collections.rotate(open, r.nextInt(open.size()));
                    for (int i : open) {
                        clauses.add(channels.get(i).onReceive(x -> new long[] {i, x}, () -> new long[] {i, -1}));
                    }
                    long[] got = withTimeouts
                            ? Coro.withTimeoutOrNull(Duration.ofNanos(timeoutNanos), () -> Select.select(clauses))
                            : Select.select(clauses);
                    if (got == null) {
                        continue;
                    }
                    int i = (int) got[0];
                    if (got[1] < 0) {
                        open.remove(Integer.valueOf(i));
                        continue;
                    }
                    if (!check(last[i], got[1])) {
                        outOfOrder.incrementAndGet();
                    }
                    ledger.received(got[1]);
                }
                return null;
            }));
        }
        List<Task<Void>> victims = new ArrayList<>(tasks);
        Collections.shuffle(victims, new Random(random.nextLong()));
        int cancels = random.nextInt(victims.size() + 1);
        for (int i = 0; i < cancels; i++) {
            ChannelTck.pause(random);
            victims.get(i).cancel();
        }
        ChannelTck.pause(random);
        for (Channel<Long> ch : channels) {
            ch.close();
        }
        for (Task<Void> t : tasks) {
            try {
                t.join();
            } catch (CancellationException e) {
                // a victim
            }
        }
        int undelivered = 0;
        for (Channel<Long> ch : channels) {
            undelivered += ledger.drain(ch, what);
            assertThat(waiting(ch)).as("%s: waiters left", what).isZero();
        }
        assertThat(outOfOrder.get()).as("%s: items of one producer on one channel received out of order", what).isZero();
        ledger.check(what, undelivered, totals);
    }

    /** Records {@code x} as its producer's last on a channel; false if it came after a later one. */
    private static boolean check(int[] last, long x) {
        int p = (int) (x >>> 32);
        int seq = (int) x;
        boolean inOrder = seq > last[p];
        last[p] = Math.max(last[p], seq);
        return inOrder;
    }
}
