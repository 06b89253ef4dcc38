package io.coro4j.tck;

import io.coro4j.Generator;
import io.coro4j.spi.Scheduler;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

/**
 * Generators left suspended and never closed, for the tests of what becomes of them: once
 * unreachable they are closed for the user, and then freed. Static helpers only.
 */
public final class AbandonedGenerators {

    private AbandonedGenerators() {}

    /** Runs {@code g} to its first yield and drops it; the caller must hold no reference to it either. */
    public static void abandonAfterOneYield(Generator<?, ?, ?> g) {
        g.next();
    }

    /**
     * Runs a generator of {@code scheduler} to its first yield, of an object its body keeps in a
     * local variable, drops the generator, and returns a weak reference to that object.
     */
    public static WeakReference<Object> abandonAfterOneYield(Scheduler scheduler) {
        Generator<Object, Object, Void> g = Generator.of(scheduler, co -> {
            Object kept = new Object();
            co.yield(kept);
            return null;
        });
        return new WeakReference<>(g.next().value());
    }

    /** Collects until {@code ref} is cleared (see {@link #collectUntil}); whether it was. */
    public static boolean collected(WeakReference<?> ref) throws InterruptedException {
        return collectUntil(() -> ref.get() == null);
    }

    /** Collects until {@code latch} is open (see {@link #collectUntil}); whether it is. */
    public static boolean collectedAndClosed(CountDownLatch latch) throws InterruptedException {
        return collectUntil(() -> latch.getCount() == 0);
    }

    /**
     * Runs {@link System#gc()} every 10 ms until {@code done} holds, 10 s at most (the watch for
     * abandoned generators and a closing task act between collections); whether it holds.
     */
    public static boolean collectUntil(BooleanSupplier done) throws InterruptedException {
        return collectUntil(done, Duration.ofSeconds(10));
    }

    /** {@link #collectUntil(BooleanSupplier)}, {@code timeout} at most. */
    public static boolean collectUntil(BooleanSupplier done, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean() && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
        }
        return done.getAsBoolean();
    }
}
