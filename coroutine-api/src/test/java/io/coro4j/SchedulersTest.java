package io.coro4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.coro4j.spi.SchedulerProvider;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.ServiceConfigurationError;
import org.junit.jupiter.api.Test;

/** Provider discovery and choice, with stand-in providers (this module has no scheduler of its own). */
class SchedulersTest {

    private record FakeProvider(String name, int priority) implements SchedulerProvider {
        @Override
        public Scheduler create(SchedulerConfig config) {
            throw new UnsupportedOperationException("not used");
        }

        @Override
        public Fiber currentFiber() {
            return null;
        }
    }

    private static final SchedulerProvider LOOM = new FakeProvider("loom", 100);
    private static final SchedulerProvider POOL = new FakeProvider("threadpool", 50);

    @Test
    void noProviderOnTheClasspathFailsAtFirstUseNamingBothArtifacts() {
        assertThatThrownBy(Schedulers::defaultScheduler)
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("No coro4j scheduler found on the classpath: add one of the artifacts"
                        + " io.coro4j:scheduler-threadpool (continuations on a thread pool of its own; needs the JVM flag"
                        + " --add-exports java.base/jdk.internal.vm=ALL-UNNAMED) or io.coro4j:scheduler-loom"
                        + " (virtual threads, no flags)");
        assertThatThrownBy(() -> Generator.of(co -> null)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("No coro4j scheduler found on the classpath");
        assertThat(Schedulers.available()).isEmpty();
        assertThat(Schedulers.currentFiber()).isNull();
    }

    @Test
    void theOnlyProviderIsChosenWithoutAWarning() {
        List<String> warnings = new ArrayList<>();
        assertThat(Schedulers.choose(List.of(POOL), null, null, warnings::add)).isSameAs(POOL);
        assertThat(warnings).isEmpty();
    }

    @Test
    void severalProvidersPickTheHighestPriorityAndWarnHowToChoose() {
        List<String> warnings = new ArrayList<>();
        List<SchedulerProvider> sorted = Schedulers.load(List.of(POOL, LOOM), warnings::add);
        assertThat(sorted).containsExactly(LOOM, POOL);
        assertThat(Schedulers.choose(sorted, null, null, warnings::add)).isSameAs(LOOM);
        assertThat(warnings).containsExactly("Several coro4j schedulers found: loom (priority 100),"
                + " threadpool (priority 50); using \"loom\". Choose one with -Dcoro4j.scheduler=NAME"
                + " or Schedulers.select(NAME).");
    }

    @Test
    void equalPrioritiesAreOrderedByName() {
        SchedulerProvider b = new FakeProvider("b", 1);
        SchedulerProvider a = new FakeProvider("a", 1);
        assertThat(Schedulers.load(List.of(b, a), w -> { })).containsExactly(a, b);
    }

    @Test
    void thePropertyChoosesByNameAndTheApiCallOverridesIt() {
        List<String> warnings = new ArrayList<>();
        List<SchedulerProvider> both = List.of(LOOM, POOL);
        assertThat(Schedulers.choose(both, null, "threadpool", warnings::add)).isSameAs(POOL);
        assertThat(Schedulers.choose(both, "loom", "threadpool", warnings::add)).isSameAs(LOOM);
        assertThat(warnings).isEmpty();
    }

    @Test
    void anUnknownNameIsRejectedWithTheNamesFound() {
        assertThatThrownBy(() -> Schedulers.choose(List.of(LOOM, POOL), null, "fibers", w -> { }))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("No coro4j scheduler named \"fibers\" (from -Dcoro4j.scheduler); found: loom, threadpool."
                        + " The artifact for \"fibers\" is io.coro4j:scheduler-fibers if it exists.");
        assertThatThrownBy(() -> Schedulers.select("fibers"))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("No coro4j scheduler found on the classpath");
    }

    /**
     * A blank name is refused as such, not looked up: before, it was reported as an unknown
     * scheduler whose artifact "is io.coro4j:scheduler-  if it exists".
     */
    @Test
    void aBlankNameIsRejectedAsBlank() {
        assertThatThrownBy(() -> Schedulers.choose(List.of(LOOM, POOL), " ", null, w -> { }))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("a coro4j scheduler name should not be blank (from Schedulers.select); found: loom, threadpool");
        assertThatThrownBy(() -> Schedulers.select(""))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("a coro4j scheduler name should not be blank (from Schedulers.select)");
        assertThatThrownBy(() -> Schedulers.create(" ", SchedulerConfig.DEFAULT))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("a coro4j scheduler name should not be blank (from Schedulers.create)");
    }

    @Test
    void aProviderThatFailsToLoadIsReportedAndSkipped() {
        Iterable<SchedulerProvider> flaky = () -> new Iterator<>() {
            private int i;

            @Override
            public boolean hasNext() {
                return i < 3;
            }

            @Override
            public SchedulerProvider next() {
                if (i >= 3) {
                    throw new NoSuchElementException();
                }
                if (i++ == 1) {
                    throw new ServiceConfigurationError("io.example.Broken: Provider could not be instantiated");
                }
                return i == 1 ? POOL : LOOM;
            }
        };
        List<String> warnings = new ArrayList<>();
        assertThat(Schedulers.load(flaky, warnings::add)).containsExactly(LOOM, POOL);
        assertThat(warnings).containsExactly("A coro4j scheduler provider failed to load and is skipped:"
                + " java.util.ServiceConfigurationError: io.example.Broken: Provider could not be instantiated");
    }

    @Test
    void schedulerConfigRejectsBadValuesNamingThem() {
        assertThatThrownBy(() -> SchedulerConfig.builder().parallelism(0).build())
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("parallelism 0 should be at least 1");
        // An absurd count of carriers is refused naming it, not left to an OutOfMemoryError
        // (Requested array size exceeds VM limit; Java heap space) or to thousands of threads.
        assertThatThrownBy(() -> SchedulerConfig.builder().parallelism(Integer.MAX_VALUE).build())
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("parallelism 2147483647 should be at most 32767 (ForkJoinPool's limit):"
                        + " carriers are platform threads, one per core is the default");
        assertThat(SchedulerConfig.builder().parallelism(32767).build().parallelism())
                .isEqualTo(32767);
        assertThatThrownBy(() -> new SchedulerConfig(" ", 1, true))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("name should not be blank; pass null to let the provider choose one");
        // The advice can be followed with the builder, the way the javadoc says to make one.
        assertThatThrownBy(() -> SchedulerConfig.builder().name(" ").build())
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("name should not be blank; pass null to let the provider choose one");
        assertThat(SchedulerConfig.builder().name("x").name(null).build().name()).isNull();
        assertThatThrownBy(() -> Generator.of(null, co -> null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("scheduler");
    }
}
