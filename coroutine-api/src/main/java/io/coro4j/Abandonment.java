package io.coro4j;

import io.coro4j.spi.TimerThread;
import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.Arrays;

/**
 * The watch on a suspended generator's handle: once the handle is unreachable, the daemon thread
 * {@code coro4j-generator-cleaner} hands the generator's core to {@link GeneratorCore#closeAbandoned()}.
 * A registration is made at the body's first suspension and dropped ({@link #drop()}) when the body
 * ends; exactly one of the drop and the watch takes it out of its stripe, so a core is handed over
 * at most once, and never after its body ended.
 *
 * <p>Not a {@link java.lang.ref.Cleaner}: a Cleaner keeps its registrations in one list behind one
 * monitor, which every generator's first yield and end would take. With tasks and virtual threads
 * ending many generators at once (a scheduler shutting down while abandoned generators are closed),
 * a stress test saw both of a scheduler's carriers blocked on that monitor for tens of seconds
 * (bench/README.md has the figures). Registrations here go to one of several stripes, chosen by
 * the registering thread, so threads mostly take locks of their own, each held for a few array
 * stores.
 *
 * <p>Thread-safe.
 */
final class Abandonment extends PhantomReference<Generator<?, ?, ?>> {

    private static final ReferenceQueue<Generator<?, ?, ?>> UNREACHABLE = new ReferenceQueue<>();
    /** Where registrations are held (strongly: each must stay reachable until it is enqueued or dropped). */
    private static final Stripe[] STRIPES = new Stripe[stripeCount()];

    static {
        for (int i = 0; i < STRIPES.length; i++) {
            STRIPES[i] = new Stripe();
        }
        // Started when the first generator suspends (this class's first use), as a Cleaner's would be,
        // by whichever thread that is, and so taking nothing from it for the JVM's life.
        TimerThread.newOwnThread("coro4j-generator-cleaner", true, Abandonment::closeUnreachable).start();
    }

    /** A power of two, at least four per processor. */
    private static int stripeCount() {
        return Integer.highestOneBit(Math.max(8, Runtime.getRuntime().availableProcessors() * 4) - 1) << 1;
    }

    private final GeneratorCore<?, ?, ?> core;
    private final Stripe stripe;
    /** Where this registration is in its stripe, or -1 once it is out; guarded by the stripe. */
    private int slot = -1;

    private Abandonment(Generator<?, ?, ?> handle, GeneratorCore<?, ?, ?> core, Stripe stripe) {
        super(handle, UNREACHABLE);
        this.core = core;
        this.stripe = stripe;
    }

    /** Watches {@code handle}, the handle of {@code core}, whose body has just suspended. */
    static Abandonment watch(Generator<?, ?, ?> handle, GeneratorCore<?, ?, ?> core) {
        // Fibonacci hashing of the thread's id: consecutive ids land on different stripes.
        long id = Thread.currentThread().threadId();
        Stripe stripe = STRIPES[(int) ((id * 0x9E3779B97F4A7C15L) >>> 32) & (STRIPES.length - 1)];
        Abandonment a = new Abandonment(handle, core, stripe);
        stripe.add(a);
        return a;
    }

    /** Ends the watch: the body has ended, nothing is left to close. */
    void drop() {
        if (stripe.remove(this)) {
            clear();
        }
    }

    private static void closeUnreachable() {
        while (true) {
            try {
                Abandonment a = (Abandonment) UNREACHABLE.remove();
                if (a.stripe.remove(a)) {
                    a.core.closeAbandoned();
                }
            } catch (InterruptedException e) {
                // nobody interrupts this thread; if something does, the watch goes on
            } catch (Throwable t) {
                // Only a fault of the machinery (an OutOfMemoryError starting the closing task)
                // gets here: reported, and the watch goes on for the other generators (a handler
                // that throws does not end it either).
                TimerThread.reportUncaught(t);
            }
        }
    }

    /** An unordered set of registrations: an array with swap-remove, each knowing its slot. */
    private static final class Stripe {
        private Abandonment[] slots = new Abandonment[16];
        private int size;

        synchronized void add(Abandonment a) {
            if (size == slots.length) {
                slots = Arrays.copyOf(slots, size * 2);
            }
            a.slot = size;
            slots[size++] = a;
        }

        /** Takes {@code a} out; whether it was in (false if the drop or the watch took it first). */
        synchronized boolean remove(Abandonment a) {
            int i = a.slot;
            if (i < 0) {
                return false;
            }
            Abandonment last = slots[--size];
            slots[i] = last;
            last.slot = i;
            slots[size] = null;
            a.slot = -1;
            if (size < slots.length / 4 && slots.length > 16) {
                slots = Arrays.copyOf(slots, slots.length / 2); // a burst of generators should not pin its peak
            }
            return true;
        }
    }
}
