package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The coro4j jars are automatic modules with stable names (their {@code Automatic-Module-Name}),
 * and a program on the class path runs with them on the module path, finding its scheduler
 * through {@code ServiceLoader}. Needs the built jars: under {@code ./mvnw verify} the test class
 * path has them; under {@code test} alone it has the modules' class folders, and this is skipped.
 */
class AutomaticModuleNamesTest {

    private static final Map<String, String> NAMES = Map.of(
            "coroutine-api", "io.coro4j",
            "scheduler-threadpool", "io.coro4j.scheduler.threadpool",
            "scheduler-loom", "io.coro4j.scheduler.loom",
            "http-async", "io.coro4j.http",
            "coroutine-metrics", "io.coro4j.metrics");

    /** The jar of each coro4j artifact on the test class path, by artifact id. */
    private static Map<String, Path> jars() {
        Map<String, Path> jars = new TreeMap<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            String file = p.getFileName().toString();
            for (String artifact : NAMES.keySet()) {
                if (file.startsWith(artifact + "-") && file.endsWith(".jar") && !file.endsWith("-tests.jar")) {
                    jars.put(artifact, p);
                }
            }
        }
        assumeTrue(jars.size() == NAMES.size(), "the coro4j jars are on the class path (./mvnw verify), not their class folders");
        return jars;
    }

    @Test
    void eachJarIsAnAutomaticModuleOfItsStableName_andTheSchedulersProvideTheSpi() {
        List<String> seen = new ArrayList<>();
        for (Map.Entry<String, Path> e : jars().entrySet()) {
            Set<ModuleReference> found = ModuleFinder.of(e.getValue()).findAll();
            assertThat(found).hasSize(1);
            ModuleDescriptor d = found.iterator().next().descriptor();
            List<String> provides = d.provides().stream().map(ModuleDescriptor.Provides::service).sorted().toList();
            seen.add(e.getKey() + ": " + d.name() + (d.isAutomatic() ? " (automatic)" : " (explicit)")
                    + (provides.isEmpty() ? "" : " provides " + provides));
        }
        assertThat(seen).containsExactly(
                "coroutine-api: io.coro4j (automatic)",
                "coroutine-metrics: io.coro4j.metrics (automatic)",
                "http-async: io.coro4j.http (automatic)",
                "scheduler-loom: io.coro4j.scheduler.loom (automatic) provides [io.coro4j.spi.SchedulerProvider]",
                "scheduler-threadpool: io.coro4j.scheduler.threadpool (automatic) provides [io.coro4j.spi.SchedulerProvider]");
    }

    @Test
    void aProgramRunsWithTheApiAndTheLoomSchedulerOnTheModulePath() throws Exception {
        Map<String, Path> jars = jars();
        Run r = run(List.of(), "io.coro4j.scheduler.loom", jars.get("coroutine-api"), jars.get("scheduler-loom"));
        assertThat(r.exit).as(r.toString()).isZero();
        assertThat(r.lines).containsExactly("api in module io.coro4j", "scheduler loom in module io.coro4j.scheduler.loom",
                "gathered [1, 4, 9]");
    }

    /**
     * An automatic module is a named one: the flag threadpool needs exports to its module's name there,
     * which its message says (ALL-UNNAMED, the class-path target, does not reach it).
     */
    @Test
    void onTheModulePathThreadpoolNeedsTheExportToItsModuleAndItsMessageSaysSo() throws Exception {
        Map<String, Path> jars = jars();
        Path jctools = classPathEntry("jctools-core-");
        Path[] modules = {jars.get("coroutine-api"), jars.get("scheduler-threadpool"), jctools};
        Run with = run(List.of("--add-exports", "java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool"),
                "io.coro4j.scheduler.threadpool,org.jctools.core", modules);
        assertThat(with.exit).as(with.toString()).isZero();
        assertThat(with.lines).containsExactly("api in module io.coro4j",
                "scheduler threadpool in module io.coro4j.scheduler.threadpool", "gathered [1, 4, 9]");
        Run without = run(List.of("--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"),
                "io.coro4j.scheduler.threadpool,org.jctools.core", modules);
        assertThat(without.exit).as(without.toString()).isNotZero();
        assertThat(without.stderr).as(without.toString()).contains(
                "scheduler-threadpool needs the JVM flag --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool");
    }

    private static Path classPathEntry(String filePrefix) {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (p.getFileName().toString().startsWith(filePrefix)) {
                return p;
            }
        }
        throw new AssertionError(filePrefix + "* is not on the test class path");
    }

    private record Run(int exit, List<String> lines, String stderr) {}

    /**
     * Runs {@link ModulePathProgram} from the class path with {@code modules} on the module path,
     * adding io.coro4j and {@code scheduler} (automatic modules require nothing, so what they use,
     * JCTools for threadpool, is added by name too).
     */
    private static Run run(List<String> options, String scheduler, Path... modules) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(options);
        command.addAll(List.of("--module-path", String.join(File.pathSeparator, java.util.Arrays.stream(modules).map(Path::toString).toList()),
                "--add-modules", "io.coro4j," + scheduler,
                "-cp", Path.of(ModulePathProgram.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString(),
                ModulePathProgram.class.getName()));
        Path out = Files.createTempFile("module-path", ".out");
        Path err = Files.createTempFile("module-path", ".err");
        try {
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the program ended").isTrue();
            return new Run(p.exitValue(), Files.readAllLines(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
