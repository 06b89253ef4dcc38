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
 */
class ModulePathTest {

    private static final String API = "io.coro4j";
    private static final String THREADPOOL = "io.coro4j.scheduler.threadpool";
    private static final String LOOM = "io.coro4j.scheduler.loom";
    private static final String JCTOOLS = "org.jctools.core";
    private static final String APP = "io.coro4j.examples.modular";
    private static final String MAIN = APP + "/io.coro4j.examples.modular.ModularMain";

    private static final List<String> WORKS_AFTER_SCHEDULER = List.of(
            "gather [1, 4, 9]",
            "channel [a, b, c]",
            "generator 1, 11, returned 111",
            "default scheduler's shutdown refused");

    @TempDir
    static Path dir;

    /** Where each module this test runs lies on the test class path, by module name. */
    private static Map<String, Path> modules;
    private static Path app;

    @BeforeAll
    static void compileTheProgram() throws IOException {
        modules = modulesOnTheTestClassPath();
        assertThat(modules).containsKeys(API, THREADPOOL, LOOM, JCTOOLS);
        for (String coro4j : List.of(API, THREADPOOL, LOOM)) {
            ModuleDescriptor d = ModuleFinder.of(modules.get(coro4j)).find(coro4j).orElseThrow().descriptor();
            assertThat(d.isAutomatic()).as(coro4j + " has a module descriptor").isFalse();
        }
        app = dir.resolve("app");
        Path src = Path.of(System.getProperty("basedir", "."), "src", "test", "modular-app");
        List<String> args = new ArrayList<>(List.of("--release", "21", "-Xlint:all", "-Werror",
                "--module-path", modules.get(API).toString(), "-d", app.toString()));
        try (Stream<Path> files = Files.walk(src)) {
            files.filter(f -> f.toString().endsWith(".java")).forEach(f -> args.add(f.toString()));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertThat(javac.run(null, null, null, args.toArray(String[]::new))).as("javac " + args).isZero();
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
        String modulePath = Stream.concat(Stream.of(app), Stream.of(names).map(modules::get))
                .map(Path::toString).collect(Collectors.joining(File.pathSeparator));
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(List.of("--module-path", modulePath));
        command.addAll(options);
        command.addAll(List.of("-m", MAIN));
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
