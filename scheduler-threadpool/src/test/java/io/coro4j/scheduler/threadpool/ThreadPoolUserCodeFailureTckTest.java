package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.UserCodeFailureTck;

class ThreadPoolUserCodeFailureTckTest extends UserCodeFailureTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new ThreadPoolSchedulerProvider().create(config);
    }
}
