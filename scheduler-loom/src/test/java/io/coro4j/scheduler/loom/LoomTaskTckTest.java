package io.coro4j.scheduler.loom;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.TaskTck;

class LoomTaskTckTest extends TaskTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new LoomSchedulerProvider().create(config);
    }

    @Override
    protected boolean aPinnedWaitLeavesAnotherCarrier() {
        return JdkCarriers.moreThanOne();
    }
}
