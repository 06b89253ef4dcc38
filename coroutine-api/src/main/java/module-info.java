/**
 * coro4j's API: generators, tasks, channels and the scheduler SPI. A scheduler module
 * ({@code io.coro4j.scheduler.threadpool} or {@code io.coro4j.scheduler.loom}) provides
 * {@link io.coro4j.spi.SchedulerProvider}; it is found with {@link java.util.ServiceLoader}.
 *
 * <p>{@code io.coro4j.internal} is exported only to the coro4j modules that use it. Guava is
 * optional: only {@code ListenableFutures.await} needs it.
 */
module io.coro4j {
    requires static com.google.common;

    exports io.coro4j;
    exports io.coro4j.channel;
    exports io.coro4j.spi;
    exports io.coro4j.internal to io.coro4j.http;

    // The conformance kit times its cancel-and-grant races by reading a primitive's lock.
    opens io.coro4j.channel to io.coro4j.tck;

    uses io.coro4j.spi.SchedulerProvider;
}
