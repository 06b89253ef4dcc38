package io.coro4j;

import io.coro4j.internal.DefaultScheduler;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.SchedulerProvider;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Finds and creates schedulers.
 *
 * <p>Providers are found with {@link ServiceLoader}. Which one {@link #defaultScheduler()} and
 * {@link #create(SchedulerConfig)} use is decided in this order:
 * <ol>
 *   <li>the name given to {@link #select(String)};</li>
 *   <li>the system property {@value #PROPERTY} (e.g. {@code -Dcoro4j.scheduler=loom});</li>
 *   <li>the only provider present; or, if several are, the highest {@link SchedulerProvider#priority()},
 *       ties broken by name, with a warning (logged once) that lists them and says how to choose.</li>
 * </ol>
 * With none present, use fails with an {@link IllegalStateException} naming the artifacts to add.
 * A provider that fails to load is reported and skipped.
 *
 * <p>Thread-safe.
 */
public final class Schedulers {

    /** System property that names the scheduler to use when several are on the classpath. */
    public static final String PROPERTY = "coro4j.scheduler";

    static final String NONE_FOUND = Schedulers.class.getModule().isNamed()
            ? "No coro4j scheduler found on the module path: add one of the modules"
                    + " io.coro4j.scheduler.threadpool (artifact io.coro4j:scheduler-threadpool; continuations on a"
                    + " thread pool of its own; needs the JVM flag"
                    + " --add-exports java.base/jdk.internal.vm=io.coro4j.scheduler.threadpool) or"
                    + " io.coro4j.scheduler.loom (artifact io.coro4j:scheduler-loom; virtual threads, no flags)"
            : "No coro4j scheduler found on the classpath: add one of the artifacts"
                    + " io.coro4j:scheduler-threadpool (continuations on a thread pool of its own; needs the JVM flag"
                    + " --add-exports java.base/jdk.internal.vm=ALL-UNNAMED) or io.coro4j:scheduler-loom (virtual"
                    + " threads, no flags)";

    private static final System.Logger LOG = System.getLogger(Schedulers.class.getName());

    private static volatile List<SchedulerProvider> providers;
    private static volatile String selected;

    private Schedulers() {}

    /** The names of the providers found, highest priority first. */
    public static List<String> available() {
        return providers().stream().map(SchedulerProvider::name).toList();
    }

    /**
     * Chooses, by provider name, the scheduler {@link #defaultScheduler()} creates; overrides the
     * system property.
     *
     * @throws IllegalArgumentException if {@code name} is blank, or no provider of that name is present
     * @throws IllegalStateException if the default scheduler was already created with another provider
     */
    public static synchronized void select(String name) {
        Objects.requireNonNull(name, "name");
        SchedulerProvider p = byName(providers(), name, "Schedulers.select");
        Scheduler current = DefaultScheduler.get();
        if (current != null && !current.kind().equals(p.name())) {
            throw new IllegalStateException("the default scheduler is already running on \"" + current.kind()
                    + "\": call Schedulers.select(\"" + name + "\") before the first generator or task is created");
        }
        selected = name;
    }

    /**
     * The JVM-wide scheduler used when no other is given; created on first use with daemon
     * threads and never closed: its {@code shutdown()} and {@code close()} throw
     * {@link IllegalStateException} (create a scheduler of your own to close it).
     *
     * @throws IllegalStateException if no scheduler is on the classpath
     */
    public static Scheduler defaultScheduler() {
        Scheduler s = DefaultScheduler.get();
        if (s != null) {
            return s;
        }
        synchronized (Schedulers.class) {
            s = DefaultScheduler.get();
            if (s == null) {
                s = chosen().create(SchedulerConfig.builder().name("default").daemon(true).build());
                DefaultScheduler.set(s);
            }
            return s;
        }
    }

    /** Creates a scheduler with the chosen provider (see the class description). */
    public static Scheduler create(SchedulerConfig config) {
        Objects.requireNonNull(config, "config");
        return chosen().create(config);
    }

    /**
     * Creates a scheduler with the provider named {@code name}.
     *
     * @throws IllegalArgumentException if {@code name} is blank, or no provider of that name is present
     */
    public static Scheduler create(String name, SchedulerConfig config) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(config, "config");
        return byName(providers(), name, "Schedulers.create").create(config);
    }

    /** The fiber the caller runs in, of any discovered scheduler; {@code null} outside fibers. */
    public static Fiber currentFiber() {
        SchedulerProvider hint = lastFound; // racy, but any value is correct: it only orders the look-ups
        if (hint != null) {
            Fiber f = hint.currentFiber();
            if (f != null) {
                return f;
            }
        }
        for (SchedulerProvider p : providers()) {
            if (p != hint) {
                Fiber f = p.currentFiber();
                if (f != null) {
                    lastFound = p;
                    return f;
                }
            }
        }
        return null;
    }

    /**
     * The provider whose fiber {@link #currentFiber()} found last: asked first next time, so that
     * with several providers on the classpath a look-up inside a fiber usually asks only one.
     */
    private static SchedulerProvider lastFound;

    /** The scheduler of the fiber the caller runs in, else {@link #defaultScheduler()}. */
    public static Scheduler current() {
        Fiber f = currentFiber();
        return f != null ? f.scheduler() : defaultScheduler();
    }

    private static SchedulerProvider chosen() {
        return choose(providers(), selected, System.getProperty(PROPERTY), Schedulers::warnOnce);
    }

    /** The several-providers warnings already logged: each once, not at every create. */
    private static final java.util.Set<String> WARNED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static void warnOnce(String msg) {
        if (WARNED.add(msg)) {
            LOG.log(System.Logger.Level.WARNING, msg);
        }
    }

    /** The provider rule of the class description; {@code warn} receives the several-providers warning. */
    static SchedulerProvider choose(List<SchedulerProvider> found, String selectedName, String propertyName,
                                    Consumer<String> warn) {
        if (found.isEmpty()) {
            throw new IllegalStateException(NONE_FOUND);
        }
        if (selectedName != null) {
            return byName(found, selectedName, "Schedulers.select");
        }
        if (propertyName != null && !propertyName.isBlank()) {
            return byName(found, propertyName.trim(), "-D" + PROPERTY);
        }
        SchedulerProvider first = found.get(0);
        if (found.size() > 1) {
            String list = found.stream().map(p -> p.name() + " (priority " + p.priority() + ")")
                    .collect(Collectors.joining(", "));
            warn.accept("Several coro4j schedulers found: " + list + "; using \"" + first.name()
                    + "\". Choose one with -D" + PROPERTY + "=NAME or Schedulers.select(NAME).");
        }
        return first;
    }

    private static SchedulerProvider byName(List<SchedulerProvider> found, String name, String source) {
        if (name.isBlank()) {
            throw new IllegalArgumentException("a coro4j scheduler name should not be blank (from " + source + ")"
                    + (found.isEmpty() ? "" : "; found: " + names(found)));
        }
        for (SchedulerProvider p : found) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        if (found.isEmpty()) {
            throw new IllegalStateException(NONE_FOUND);
        }
        throw new IllegalArgumentException("No coro4j scheduler named \"" + name + "\" (from " + source
                + "); found: " + names(found)
                + ". The artifact for \"" + name + "\" is io.coro4j:scheduler-" + name + " if it exists.");
    }

    private static String names(List<SchedulerProvider> found) {
        return found.stream().map(SchedulerProvider::name).collect(Collectors.joining(", "));
    }

    static List<SchedulerProvider> providers() {
        List<SchedulerProvider> ps = providers;
        if (ps == null) {
            synchronized (Schedulers.class) {
                if (providers == null) {
                    providers = load(ServiceLoader.load(SchedulerProvider.class, Schedulers.class.getClassLoader()),
                            msg -> LOG.log(System.Logger.Level.WARNING, msg));
                }
                ps = providers;
            }
        }
        return ps;
    }

    /** Loads every provider, skipping (and reporting) those that fail; sorted by priority, then name. */
    static List<SchedulerProvider> load(Iterable<SchedulerProvider> loader, Consumer<String> warn) {
        List<SchedulerProvider> found = new ArrayList<>();
        var it = loader.iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                found.add(it.next());
            } catch (ServiceConfigurationError e) {
                warn.accept("A coro4j scheduler provider failed to load and is skipped: " + e);
            }
        }
        found.sort(Comparator.comparingInt(SchedulerProvider::priority).reversed()
                .thenComparing(SchedulerProvider::name));
        return List.copyOf(found);
    }
}
