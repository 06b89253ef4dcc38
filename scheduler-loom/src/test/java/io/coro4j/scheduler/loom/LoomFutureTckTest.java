package io.coro4j.scheduler.loom;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.FutureTck;

class LoomFutureTckTest extends FutureTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new LoomSchedulerProvider().create(config);
    }
}
