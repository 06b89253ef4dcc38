package io.coro4j.examples.modular.tck;

import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.SyncTck;

/**
 * The kit's sync primitives' suite on the scheduler named by the system property {@code tck.scheduler}; see
 * {@link TckMain}.
 */
public class SyncGrantTest extends SyncTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return Schedulers.create(System.getProperty("tck.scheduler"), config);
    }
}
