package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.lang.module.FindException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * coro4j on the module path: a small program, a named module that {@code requires io.coro4j}
 * (src/test/modular-app), compiled against the built io.coro4j and run in a child JVM with
 * {@code --module-path} (the coro4j modules and JCTools exactly as this module's test class path
 * has them: jars under {@code verify}, target/classes under {@code test}), on each scheduler.
 * It spawns, gathers, uses a channel and a generator, and finds its scheduler through
 * {@code ServiceLoader}; without the export the threadpool scheduler names its module as the
 * flag's target.
 *
 * <p>Three more programs, each a module of its own, run the same way on both schedulers:
 * src/test/modular-http ({@code requires io.coro4j.http}) gathers GETs from a JDK HTTP server it
 * starts on 127.0.0.1; src/test/modular-metrics ({@code requires io.coro4j.metrics}) binds
 * {@code CoroutineMetrics} and {@code HttpClientMetrics} to Micrometer's simple and Prometheus
 * registries (Micrometer's jars are automatic modules) and prints meter values; src/test/modular-tck
 * ({@code requires io.coro4j.tck}, open to JUnit) runs kit suites with the JUnit Platform launcher,
 * among them the five tests that read a primitive's lock through the opening io.coro4j gives the kit.
 */
class ModulePathTest {

    private static final String API = "io.coro4j";
    private static final String THREADPOOL = "io.coro4j.scheduler.threadpool";
    private static final String LOOM = "io.coro4j.scheduler.loom";
    private static final String JCTOOLS = "org.jctools.core";
    private static final String HTTP = "io.coro4j.http";
    private static final String METRICS = "io.coro4j.metrics";
    private static final String TCK = "io.coro4j.tck";
    private static final String THREADPOOL_EXPORT = "java.base/jdk.internal.vm=" + THREADPOOL;
    private static final String HTTP_MAIN = "io.coro4j.examples.modular.http/io.coro4j.examples.modular.http.HttpMain";
    private static final String METRICS_MAIN =
            "io.coro4j.examples.modular.metrics/io.coro4j.examples.modular.metrics.MetricsMain";
    private static final String TCK_MAIN = "io.coro4j.examples.modular.tck/io.coro4j.examples.modular.tck.TckMain";

    /** Micrometer with its Prometheus registry: automatic modules (their jars name themselves in the manifest). */
    private static final List<String> MICROMETER = List.of("micrometer.core", "micrometer.commons",
            "micrometer.observation", "micrometer.registry.prometheus", "io.prometheus.metrics.config",
            "io.prometheus.metrics.core", "io.prometheus.metrics.expositionformats", "io.prometheus.writer.text",
            "io.prometheus.metrics.model", "io.prometheus.metrics.tracer.common", "HdrHistogram");

    /** The kit and what it runs on: JUnit Jupiter and the Platform launcher, AssertJ, Guava. */
    private static final List<String> KIT = List.of(TCK, "org.junit.jupiter.api", "org.junit.jupiter.params",
            "org.junit.jupiter.engine", "org.junit.platform.commons", "org.junit.platform.engine",
            "org.junit.platform.launcher", "org.opentest4j", "org.apiguardian.api", "org.assertj.core",
            "com.google.common", "com.google.common.util.concurrent.internal");
    private static final String APP = "io.coro4j.examples.modular";
    private static final String MAIN = APP + "/io.coro4j.examples.modular.ModularMain";

    private static final List<String> WORKS_AFTER_SCHEDULER = List.of(
            "gather [1, 4, 9]",
            "channel [a, b, c]",
            "generator 1, 11, returned 111",
            "default scheduler's shutdown refused");

    /** Short programs: C1 only and the serial collector, so that each child JVM starts fast on a small machine. */
    private static final List<String> CHILD_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    @TempDir
    static Path dir;

    /** Where each module this test runs lies on the test class path, by module name. */
    private static Map<String, Path> modules;
    private static Path app;
    private static Path httpApp;
    private static Path metricsApp;
    private static Path tckApp;

    @BeforeAll
    static void compileThePrograms() throws IOException {
        modules = modulesOnTheTestClassPath();
        assertThat(modules).containsKeys(API, THREADPOOL, LOOM, JCTOOLS, HTTP, METRICS, TCK);
        for (String coro4j : List.of(API, THREADPOOL, LOOM, HTTP, METRICS, TCK)) {
            ModuleDescriptor d = ModuleFinder.of(modules.get(coro4j)).find(coro4j).orElseThrow().descriptor();
            assertThat(d.isAutomatic()).as(coro4j + " has a module descriptor").isFalse();
        }
        app = compile("modular-app", List.of(), API);
        httpApp = compile("modular-http", List.of(), API, HTTP);
        // It requires micrometer.registry.prometheus, an automatic module, as a user of it must.
        metricsApp = compile("modular-metrics", List.of("requires-automatic"),
                names(List.of(API, HTTP, METRICS), MICROMETER));
        tckApp = compile("modular-tck", List.of(), names(List.of(API), KIT));
    }

    /**
     * Compiles the named module in src/test/{@code program} against {@code names} (with
     * {@code -Werror}, less the lint warnings in {@code lintOff}) into a folder of its own.
     */
    private static Path compile(String program, List<String> lintOff, String... names) throws IOException {
        Path out = dir.resolve(program);
        Path src = Path.of(System.getProperty("basedir", "."), "src", "test", program);
        String lint = Stream.concat(Stream.of("-Xlint:all"), lintOff.stream().map(w -> "-" + w))
                .collect(Collectors.joining(","));
        List<String> args = new ArrayList<>(List.of("--release", "21", lint, "-Werror",
                "--module-path", modulePath(Stream.of(names).map(ModulePathTest::module)), "-d", out.toString()));
        try (Stream<Path> files = Files.walk(src)) {
            files.filter(f -> f.toString().endsWith(".java")).forEach(f -> args.add(f.toString()));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertThat(javac.run(null, null, null, args.toArray(String[]::new))).as("javac " + args).isZero();
        return out;
    }

    @Test
    void onLoomTheProgramRunsAsNamedModules() throws Exception {
        Run r = java(List.of("--add-modules", LOOM), API, LOOM);
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(concat(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)",
                "scheduler loom from io.coro4j.scheduler.loom, found [loom]"));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    @Test
    void onThreadpoolWithTheExportToItsModuleTheProgramRunsAsNamedModules() throws Exception {
        Run r = java(List.of("--add-modules", THREADPOOL, "--add-exports", "java.base/jdk.internal.vm=" + THREADPOOL),
                API, THREADPOOL, JCTOOLS);
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(concat(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)",
                "scheduler threadpool from io.coro4j.scheduler.threadpool, found [threadpool]"));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    /** The module path needs no --add-modules: io.coro4j {@code uses} the SPI, so resolution binds the provider. */
    @Test
    void aSchedulerModuleOnTheModulePathIsFoundWithoutAddModules() throws Exception {
        Run r = java(List.of(), API, LOOM);
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(concat(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)",
                "scheduler loom from io.coro4j.scheduler.loom, found [loom]"));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    @Test
    void onThreadpoolWithoutTheExportTheMessageNamesItsModuleAsTheTarget() throws Exception {
        String message = "failed: scheduler-threadpool needs the JVM flag"
                + " --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool (java.base does not export"
                + " jdk.internal.vm to this code): add it to the java command line, or to Surefire's argLine / exec's"
                + " arguments; or use io.coro4j:scheduler-loom, which needs no flag";
        Run none = java(List.of("--add-modules", THREADPOOL), API, THREADPOOL, JCTOOLS);
        assertThat(none.stdout).as(none.toString()).containsExactly(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)", message);
        assertThat(none.exit).as(none.toString()).isEqualTo(3);
        // The class path's target does not reach a named module: same message.
        Run unnamed = java(List.of("--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"), API, THREADPOOL, JCTOOLS);
        assertThat(unnamed.stdout).as(unnamed.toString()).containsExactly(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)", message);
        assertThat(unnamed.exit).as(unnamed.toString()).isEqualTo(3);
    }

    @Test
    void withNoSchedulerModuleTheMessageNamesTheModulesToAdd() throws Exception {
        Run r = java(List.of(), API);
        assertThat(r.stdout).as(r.toString()).containsExactly(
                "app io.coro4j.examples.modular, api io.coro4j (internal exported to all: false)",
                "failed: No coro4j scheduler found on the module path: add one of the modules"
                        + " io.coro4j.scheduler.threadpool (artifact io.coro4j:scheduler-threadpool; continuations on a"
                        + " thread pool of its own; needs the JVM flag"
                        + " --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool) or"
                        + " io.coro4j.scheduler.loom (artifact io.coro4j:scheduler-loom; virtual threads, no flags)");
        assertThat(r.exit).as(r.toString()).isEqualTo(3);
    }

    // ---- io.coro4j.http ----

    @Test
    void onLoomAModuleThatRequiresIoCoro4jHttpGathersGetsFromALoopbackServer() throws Exception {
        Run r = java(httpApp, HTTP_MAIN, List.of(), List.of(), API, LOOM, HTTP);
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(fetched("loom", LOOM));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    @Test
    void onThreadpoolAModuleThatRequiresIoCoro4jHttpGathersGetsFromALoopbackServer() throws Exception {
        Run r = java(httpApp, HTTP_MAIN, List.of("--add-exports", THREADPOOL_EXPORT), List.of(),
                API, THREADPOOL, JCTOOLS, HTTP);
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(fetched("threadpool", THREADPOOL));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    private static List<String> fetched(String kind, String module) {
        return List.of(
                "app io.coro4j.examples.modular.http, client io.coro4j.http on java.net.http, scheduler " + kind
                        + " from " + module,
                "gather GET /pages/1 -> 200 \"page 1\"",
                "gather GET /pages/2 -> 200 \"page 2\"",
                "gather GET /pages/3 -> 200 \"page 3\"",
                "gather GET /pages/4 -> 404 \"\"",
                "getAll [200, 200, 200, 404]");
    }

    // ---- io.coro4j.metrics ----

    @Test
    void onLoomAModuleBindsCoroutineAndHttpClientMetricsToMicrometerRegistries() throws Exception {
        Run r = java(metricsApp, METRICS_MAIN, List.of(), List.of(),
                names(List.of(API, LOOM, HTTP, METRICS), MICROMETER));
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(metered("loom", LOOM));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    @Test
    void onThreadpoolAModuleBindsCoroutineAndHttpClientMetricsToMicrometerRegistries() throws Exception {
        Run r = java(metricsApp, METRICS_MAIN, List.of("--add-exports", THREADPOOL_EXPORT), List.of(),
                names(List.of(API, THREADPOOL, JCTOOLS, HTTP, METRICS), MICROMETER));
        assertThat(r.stdout).as(r.toString()).containsExactlyElementsOf(metered("threadpool", THREADPOOL));
        assertThat(r.exit).as(r.toString()).isZero();
    }

    /**
     * Five tasks complete, one fails, one is cancelled, three fetch (two 200s, a 404), and the main
     * task completes: 11 spawned, 9 completed.
     */
    private static List<String> metered(String kind, String module) {
        String tags = "name=\"modular\",scheduler=\"" + kind + "\"";
        return List.of(
                "app io.coro4j.examples.modular.metrics, metrics io.coro4j.metrics on micrometer.core, scheduler "
                        + kind + " from " + module,
                "outcomes [1, 4, 9, 16, 25, IllegalStateException, CancellationException, 200, 200, 404]",
                "tasks spawned 11, completed 9, failed 1, cancelled 1",
                "suspensions counted true, resumptions counted true",
                "SimpleMeterRegistry http GET 200 SUCCESS 2, 404 CLIENT_ERROR 1",
                "PrometheusMeterRegistry http GET 200 SUCCESS 2, 404 CLIENT_ERROR 1",
                "coro4j_tasks_ended_total{name=\"modular\",outcome=\"cancelled\",scheduler=\"" + kind + "\"} 1.0",
                "coro4j_tasks_ended_total{name=\"modular\",outcome=\"completed\",scheduler=\"" + kind + "\"} 9.0",
                "coro4j_tasks_ended_total{name=\"modular\",outcome=\"failed\",scheduler=\"" + kind + "\"} 1.0",
                "coro4j_tasks_spawned_total{" + tags + "} 11.0");
    }

    // ---- io.coro4j.tck ----

    /**
     * A scheduler author's tests in a named module that requires io.coro4j.tck, run by the JUnit
     * Platform launcher on the module path: the discovery suite (4 tests), and the five tests of the
     * channel, sync and select suites that read a primitive's lock through the opening io.coro4j
     * gives the kit.
     */
    @Test
    void onLoomTheKitRunsFromANamedModuleWithTheJUnitLauncher() throws Exception {
        Run r = java(tckApp, TCK_MAIN, List.of(), List.of("loom"), names(List.of(API, LOOM), KIT));
        assertThat(r.stdout).as(r.toString()).containsExactly(
                "tests io.coro4j.examples.modular.tck, kit io.coro4j.tck, on loom",
                "found 9, succeeded 9, failed 0, skipped 0, aborted 0");
        assertThat(r.exit).as(r.toString()).isZero();
    }

    @Test
    void onThreadpoolTheKitRunsFromANamedModuleWithTheJUnitLauncher() throws Exception {
        Run r = java(tckApp, TCK_MAIN, List.of("--add-exports", THREADPOOL_EXPORT), List.of("threadpool"),
                names(List.of(API, THREADPOOL, JCTOOLS), KIT));
        assertThat(r.stdout).as(r.toString()).containsExactly(
                "tests io.coro4j.examples.modular.tck, kit io.coro4j.tck, on threadpool",
                "found 9, succeeded 9, failed 0, skipped 0, aborted 0");
        assertThat(r.exit).as(r.toString()).isZero();
    }

    private static String[] names(List<String> first, List<String> more) {
        return Stream.concat(first.stream(), more.stream()).toArray(String[]::new);
    }

    private static List<String> concat(String... first) {
        List<String> all = new ArrayList<>(List.of(first));
        all.addAll(WORKS_AFTER_SCHEDULER);
        return all;
    }

    private record Run(List<String> command, int exit, List<String> stdout, String stderr) {
        @Override
        public String toString() {
            return String.join(" ", command) + "\nexit " + exit + "\nstdout:\n" + String.join("\n", stdout)
                    + "\nstderr:\n" + stderr;
        }
    }

    /** Runs the program with {@code options}, on a module path of the app and {@code names}. */
    private static Run java(List<String> options, String... names) throws Exception {
        return java(app, MAIN, options, List.of(), names);
    }

    /**
     * Runs {@code main} (module/class) of the program compiled to {@code program} with
     * {@code options} and {@code args}, on a module path of the program and {@code names}.
     */
    private static Run java(Path program, String main, List<String> options, List<String> args, String... names)
            throws Exception {
        String modulePath = modulePath(Stream.concat(Stream.of(program), Stream.of(names).map(ModulePathTest::module)));
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(CHILD_JVM);
        command.addAll(List.of("--module-path", modulePath));
        command.addAll(options);
        command.addAll(List.of("-m", main));
        command.addAll(args);
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("still running after 60 s: " + command);
        }
        return new Run(command, p.exitValue(), Files.readAllLines(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String modulePath(Stream<Path> entries) {
        return entries.map(Path::toString).collect(Collectors.joining(File.pathSeparator));
    }

    /** Where the module {@code name} lies on the test class path. */
    private static Path module(String name) {
        Path p = modules.get(name);
        assertThat(p).as("module " + name + " on the test class path " + modules.keySet()).isNotNull();
        return p;
    }

    /**
     * The test class path as Surefire built it (its manifest-only jar hides it from
     * java.class.path), each entry that is a module (a jar, or a classes folder with a
     * module-info.class) by its module name.
     */
    private static Map<String, Path> modulesOnTheTestClassPath() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Map<String, Path> found = new HashMap<>();
        for (String entry : cp.split(File.pathSeparator)) {
            Path p = Path.of(entry);
            boolean module = Files.isDirectory(p) ? Files.exists(p.resolve("module-info.class"))
                    : p.toString().endsWith(".jar") && Files.isRegularFile(p);
            if (module) {
                try {
                    for (ModuleReference ref : ModuleFinder.of(p).findAll()) {
                        found.putIfAbsent(ref.descriptor().name(), p);
                    }
                } catch (FindException e) {
                    // not a module (an automatic name it cannot derive): not one this test runs
                }
            }
        }
        return found;
    }
}
