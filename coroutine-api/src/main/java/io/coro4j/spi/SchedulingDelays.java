package io.coro4j.spi;

import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongConsumer;

/**
 * Samples scheduling delay, the time a fiber spends runnable before a carrier runs it (after it
 * is started or woken), for one listener such as a metrics timer. A scheduler owns one instance,
 * returns it from {@link Scheduler#schedulingDelays()}, asks {@link #sampleNow()} where a fiber
 * becomes runnable (stamping the fiber with {@link System#nanoTime()} if so) and calls
 * {@link #record} where a stamped fiber starts running.
 *
 * <p>With no listener, {@link #sampleNow()} is one volatile read and never true, so an unobserved
 * scheduler pays nothing else. With one, about one event in {@link #sampleEvery()} is sampled
 * (chosen at random, so periodic workloads are not aliased), which bounds the listener's cost.
 *
 * <p>Thread-safe. The listener is called on carrier threads and must be quick and non-blocking;
 * what it throws is reported once and does not reach the scheduler ({@link #record}).
 */
public final class SchedulingDelays {

    /** The default sampling period: about one event in 64. */
    public static final int DEFAULT_SAMPLE_EVERY = 64;

    private volatile LongConsumer listener;
    private volatile int mask = DEFAULT_SAMPLE_EVERY - 1;
    /** The listener whose failure was reported: its later ones are dropped. Guarded by this. */
    private LongConsumer failedListener;

    /**
     * Starts delivering samples, in nanoseconds, to {@code listener}, about one event in
     * {@code sampleEvery}.
     *
     * @param sampleEvery a power of two, 1 (every event) to 2^20
     * @throws IllegalArgumentException if {@code sampleEvery} is not such a power of two
     * @throws IllegalStateException if a listener is already set: one scheduler feeds one binder
     */
    public synchronized void listen(LongConsumer listener, int sampleEvery) {
        Objects.requireNonNull(listener, "listener");
        checkSampleEvery(sampleEvery);
        if (this.listener != null) {
            throw new IllegalStateException("a scheduling-delay listener is already set: unbind the first metrics"
                    + " binder (close it) before binding another to the same scheduler");
        }
        this.mask = sampleEvery - 1;
        this.listener = listener;
    }

    /**
     * Checks a sampling period for {@link #listen}.
     *
     * @return {@code sampleEvery}
     * @throws IllegalArgumentException if it is not a power of two from 1 to 2^20
     */
    public static int checkSampleEvery(int sampleEvery) {
        if (sampleEvery < 1 || sampleEvery > (1 << 20) || Integer.bitCount(sampleEvery) != 1) {
            throw new IllegalArgumentException("sampleEvery is " + sampleEvery
                    + ": it must be a power of two from 1 to 1048576 (1 = every event)");
        }
        return sampleEvery;
    }

    /** Stops delivering samples to {@code listener}; does nothing if it is not the current one. */
    public synchronized void unlisten(LongConsumer listener) {
        if (this.listener == listener) {
            this.listener = null;
            failedListener = null; // not kept, with its binder, after it is unbound
        }
    }

    /** Whether a listener is set. */
    public boolean isObserved() {
        return listener != null;
    }

    /** The sampling period: about one event in this many is sampled. */
    public int sampleEvery() {
        return mask + 1;
    }

    /** Called where a fiber becomes runnable: whether to stamp this event. */
    public boolean sampleNow() {
        return listener != null && (ThreadLocalRandom.current().nextInt() & mask) == 0;
    }

    /**
     * Called where a stamped fiber starts running; {@code delayNanos} below zero counts as zero.
     * Never throws: what the listener throws (a registry's timer that fails, errors included) is
     * caught, since this runs in a carrier's run loop or a fiber's park, where it would end the
     * carrier or fail the task; the first throwable of each listener goes to the current thread's
     * uncaught-exception handler, later ones are dropped (one a sample would flood the log).
     */
    public void record(long delayNanos) {
        LongConsumer l = listener;
        if (l != null) {
            try {
                l.accept(Math.max(0, delayNanos));
            } catch (Throwable t) {
                listenerFailed(l, t);
            }
        }
    }

    private void listenerFailed(LongConsumer l, Throwable t) {
        synchronized (this) {
            if (l != listener || failedListener == l) {
                return; // unbound meanwhile, or reported already
            }
            failedListener = l;
        }
        TimerThread.reportUncaught(t);
    }
}
