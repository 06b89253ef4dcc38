package io.coro4j.spi;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A running total that many threads add to: one atomic cell per stripe, each on its own cache
 * line, the stripe chosen by the adding thread's id. Like {@link java.util.concurrent.atomic.LongAdder}
 * but without its contention branch: C2 compiles LongAdder's rarely taken path as an uncommon
 * trap, and a suspended coroutine frame compiled that way is deoptimized when it resumes once
 * contention began (measured: tens of thousands of deoptimizations in a sleepers benchmark).
 *
 * <p>Thread-safe; {@link #sum()} may miss adds that race with it, and never decreases.
 */
public final class StripedCounter {

    private static final VarHandle CELLS = MethodHandles.arrayElementVarHandle(long[].class);
    /** Longs per stripe: 128 bytes, so that adjacent-line prefetch does not pair two stripes. */
    private static final int PAD = 16;

    private final long[] cells;
    private final int mask;

    /** A counter with as many stripes as processors, rounded up to a power of two (at least 2, at most 64). */
    public StripedCounter() {
        int n = Integer.highestOneBit(Math.max(2, Math.min(64, Runtime.getRuntime().availableProcessors())) * 2 - 1);
        this.mask = n - 1;
        this.cells = new long[(n + 1) * PAD]; // one line before the first stripe, as padding
    }

    /** Adds one. */
    public void increment() {
        add(1);
    }

    /** Adds {@code x}. */
    public void add(long x) {
        int i = ((int) Thread.currentThread().threadId() & mask) * PAD + PAD;
        CELLS.getAndAdd(cells, i, x);
    }

    /** The total. */
    public long sum() {
        long sum = 0;
        for (int i = PAD; i < cells.length; i += PAD) {
            sum += (long) CELLS.getVolatile(cells, i);
        }
        return sum;
    }

    @Override
    public String toString() {
        return Long.toString(sum());
    }
}
