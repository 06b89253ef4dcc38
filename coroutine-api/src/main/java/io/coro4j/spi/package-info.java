/**
 * The service-provider interface: the only thing a scheduler implements.
 *
 * <p>A scheduler supplies mechanism, never policy. It provides
 * <ul>
 *   <li>{@link io.coro4j.spi.Fiber fibers}: units of execution that suspend themselves with
 *       {@link io.coro4j.spi.Fiber#park()} without blocking a carrier thread, and are made
 *       runnable again by {@link io.coro4j.spi.Fiber#unpark()} from any thread (permit semantics,
 *       like {@link java.util.concurrent.locks.LockSupport});</li>
 *   <li>{@link io.coro4j.spi.Coroutine coroutines}: the synchronous generator primitive, a body run
 *       on the caller's request until it suspends;</li>
 *   <li>timers, the current fiber, a lifecycle and a metrics hook ({@link io.coro4j.spi.SchedulerStats}).</li>
 * </ul>
 * Everything users touch (generators, and later tasks, channels and locks) is written once in
 * {@code io.coro4j} on these primitives, so two schedulers cannot disagree on semantics. The
 * {@code coroutine-tck} module proves a scheduler conforms.
 *
 * <p>A scheduler is found through {@link java.util.ServiceLoader} as a
 * {@link io.coro4j.spi.SchedulerProvider} registered in
 * {@code META-INF/services/io.coro4j.spi.SchedulerProvider}.
 */
package io.coro4j.spi;
