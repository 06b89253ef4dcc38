package io.coro4j.scheduler.loom;

/**
 * How long a waiter of this scheduler spins before it parks, kept per waiter in one {@code int}
 * (the spin limit in the low 16 bits, the waits since spinning stopped above them), so that a fiber
 * pays four bytes for it. Static functions only; the caller owns the state and writes it from one
 * thread at a time.
 *
 * <p>A park and an unpark of a virtual thread are a continuation switch and a trip through the JDK
 * scheduler's queue, about 0.8 us a round trip here, while two virtual threads that run on two
 * carriers and spin hand over in about 0.1 us (the JDK's {@code SynchronousQueue} spins for the same
 * reason). But a waiter that spins while the other side needs its carrier (one carrier, or a loaded
 * machine) only delays it: a fixed spin of 256 made round trips 10-20x slower. So a waiter spins up
 * to {@link #MAX_SPINS} while spinning pays off, a quarter as long after each spin that did not,
 * stops after a few, and tries a full spin again once in {@link #RETRY_SPINNING_AFTER} waits. The
 * JDK's own queues decide by looking at the carrier's work queue instead, which is not visible
 * outside {@code java.util.concurrent}.
 */
final class AdaptiveSpin {

    /** About 4 us of {@link Thread#onSpinWait()} here (30 ns each); the JDK's queues spin as long. */
    static final int MAX_SPINS = 128;
    /**
     * Waits without spinning, after spinning stopped paying off, before a waiter tries again with a
     * full spin: when spinning never pays off, about 5 us of spinning per 256 parks. A full one,
     * because a shorter retry rarely lasts as long as an idle carrier takes to wake and take the
     * other side.
     */
    static final int RETRY_SPINNING_AFTER = 256;

    /** The state of a waiter that spins from its first wait. */
    static final int SPINNING = MAX_SPINS;
    /** The state of a waiter that first spins after {@link #RETRY_SPINNING_AFTER} waits. */
    static final int NOT_SPINNING = 0;

    private static final int LIMIT = 0xFFFF;
    private static final int ONE_WAIT = 1 << 16;

    private AdaptiveSpin() {}

    /** The state for a wait about to begin: counts it if spinning had stopped, and retries when due. */
    static int beforeWait(int state) {
        if ((state & LIMIT) != 0) {
            return state;
        }
        int waits = (state >>> 16) + 1;
        return waits >= RETRY_SPINNING_AFTER ? MAX_SPINS : waits * ONE_WAIT;
    }

    /** How many times the wait with this state (from {@link #beforeWait}) spins. */
    static int limit(int state) {
        return state & LIMIT;
    }

    /** The state after a wait whose spin did or did not pay off. */
    static int afterWait(int state, boolean paidOff) {
        return paidOff ? MAX_SPINS : (state & ~LIMIT) | ((state & LIMIT) >> 2);
    }
}
