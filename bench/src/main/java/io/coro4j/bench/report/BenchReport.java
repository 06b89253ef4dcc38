package io.coro4j.bench.report;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs a short profile of every benchmark in this module through JMH's {@link Runner} (one fork per
 * benchmark and parameter set, few short iterations; see {@link #PROFILES}), pairs each measurement
 * with its baseline from the same run ({@link Baselines}), and writes the Markdown report
 * ({@link MarkdownReport}) to {@code bench/REPORT.md} and between the report markers of
 * {@code README.md}. {@code bench/report.sh} builds the jar and runs this class; see
 * {@code bench/README.md}.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.coro4j.bench.report.BenchReport [options]
 *   --out PATH          the report file (default bench/REPORT.md)
 *   --readme PATH       the document whose report section is replaced (default README.md)
 *   --no-readme         write the report file only
 *   --only REGEX        run only the profiles whose name matches (--list names them)
 *   --list              print the profiles and exit
 *   --command TEXT      the command named in the report (default: this class's command line)
 *   --since EPOCH_S     count the wall time from this instant (the script's start, build included)
 *   --load-at-start L   the load average at that instant
 *   --note TEXT         one more note under the table (repeatable)
 * </pre>
 *
 * <p>Run from the repository root (the default paths are relative to it), with JDK 21 or newer.
 */
public final class BenchReport {

    private BenchReport() {}

    /**
     * How one part of the report is run. {@code null} iteration counts and times keep the benchmark's
     * own annotations.
     *
     * @param name what {@code --only} matches
     * @param include the JMH include regex
     * @param warmups warm-up iterations
     * @param measurements measured iterations
     * @param iterationMillis the length of each iteration of a time-based benchmark
     * @param params JMH parameters that override the benchmark's defaults
     * @param note how this profile differs from the benchmark's own defaults, for the report's notes
     * @param alternate {@code null}, or a parameter whose values are run one after the other, each
     *     in its own JMH run, {@code rounds} times over, so that a drift in the machine's load falls on
     *     all of them alike; a measurement pools the iterations of its rounds
     * @param values the values of {@code alternate}, in the order run
     * @param rounds how many times the values are run in turn
     */
    record Profile(String name, String include, Integer warmups, Integer measurements, Integer iterationMillis,
            Map<String, String> params, String note, String alternate, List<String> values, int rounds) {

        Profile(String name, String include, Integer warmups, Integer measurements, Integer iterationMillis,
                Map<String, String> params, String note) {
            this(name, include, warmups, measurements, iterationMillis, params, note, null, List.of(), 1);
        }
    }

    /** Crowd of a wall-time sleepers shot in the report: a fifth of the benchmark's default, to fit the time box. */
    static final int REPORT_SLEEPERS = 200_000;

    /**
     * Crowd of a heap shot in the report: a quarter of the benchmark's default, since a shot of 200,000
     * took tens of seconds on a loaded 2-core machine; a full GC's noise of a few kilobytes is still
     * well under a byte per sleeper.
     */
    static final int REPORT_HEAP_SLEEPERS = 50_000;

    static final String PKG = "io\\.coro4j\\.bench\\.";

    /** Rounds of the nanosecond profiles (GeneratorRoundTrip, SpawnJoin, ChannelPingPong): one fork each. */
    static final int NS_ROUNDS = 3;

    /** The profiles, in report order; together three to six minutes of JMH on a loaded 2-core machine. */
    static final List<Profile> PROFILES = List.of(
            new Profile("GeneratorRoundTrip", PKG + "GeneratorRoundTripBenchmark\\.", 3, 5, 500, Map.of(),
                    "GeneratorRoundTrip, SpawnJoin, ChannelPingPong: three rounds, each running every benchmark"
                            + " in one fork of 3 warm-up and 5 measured iterations of 0.5 s (their own defaults are"
                            + " one fork of 3 and 5 of 1 s); a row pools its three forks (n = 15). Their figures"
                            + " move by fork more than by iteration (the JIT's decisions, and whether the"
                            + " baselines' virtual threads spin or park), so one fork could catch either mode.",
                    null, List.of(), NS_ROUNDS),
            new Profile("SpawnJoin", PKG + "SpawnJoinBenchmark\\.", 3, 5, 500, Map.of(), null, null, List.of(), NS_ROUNDS),
            new Profile("ChannelPingPong", PKG + "ChannelPingPongBenchmark\\.", 3, 5, 500, Map.of(), null, null,
                    List.of(), NS_ROUNDS),
            new Profile("SleepersWallTime", PKG + "SleepersWallTimeBenchmark\\.(sleepers|virtualThreadSleepers)$",
                    4, 3, null, Map.of("sleepers", String.valueOf(REPORT_SLEEPERS)),
                    "SleepersWallTime.sleepers / virtualThreadSleepers: crowds of "
                            + String.format(Locale.ROOT, "%,d", REPORT_SLEEPERS)
                            + " sleepers of 10 ms (the benchmark's default is 1,000,000: `-p sleepers=1000000`),"
                            + " 4 warm-up and 3 measured single shots (their own default)."),
            new Profile("SleepersHeap", PKG + "SleepersWallTimeBenchmark\\.heapPer", null, null, null,
                    Map.of("heapSleepers", String.valueOf(REPORT_HEAP_SLEEPERS)),
                    "SleepersWallTime.heapPer*: bytesPerSleeper (heap after a full GC while "
                            + String.format(Locale.ROOT, "%,d", REPORT_HEAP_SLEEPERS)
                            + " sleep, minus before, per sleeper; the benchmark's default crowd is 200,000),"
                            + " 1 warm-up and 1 measured shot, as the benchmark's defaults."),
            new Profile("MetricsOverhead", PKG + "MetricsOverheadBenchmark\\.", 3, 4, 500, Map.of(),
                    "MetricsOverhead: `metrics=prometheus` is a CoroutineMetrics bound to a"
                            + " PrometheusMeterRegistry, scraped after every iteration; `metrics=none` binds"
                            + " nothing. Two rounds, each running every benchmark unbound and then bound (one fork"
                            + " each, 3 warm-up and 4 measured iterations of 0.5 s), so that a drift in load falls"
                            + " on both; a row pools its two forks (n = 8). Fork-to-fork differences of a few"
                            + " percent remain in the ratio.",
                    "metrics", List.of("none", "prometheus"), 2));

    public static void main(String[] args) throws Exception {
        Path out = Path.of("bench/REPORT.md");
        Path readme = Path.of("README.md");
        Pattern only = null;
        String command = "java -cp bench/target/benchmarks.jar " + BenchReport.class.getName() + " "
                + String.join(" ", args);
        Instant start = Instant.now();
        String loadAtStart = null;
        List<String> extraNotes = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--out" -> out = Path.of(value(args, ++i, a));
                case "--readme" -> readme = Path.of(value(args, ++i, a));
                case "--no-readme" -> readme = null;
                case "--only" -> only = Pattern.compile(value(args, ++i, a));
                case "--command" -> command = value(args, ++i, a);
                case "--since" -> start = Instant.ofEpochSecond(Long.parseLong(value(args, ++i, a)));
                case "--load-at-start" -> loadAtStart = value(args, ++i, a);
                case "--note" -> extraNotes.add(value(args, ++i, a));
                case "--list" -> {
                    PROFILES.forEach(p -> System.out.println(p.name() + "\t" + p.include()));
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + a
                        + ": expected --out, --readme, --no-readme, --only, --list, --command, --since,"
                        + " --load-at-start or --note");
            }
        }
        if (Runtime.version().feature() < 21) {
            throw new IllegalStateException("this is Java " + Runtime.version() + ": the benchmarks need JDK 21 or newer");
        }
        if (loadAtStart == null) {
            loadAtStart = loadAverage();
        }
        String date = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(start);

        List<Measurement> measured = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        // JMH refuses to start while another JMH run holds its lock. On a machine shared by several
        // people that would make the report wait for, or fail on, someone else's run; instead it runs
        // beside it and says so, since that run loads the machine.
        if (anotherJmhRunning()) {
            notes.add("Another JMH run held JMH's lock when this one started: the two ran side by side.");
        }
        System.setProperty("jmh.ignoreLock", "true");
        for (Profile p : PROFILES) {
            if (only != null && !only.matcher(p.name()).find()) {
                continue;
            }
            List<RunResult> results = new ArrayList<>();
            for (int round = 0; round < p.rounds(); round++) {
                if (p.alternate() == null) {
                    results.addAll(run(p, Map.of()));
                } else {
                    for (String v : p.values()) {
                        results.addAll(run(p, Map.of(p.alternate(), v)));
                    }
                }
            }
            measured.addAll(toMeasurements(results));
            if (p.note() != null) {
                notes.add(p.note());
            }
        }
        String loadAtEnd = loadAverage();
        notes.addAll(standardNotes());
        List<String> failed = missing(measured, only);
        notes.addAll(failed);
        notes.addAll(extraNotes);

        MarkdownReport.Header header = new MarkdownReport.Header(date, jdk(),
                Runtime.getRuntime().availableProcessors(), loadAtStart, loadAtEnd, command,
                Duration.between(start, Instant.now()), notes);
        Files.writeString(out, MarkdownReport.report(header, measured, Baselines.PAIRINGS), StandardCharsets.UTF_8);
        System.out.println("wrote " + out);
        if (readme != null) {
            String link = readme.toAbsolutePath().normalize().getParent()
                    .relativize(out.toAbsolutePath().normalize()).toString().replace('\\', '/');
            String doc = Files.readString(readme, StandardCharsets.UTF_8);
            String section = MarkdownReport.readmeSection(header, measured, Baselines.PAIRINGS, link);
            Files.writeString(readme, MarkdownReport.replaceSection(doc, section), StandardCharsets.UTF_8);
            System.out.println("replaced the report section of " + readme);
        }
        System.out.println();
        System.out.println(MarkdownReport.table(measured, Baselines.PAIRINGS));
        if (!failed.isEmpty()) {
            // The report is written, with the failures in its notes; the exit status says so too,
            // so that bench/report.sh (and whatever runs it) fails.
            System.err.println("BenchReport: " + failed.size() + " benchmark(s) failed:");
            failed.forEach(f -> System.err.println("  " + f));
            System.exit(1);
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static Collection<RunResult> run(Profile p, Map<String, String> moreParams) throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().include(p.include()).forks(1).shouldFailOnError(false);
        if (p.warmups() != null) {
            o.warmupIterations(p.warmups());
        }
        if (p.measurements() != null) {
            o.measurementIterations(p.measurements());
        }
        if (p.iterationMillis() != null) {
            o.warmupTime(TimeValue.milliseconds(p.iterationMillis()));
            o.measurementTime(TimeValue.milliseconds(p.iterationMillis()));
        }
        p.params().forEach((k, v) -> o.param(k, v));
        moreParams.forEach((k, v) -> o.param(k, v));
        return new Runner(o.build()).run();
    }

    /**
     * Each benchmark and parameter set as a measurement: the median of its measured iterations (of a
     * secondary result where {@link Baselines#SECONDARY} says so), pooled over the results that have
     * the same benchmark and parameters (the rounds of a profile).
     */
    static List<Measurement> toMeasurements(Collection<RunResult> results) {
        Map<List<Object>, List<Double>> pooled = new LinkedHashMap<>();
        Map<List<Object>, String> units = new LinkedHashMap<>();
        for (RunResult r : results) {
            String name = Measurement.shortName(r.getParams().getBenchmark());
            Map<String, String> params = new TreeMap<>();
            for (String k : r.getParams().getParamsKeys()) {
                params.put(k, r.getParams().getParam(k));
            }
            Baselines.Secondary secondary = Baselines.SECONDARY.get(name);
            List<Object> key = List.of(name, params);
            List<Double> values = pooled.computeIfAbsent(key, k -> new ArrayList<>());
            for (BenchmarkResult br : r.getBenchmarkResults()) {
                for (IterationResult ir : br.getIterationResults()) {
                    Result<?> res = secondary == null ? ir.getPrimaryResult()
                            : ir.getSecondaryResults().get(secondary.name());
                    if (res != null) {
                        values.add(res.getScore());
                    }
                }
            }
            units.put(key, secondary == null ? r.getPrimaryResult().getScoreUnit() : secondary.unit());
        }
        List<Measurement> out = new ArrayList<>();
        pooled.forEach((key, values) -> {
            if (!values.isEmpty()) {
                @SuppressWarnings("unchecked")
                Map<String, String> params = (Map<String, String>) key.get(1);
                out.add(Measurement.of((String) key.get(0), params,
                        values.stream().mapToDouble(Double::doubleValue).toArray(), units.get(key)));
            }
        });
        return out;
    }

    private static List<String> standardNotes() {
        return List.of(
                "One fork per benchmark and parameter set in each round (three rounds for GeneratorRoundTrip,"
                        + " SpawnJoin and ChannelPingPong, two for MetricsOverhead, one for the rest). median: the"
                        + " median of the measured iterations of all its forks (of"
                        + " the shots, for single-shot benchmarks); min–max (n): the range of the n measured"
                        + " iterations; ratio: this row's median over its baseline's median, both measured in this"
                        + " run. Scores are times or bytes, so lower is better, and a budget is the largest"
                        + " acceptable ratio (budgets are set in the issues).",
                "threadpool gets one carrier per processor in SpawnJoin, SleepersWallTime and"
                        + " MetricsOverhead.spawnJoin (`carriers=0`), and one carrier in GeneratorRoundTrip,"
                        + " ChannelPingPong and MetricsOverhead.generator; virtual threads and loom use the JDK's"
                        + " scheduler, one carrier per processor.",
                "The HTTP fan-out benchmark of http-async is not in this report: it needs nginx and would take"
                        + " the report past its ten-minute box; run it with"
                        + " `./mvnw -q -pl http-async -Pbench test-compile exec:exec` (http-async/README.md).",
                "A short profile for a time box, not a careful measurement: figures move between runs, most on a"
                        + " loaded machine (see the load average above). Repeat a run, or run the benchmark"
                        + " alone with more forks (`-f 3`), before trusting a ratio near its budget.");
    }

    /**
     * A note for each benchmark and parameter set that the profiles selected by {@code only} run
     * ({@link #expected}) and that has no result in {@code measured}: one that failed, subjects,
     * baselines and floors alike. Budgets set for parameters the profiles do not run (the million
     * sleepers) are not failures.
     */
    static List<String> missing(List<Measurement> measured, Pattern only) {
        List<String> out = new ArrayList<>();
        expected(only).forEach((e, samples) -> {
            java.util.Optional<Measurement> m = measured.stream()
                    .filter(x -> x.benchmark().equals(e.benchmark()) && x.params().equals(e.params())).findFirst();
            if (m.isEmpty()) {
                out.add("No result for " + e.benchmark() + " " + e.params()
                        + ": it failed in this run (see the JMH output).");
            } else if (samples != null && m.get().samples() < samples) {
                // A profile run in rounds pools its forks: one that failed leaves a row of the others.
                out.add("Only " + m.get().samples() + " of " + samples + " iterations for " + e.benchmark() + " "
                        + e.params() + ": a fork of it failed in this run (see the JMH output).");
            }
        });
        return out;
    }

    /** A benchmark and parameter set that a profile runs, named as {@link #toMeasurements} names it. */
    record Expected(String benchmark, Map<String, String> params) {
        Expected {
            params = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(params));
        }
    }

    /**
     * What the profiles selected by {@code only} ({@code null}: all) run: each benchmark of JMH's list
     * that a profile includes, with every combination of its parameters' values, the benchmark's own
     * unless the profile (or its alternation) sets the parameter; each with the number of measured
     * iterations its row should pool (all rounds), or {@code null} where JMH's default decides it.
     */
    static Map<Expected, Integer> expected(Pattern only) {
        OutputFormat silent = OutputFormatFactory.createFormatInstance(System.out, VerboseMode.SILENT);
        Map<Expected, Integer> out = new LinkedHashMap<>();
        for (Profile p : PROFILES) {
            if (only != null && !only.matcher(p.name()).find()) {
                continue;
            }
            for (BenchmarkListEntry entry : BenchmarkList.defaultList().find(silent, List.of(p.include()), List.of())) {
                Map<String, List<String>> values = new TreeMap<>();
                if (entry.getParams().hasValue()) {
                    entry.getParams().get().forEach((k, v) -> values.put(k, List.of(v)));
                }
                p.params().forEach((k, v) -> values.replace(k, List.of(v)));
                if (p.alternate() != null) {
                    values.replace(p.alternate(), p.values());
                }
                String name = Measurement.shortName(entry.getUsername());
                Integer perFork = p.measurements() != null ? p.measurements()
                        : entry.getMeasurementIterations().orElse(null);
                Integer samples = perFork == null ? null : perFork * p.rounds();
                for (Map<String, String> params : combinations(values)) {
                    out.putIfAbsent(new Expected(name, params), samples);
                }
            }
        }
        return out;
    }

    /** Every map that takes one of each key's values. */
    private static List<Map<String, String>> combinations(Map<String, List<String>> values) {
        List<Map<String, String>> out = new ArrayList<>();
        out.add(Map.of());
        for (Map.Entry<String, List<String>> e : values.entrySet()) {
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> partial : out) {
                for (String v : e.getValue()) {
                    Map<String, String> m = new TreeMap<>(partial);
                    m.put(e.getKey(), v);
                    next.add(m);
                }
            }
            out = next;
        }
        return out;
    }

    /** Whether another JMH run holds JMH's lock file ({@code jmh.lock} in the temporary folder). */
    private static boolean anotherJmhRunning() {
        Path lock = Path.of(System.getProperty("java.io.tmpdir"), "jmh.lock");
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock l = ch.tryLock()) {
            return l == null;
        } catch (OverlappingFileLockException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String jdk() {
        return "JDK " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")";
    }

    /** The 1, 5 and 15 minute load averages, from {@code /proc/loadavg} where there is one. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            double one = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
            return one < 0 ? "unknown" : String.format(Locale.ROOT, "%.2f", one);
        }
    }
}
