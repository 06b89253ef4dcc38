package io.coro4j.scheduler.loom;

import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.tck.CancelPointsTck;

class LoomCancelPointsTckTest extends CancelPointsTck {
    @Override
    protected Scheduler createScheduler(SchedulerConfig config) {
        return new LoomSchedulerProvider().create(config);
    }

    @Override
    protected boolean aPinnedWaitLeavesAnotherCarrier() {
        return JdkCarriers.moreThanOne();
    }
}
