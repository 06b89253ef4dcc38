package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The books of a stress round in which {@code producers} each send items {@code 0..perProducer-1},
 * in order, and some sends, receives and tasks are cancelled: how many of each producer's sends
 * returned normally (a prefix of its items), which items were received, and how often one was
 * received twice. {@link #check} then proves {@code sent == delivered + undelivered} item by item.
 * Thread-safe.
 */
final class ItemLedger {

    private final int producers;
    private final int perProducer;
    private final AtomicIntegerArray sent;
    private final AtomicLongArray seen;
    private final AtomicInteger duplicates = new AtomicInteger();
    private final AtomicInteger delivered = new AtomicInteger();

    ItemLedger(int producers, int perProducer) {
        this.producers = producers;
        this.perProducer = perProducer;
        this.sent = new AtomicIntegerArray(producers);
        this.seen = new AtomicLongArray((producers * perProducer + 63) / 64);
    }

    /** Producer {@code p}'s item {@code seq}: the producer in the high half, for {@link #received}. */
    static long item(int p, int seq) {
        return (long) p << 32 | seq;
    }

    /** Producer {@code p}'s send of its item {@code seq} returned normally. */
    void sent(int p, int seq) {
        sent.set(p, seq + 1);
    }

    /** A receive returned {@code x}. */
    void received(long x) {
        mark(x);
        delivered.incrementAndGet();
    }

    private void mark(long x) {
        int bit = (int) (x >>> 32) * perProducer + (int) x;
        long mask = 1L << (bit & 63);
        if ((seen.getAndAccumulate(bit >>> 6, mask, (a, b) -> a | b) & mask) != 0) {
            duplicates.incrementAndGet();
        }
    }

    /** Takes what is left in {@code ch}, closed and with its senders gone; how many items that was. */
    int drain(Channel<Long> ch, String what) {
        int n = 0;
        try {
            Long x;
            while ((x = ch.tryReceive()) != null) {
                mark(x);
                n++;
            }
            throw new AssertionError(what + ": tryReceive returned null on a closed channel with senders gone");
        } catch (ClosedChannelException e) {
            return n; // drained
        }
    }

    /**
     * Asserts that no item was received twice, and that each producer's items received or left in
     * a channel are exactly those whose send returned normally; adds this round's sent, delivered
     * and {@code undelivered} to {@code totals}.
     */
    void check(String what, int undelivered, long[] totals) {
        assertThat(duplicates.get()).as("%s: duplicated items", what).isZero();
        long sentTotal = 0;
        for (int p = 0; p < producers; p++) {
            int n = sent.get(p);
            sentTotal += n;
            for (int seq = 0; seq < perProducer; seq++) {
                int bit = p * perProducer + seq;
                boolean got = (seen.get(bit >>> 6) & (1L << (bit & 63))) != 0;
                if (got != seq < n) {
                    throw new AssertionError(what + ": producer " + p + " sent " + n + " items, but its item " + seq
                            + (got ? " was received although its send did not return normally" : " was lost"));
                }
            }
        }
        assertThat(sentTotal).as("%s: sent == delivered + undelivered", what).isEqualTo(delivered.get() + undelivered);
        totals[0] += sentTotal;
        totals[1] += delivered.get();
        totals[2] += undelivered;
    }
}
