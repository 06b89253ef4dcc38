/**
 * The coro4j conformance kit: abstract JUnit 5 suites, written once against the API, that every
 * scheduler must pass. A scheduler plugs in by extending each suite and implementing
 * {@link io.coro4j.tck.SchedulerTck#createScheduler(io.coro4j.spi.SchedulerConfig)}; see the
 * module's README.
 *
 * <p>Stress tests scale with the system property {@value io.coro4j.tck.Stress#PROPERTY}
 * (default 1): CI runs the short form, which still catches a lost wake-up or a lost item.
 */
package io.coro4j.tck;
