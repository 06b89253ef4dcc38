/** The loom scheduler: one virtual thread per fiber, on the JDK's scheduler. Needs no JVM flag. */
module io.coro4j.scheduler.loom {
    requires transitive io.coro4j;

    exports io.coro4j.scheduler.loom;

    provides io.coro4j.spi.SchedulerProvider with io.coro4j.scheduler.loom.LoomSchedulerProvider;
}
