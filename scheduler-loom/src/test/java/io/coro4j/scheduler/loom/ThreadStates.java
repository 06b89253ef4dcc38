package io.coro4j.scheduler.loom;

import java.util.concurrent.TimeUnit;

/** What the loom tests check of a waiting thread. */
final class ThreadStates {

    private ThreadStates() {}

    /**
     * The thread's state once it is parked ({@link Thread.State#WAITING}), or after 5 s: then
     * {@code RUNNABLE} means it spins, or keeps returning from its parks.
     */
    static Thread.State onceParked(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        Thread.State s;
        while ((s = t.getState()) != Thread.State.WAITING && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        return s;
    }
}
