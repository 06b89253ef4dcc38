package io.coro4j.scheduler.loom;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.UserCodeFailureTck;

class LoomUserCodeFailureTckTest extends UserCodeFailureTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new LoomSchedulerProvider().create(config);
    }
}
