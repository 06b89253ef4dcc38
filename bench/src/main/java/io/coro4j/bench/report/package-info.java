/**
 * The benchmark report: {@link io.coro4j.bench.report.BenchReport} runs a short profile of every
 * benchmark of this module through JMH's {@code Runner} API, pairs each measurement with the
 * baseline it is judged against ({@link io.coro4j.bench.report.Baselines}), and writes a Markdown
 * table of scores and ratios ({@link io.coro4j.bench.report.MarkdownReport}), into
 * {@code bench/REPORT.md} and between the report markers of the README.
 *
 * <p>Every ratio is a ratio of two medians measured in the same run, so that the load of a shared
 * machine, which moves absolute figures between runs, moves both sides of a ratio alike.
 */
package io.coro4j.bench.report;
