package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.CancelPointsTck;

class ThreadPoolCancelPointsTckTest extends CancelPointsTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new ThreadPoolSchedulerProvider().create(config);
    }

    @Override
    protected boolean honoursParallelism() {
        return true;
    }
}
