/**
 * What users call: {@link io.coro4j.Generator generators} with Python's semantics (PEP 342/380)
 * and {@link io.coro4j.Schedulers scheduler discovery}.
 *
 * <p>Everything here is written once on the {@link io.coro4j.spi SPI}, so it behaves the same on
 * every scheduler. Add {@code io.coro4j:scheduler-threadpool} or {@code io.coro4j:scheduler-loom}
 * to the classpath to run it.
 *
 * <p>On the threadpool scheduler, {@link java.lang.Thread#currentThread()} and
 * {@link java.lang.ThreadLocal}s belong to the carrier thread and can change across a suspension;
 * do not keep per-coroutine state in them.
 */
package io.coro4j;
