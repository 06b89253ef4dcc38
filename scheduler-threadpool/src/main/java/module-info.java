/**
 * The threadpool scheduler: {@code jdk.internal.vm.Continuation}s on carrier threads of its own.
 * Needs {@code --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool} on the
 * module path ({@code =ALL-UNNAMED} on the class path).
 */
module io.coro4j.scheduler.threadpool {
    requires transitive io.coro4j;
    requires org.jctools.core;
    // sun.misc.Unsafe: keeps ScopedValue bindings per task when java.lang is not opened to us.
    requires jdk.unsupported;

    exports io.coro4j.scheduler.threadpool;

    provides io.coro4j.spi.SchedulerProvider with io.coro4j.scheduler.threadpool.ThreadPoolSchedulerProvider;
}
