package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.Coro;
import io.coro4j.Task;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The base of every suite in the kit: creates a fresh scheduler for each test, closes it after,
 * and fails the test if the scheduler did not terminate or left a thread of its own running. A test
 * that runs longer than {@link StressTimeout}'s limit (three minutes times the stress multiplier)
 * fails.
 *
 * <p>To plug a scheduler in, extend each suite and implement {@link #createScheduler}.
 */
@ExtendWith(StressTimeout.class)
public abstract class SchedulerTck {

    private static final AtomicInteger COUNTER = new AtomicInteger();

    /** The scheduler under test, fresh for each test. */
    protected Scheduler scheduler;
    private final List<Scheduler> created = new ArrayList<>();

    /**
     * Creates and starts a scheduler of the implementation under test with {@code config}. Its
     * threads must have names that contain the configured name.
     */
    protected abstract Scheduler createScheduler(SchedulerConfig config);

    /** Whether the scheduler runs fibers on exactly {@link SchedulerConfig#parallelism()} threads it owns. */
    protected boolean honoursParallelism() {
        return false;
    }

    /**
     * Whether a task or generator body that waits where its thread cannot let go of its carrier (in
     * a class initializer: loom's virtual thread is pinned there) leaves another carrier for the
     * code that must run to wake it. A scheduler that refuses to suspend there (threadpool) never
     * waits so; loom leaves one only while the JDK's virtual-thread scheduler has more than one
     * carrier. The tests of such waits are skipped where it does not: they would wait for ever.
     */
    protected boolean aPinnedWaitLeavesAnotherCarrier() {
        return true;
    }

    /**
     * Whether a monitor that code entered and then suspended inside (JDK 24+ lets it) belongs to
     * the thread the code ran on rather than to its task or generator body. On the threadpool
     * scheduler a task runs on its carrier's thread and a generator body on its resumer's, and the
     * JDK keeps a monitor that threads have contended for (an inflated one) owned by that thread:
     * another task of the same carrier enters it as its own while the first is suspended inside
     * the block, and a body resumed by another thread that leaves the block there leaves the
     * monitor held by the first thread for good. On loom each task and body is a virtual thread
     * that owns its monitors. The tests of mutual exclusion across a suspension are skipped where
     * monitors are the thread's.
     */
    protected boolean monitorsHeldWhileSuspendedAreTheThreads() {
        return false;
    }

    /** Why a test of a monitor held across a suspension was skipped (see {@link #monitorsHeldWhileSuspendedAreTheThreads}). */
    protected static final String MONITORS_ARE_THE_THREADS = "on this scheduler a contended monitor held across a"
            + " suspension is owned by the thread the code ran on, not by the task or generator body: use a coro4j Lock";

    /** Why a test of a wait in a class initializer was skipped (see {@link #aPinnedWaitLeavesAnotherCarrier}). */
    protected static final String PINNED_WAIT_NEEDS_ANOTHER_CARRIER = "this scheduler waits in a class initializer"
            + " holding its only carrier: what must run to end the wait would never get one";

    /** Creates a scheduler with a unique name; closed and checked for leaks after the test. */
    protected Scheduler newScheduler(int parallelism) {
        Scheduler s = createScheduler(SchedulerConfig.builder()
                .name("tck" + COUNTER.incrementAndGet())
                .parallelism(parallelism)
                .build());
        created.add(s);
        return s;
    }

    @BeforeEach
    void createDefaultScheduler() {
        scheduler = newScheduler(Math.max(2, Runtime.getRuntime().availableProcessors()));
    }

    @AfterEach
    void closeAndCheckForLeaks() throws InterruptedException {
        for (Scheduler s : created) {
            s.shutdown();
        }
        for (Scheduler s : created) {
            assertThat(s.awaitTermination(Duration.ofSeconds(30)))
                    .as("scheduler %s terminates within 30 s of shutdown (a fiber still parked?): %s", s.name(), s)
                    .isTrue();
            assertThat(s.stats().liveFibers()).as("live fibers of %s after termination", s.name()).isZero();
            assertNoThreadsOf(s.name());
        }
        created.clear();
    }

    /**
     * Fails if a live platform thread's name contains {@code "coro4j-" + name + "-"}: the
     * scheduler's own threads (carriers, timer) must have ended when it reports termination.
     * ({@link Thread#getAllStackTraces()} lists no virtual threads.)
     */
    protected static void assertNoThreadsOf(String name) {
        String marker = "coro4j-" + name + "-";
        List<String> alive = Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(n -> n.contains(marker))
                .toList();
        assertThat(alive).as("threads of scheduler %s alive after it terminated", name).isEmpty();
    }

    /** Runs {@code body} in a new fiber of {@link #scheduler} and returns its result (30 s at most). */
    protected <T> T inFiber(Callable<T> body) throws Exception {
        return await(startFiber(scheduler, body));
    }

    /** Starts {@code body} in a new fiber of {@code s}; the future completes with its outcome. */
    protected static <T> CompletableFuture<T> startFiber(Scheduler s, Callable<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        s.start(() -> {
            try {
                result.complete(body.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    /** Waits at most 60 s for {@code f}; rethrows its failure as it is. */
    protected static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw (Error) e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("timed out after 60 s: a lost wake-up or a hang", e);
        }
    }

    /** Parks the current fiber until {@code condition} holds (the standard re-check loop). */
    protected static void parkUntil(Fiber self, java.util.function.BooleanSupplier condition) {
        while (!condition.getAsBoolean()) {
            self.park();
        }
    }

    // ---- helpers for suites of tasks ----

    /** Runs {@code main} as a task ({@link Coro#run}) on {@link #scheduler}, waiting at most {@code limit}. */
    protected <T> T runTask(Duration limit, Callable<T> main) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-main").start(() -> {
            try {
                f.complete(Coro.run(scheduler, main));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        try {
            return f.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw (Error) e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("timed out after " + limit + ": a lost wake-up or a hang", e);
        }
    }

    /** {@link #runTask(Duration, Callable)} with 60 s. */
    protected <T> T runTask(Callable<T> main) throws Exception {
        return runTask(Duration.ofSeconds(60), main);
    }

    /** Inside a task: lets others run until {@code condition} holds (30 s at most). */
    protected static void until(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int spins = 0;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after 30 s waiting until " + what);
            }
            if (++spins < 200) {
                Coro.yieldNow();
            } else {
                Coro.sleep(Duration.ofMillis(1));
            }
        }
    }

    /** Joins {@code t} and asserts that it was cancelled. */
    protected static void assertCancelled(Task<?> t) {
        assertThatThrownBy(t::join).isInstanceOf(CancellationException.class);
    }

    /** The end of the message of an operation that needs a task, called outside one. */
    protected static final String OUTSIDE = " called outside a task: start one with Coro.run(...)";
}
