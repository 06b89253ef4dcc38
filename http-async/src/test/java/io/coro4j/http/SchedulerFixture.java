package io.coro4j.http;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The scheduler a contract runs on: each contract has one subclass per scheduler, which names it.
 * Every test is bounded: a hang fails the test (the runner interrupts it, which cancels the task).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
abstract class SchedulerFixture {

    Scheduler scheduler;

    /** "threadpool" or "loom". */
    abstract String schedulerKind();

    @BeforeAll
    void startScheduler() {
        scheduler = Schedulers.create(schedulerKind(), SchedulerConfig.builder()
                .name(getClass().getSimpleName()).parallelism(2).daemon(true).build());
    }

    @AfterAll
    void stopScheduler() {
        scheduler.close();
    }

    <T> T run(Callable<T> main) {
        return Coro.run(scheduler, main);
    }
}
