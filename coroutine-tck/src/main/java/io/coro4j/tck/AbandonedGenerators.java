package io.coro4j.tck;

import io.coro4j.Generator;
import io.coro4j.spi.Scheduler;
import java.lang.ref.WeakReference;

/**
 * Generators left suspended and never closed, for the schedulers' tests of what becomes of them:
 * garbage once unreachable on threadpool, kept by their parked virtual thread on loom while the
 * JDK tracks virtual threads. Not thread-safe state: static helpers only.
 */
public final class AbandonedGenerators {

    private AbandonedGenerators() {}

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

    /**
     * Collects ({@link System#gc()}, 10 ms apart, at most 100 times) until {@code ref} is cleared;
     * whether it was.
     */
    public static boolean collected(WeakReference<?> ref) throws InterruptedException {
        for (int i = 0; i < 100 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(10);
        }
        return ref.get() == null;
    }
}
