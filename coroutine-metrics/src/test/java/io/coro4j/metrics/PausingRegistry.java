package io.coro4j.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A {@link SimpleMeterRegistry} whose first {@link #remove(Meter)} stops, after the meter is
 * removed (no registry lock held), until {@link #resume()}: to show what another thread sees half
 * way through a binder's close.
 */
final class PausingRegistry extends SimpleMeterRegistry {

    private final CountDownLatch paused = new CountDownLatch(1);
    private final CountDownLatch resumed = new CountDownLatch(1);
    private volatile boolean armed = true;

    @Override
    public Meter remove(Meter meter) {
        Meter removed = super.remove(meter);
        if (armed) {
            armed = false;
            paused.countDown();
            try {
                if (!resumed.await(30, TimeUnit.SECONDS)) {
                    throw new AssertionError("not resumed within 30 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return removed;
    }

    /** Waits until a removal has stopped half way. */
    void awaitPaused() throws InterruptedException {
        if (!paused.await(30, TimeUnit.SECONDS)) {
            throw new AssertionError("no removal within 30 s");
        }
    }

    /** Lets the stopped removal go on. */
    void resume() {
        resumed.countDown();
    }
}
