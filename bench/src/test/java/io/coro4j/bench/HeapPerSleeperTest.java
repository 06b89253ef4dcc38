package io.coro4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code bytesPerSleeper} is an {@code EVENTS} counter, which JMH sums over the measured shots: with
 * more than one, the figure it prints is a multiple of the bytes per sleeper. Such a run must be
 * refused, saying why, not reported.
 */
class HeapPerSleeperTest {

    @Test
    void a_heap_run_with_more_than_one_measured_shot_is_refused_not_summed() {
        System.setProperty("jmh.ignoreLock", "true"); // other JMH runs may share this machine
        Options options = new OptionsBuilder()
                .include("io\\.coro4j\\.bench\\.SleepersWallTimeBenchmark\\.heapPerVirtualThreadSleeper$")
                .param("heapSleepers", "1000")
                .forks(0) // in this JVM: a virtual-thread benchmark needs no JVM flags
                .warmupIterations(0)
                .measurementIterations(2)
                .verbosity(VerboseMode.SILENT)
                .shouldFailOnError(true)
                .build();
        assertThatThrownBy(() -> new Runner(options).run())
                .isInstanceOf(RunnerException.class)
                .satisfies(e -> assertThat(stackTrace(e)).contains("bytesPerSleeper", "-i 1"));
    }

    @Test
    void one_measured_shot_reports_the_bytes_of_that_shot() throws Exception {
        System.setProperty("jmh.ignoreLock", "true");
        Options options = new OptionsBuilder()
                .include("io\\.coro4j\\.bench\\.SleepersWallTimeBenchmark\\.heapPerVirtualThreadSleeper$")
                .param("heapSleepers", "1000")
                .forks(0)
                .warmupIterations(0)
                .verbosity(VerboseMode.SILENT)
                .shouldFailOnError(true)
                .build();
        RunResult r = new Runner(options).runSingle();
        IterationResult shot = r.getBenchmarkResults().iterator().next().getIterationResults().iterator().next();
        double bytes = shot.getSecondaryResults().get("bytesPerSleeper").getScore();
        assertThat(r.getSecondaryResults().get("bytesPerSleeper").getScore()).isEqualTo(bytes);
        assertThat(bytes).isPositive();
    }

    private static String stackTrace(Throwable t) {
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }
}
