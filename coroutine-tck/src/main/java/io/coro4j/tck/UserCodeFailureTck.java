package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import io.coro4j.Coro;
import io.coro4j.ListenableFutures;
import io.coro4j.Task;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * User code that throws where coro4j calls it: task bodies (errors, failed class initializers),
 * finally blocks that throw while a task unwinds from a cancellation, and futures a cancelled
 * await cancels. Each ends as the javadoc says on every scheduler, and the scheduler goes on.
 */
public abstract class UserCodeFailureTck extends SchedulerTck {

    /** A fresh task still runs on the scheduler, and nothing of the test stays live. */
    private void assertTheSchedulerGoesOn() throws Exception {
        assertThat(runTask(Duration.ofSeconds(10), () -> Coro.spawn(() -> "fresh").join())).isEqualTo("fresh");
    }

    /** Its initializer fails; defined afresh for each run ({@link #loaderOfAFreshFailsToInitialize()}). */
    static final class FailsToInitialize {
        static final int VALUE = fail();

        private static int fail() {
            throw new IllegalStateException("initializer failed");
        }
    }

    /**
     * A class loader of its own that defines {@link FailsToInitialize} anew, uninitialized: a class
     * whose initializer failed stays failed in its loader for the JVM's life, so a second run of the
     * test in one JVM (another subclass, a rerun) would see NoClassDefFoundError first.
     */
    private static ClassLoader loaderOfAFreshFailsToInitialize() throws IOException {
        String name = FailsToInitialize.class.getName();
        byte[] bytes;
        try (InputStream in = FailsToInitialize.class.getResourceAsStream(name.substring(name.lastIndexOf('.') + 1) + ".class")) {
            bytes = in.readAllBytes();
        }
        return new ClassLoader(UserCodeFailureTck.class.getClassLoader()) {
            @Override
            protected Class<?> loadClass(String n, boolean resolve) throws ClassNotFoundException {
                if (!n.equals(name)) {
                    return super.loadClass(n, resolve);
                }
                synchronized (getClassLoadingLock(n)) {
                    Class<?> c = findLoadedClass(n);
                    return c != null ? c : defineClass(n, bytes, 0, bytes.length);
                }
            }
        };
    }

    @Test
    void aClassInitializerThatFailsInATaskFailsItWithExceptionInInitializerError_thenNoClassDefFoundError() throws Exception {
        String name = FailsToInitialize.class.getName();
        ClassLoader loader = loaderOfAFreshFailsToInitialize();
        List<String> seen = runTask(Duration.ofSeconds(10), () -> {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Task<Class<?>> t = Coro.spawn(() -> Class.forName(name, true, loader));
                try {
                    t.join();
                    out.add("returned");
                } catch (Throwable e) {
                    out.add(e.getClass().getSimpleName() + (e.getCause() == null ? "" : "<-" + e.getCause().getMessage()));
                }
            }
            return out;
        });
        assertThat(seen.get(0)).isEqualTo("ExceptionInInitializerError<-initializer failed");
        assertThat(seen.get(1)).startsWith("NoClassDefFoundError");
        assertThat(scheduler.taskCounters().failed()).isEqualTo(2);
        assertTheSchedulerGoesOn();
    }

    @Test
    void aFinallyThatThrowsWhileACancelledTaskUnwindsFailsItWithThatThrowable() throws Exception {
        AssertionError fromFinally = new AssertionError("from finally");
        Throwable[] got = runTask(Duration.ofSeconds(10), () -> {
            Task<Void> t = Coro.spawn(() -> {
                try {
                    Coro.sleep(Duration.ofDays(1));
                } finally {
                    throw fromFinally;
                }
            });
            Coro.yieldNow();
            until("the task sleeps", () -> scheduler.stats().parkedFibers() > 0);
            t.cancel();
            Throwable joined = null;
            try {
                t.join();
            } catch (Throwable e) {
                joined = e;
            }
            Throwable viewed = t.toCompletableFuture().handle((v, e) -> e).join();
            return new Throwable[] {joined, viewed, t.exceptionNow()};
        });
        assertThat(got[0]).isSameAs(fromFinally);
        assertThat(got[1]).isSameAs(fromFinally);
        assertThat(got[2]).isSameAs(fromFinally);
        assertThat(scheduler.taskCounters().cancelled()).isZero();
        assertTheSchedulerGoesOn();
    }

    /** A CompletableFuture whose cancel throws, as a broken subclass's might. */
    static final class CancelThrows<T> extends CompletableFuture<T> {
        final RuntimeException thrown = new IllegalStateException("cancel failed");

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            throw thrown;
        }
    }

    @Test
    void aCancelledAwaitWhoseStagesCancelThrowsStillEndsCancelled_withThatFailureSuppressed() throws Exception {
        CancelThrows<String> stage = new CancelThrows<>();
        assertEndsCancelledWithSuppressed(() -> Coro.await(stage), stage.thrown);
    }

    @Test
    void aCancelledListenableAwaitWhoseListenerThrowsAnErrorStillEndsCancelled_withThatErrorSuppressed() throws Exception {
        SettableFuture<String> future = SettableFuture.create();
        AssertionError fromListener = new AssertionError("listener failed");
        future.addListener(() -> {
            throw fromListener;
        }, MoreExecutors.directExecutor());
        assertEndsCancelledWithSuppressed(() -> ListenableFutures.await((ListenableFuture<String>) future), fromListener);
        assertThat(future.isCancelled()).isTrue();
    }

    /**
     * Spawns {@code await}, cancels the task once it waits, and checks it ends cancelled (counted
     * so, not failed) with exactly {@code suppressed} on its CancellationException.
     */
    private void assertEndsCancelledWithSuppressed(Callable<String> await, Throwable suppressed) throws Exception {
        Throwable got = runTask(Duration.ofSeconds(10), () -> {
            Task<String> t = Coro.spawn(await);
            until("the task awaits", () -> scheduler.stats().parkedFibers() > 0);
            t.cancel();
            try {
                t.join();
                return null;
            } catch (Throwable e) {
                return e;
            }
        });
        assertThat(got).isInstanceOf(CancellationException.class);
        assertThat(got.getSuppressed()).containsExactly(suppressed);
        assertThat(scheduler.taskCounters().cancelled()).isEqualTo(1);
        assertThat(scheduler.taskCounters().failed()).isZero();
        assertTheSchedulerGoesOn();
    }

    /**
     * Guava runs a future's listeners one after another on the completing thread and lets an
     * {@link Error} a listener throws out of its {@code set}, skipping the listeners after it: an
     * await whose listener came later is never woken (ListenableFutures.await's javadoc says so).
     * It is not lost: the completing thread got the Error, and cancelling the task ends the wait
     * (with the future's value, the future being done by then).
     */
    @Test
    void aGuavaListenerErrorThatSkipsTheAwaitsListener_leavesTheWaitToACancellation() throws Exception {
        SettableFuture<String> future = SettableFuture.create();
        AssertionError fromListener = new AssertionError("listener failed");
        future.addListener(() -> {
            throw fromListener;
        }, MoreExecutors.directExecutor());
        List<Object> got = runTask(Duration.ofSeconds(10), () -> {
            Task<String> t = Coro.spawn(() -> ListenableFutures.await((ListenableFuture<String>) future));
            until("the task awaits", () -> scheduler.stats().parkedFibers() > 0);
            List<Object> out = new ArrayList<>();
            try {
                future.set("v");
            } catch (Throwable e) {
                out.add(e);
            }
            Coro.sleep(Duration.ofMillis(50));
            out.add(t.isDone());
            t.cancel();
            try {
                out.add(t.join());
            } catch (Throwable e) {
                out.add(e.getClass());
            }
            return out;
        });
        // Woken by the cancel, the await finds the future done and returns its value, as a wait
        // whose operation completed before the task saw the cancellation does.
        assertThat(got).containsExactly(fromListener, false, "v");
        assertTheSchedulerGoesOn();
    }

    /**
     * Completion callbacks of a task's views run where the task ends (threadpool: its carrier, here
     * the only one). One that throws an Error (here a StackOverflowError and an OutOfMemoryError,
     * thrown by hand) completes its own dependent stage with it, as a CompletableFuture's does; the
     * other callbacks, the joiner and a select on the task's end all still get the value, and the
     * carrier goes on running tasks.
     */
    @Test
    void viewCallbacksThatThrowErrorsAtATasksEndFailOnlyTheirOwnStages_onTheOnlyCarrier() throws Exception {
        scheduler = newScheduler(1);
        StackOverflowError overflow = new StackOverflowError("by hand");
        OutOfMemoryError oom = new OutOfMemoryError("by hand");
        List<Object> got = runTask(Duration.ofSeconds(10), () -> {
            io.coro4j.channel.Event go = new io.coro4j.channel.Event();
            Task<String> t = Coro.spawn(() -> {
                go.await();
                return "v";
            });
            CompletableFuture<String> first = t.toCompletableFuture().whenComplete((v, e) -> {
                throw overflow;
            });
            CompletableFuture<Void> second = t.toCompletableFuture().thenRun(() -> {
                throw oom;
            });
            List<String> ran = new java.util.concurrent.CopyOnWriteArrayList<>();
            t.toCompletableFuture().thenAccept(v -> ran.add("third " + v));
            Task<String> selector = Coro.spawn(() -> io.coro4j.channel.Select.select(
                    io.coro4j.channel.Select.onAwait(t, v -> "selected " + v)));
            Coro.yieldNow();
            go.set();
            List<Object> out = new ArrayList<>();
            out.add(t.join());
            out.add(selector.join());
            out.add(first.handle((v, e) -> e).join());
            out.add(second.handle((v, e) -> e).join());
            out.addAll(ran);
            return out;
        });
        assertThat(got).hasSize(5);
        assertThat(got.subList(0, 2)).containsExactly("v", "selected v");
        assertThat((Throwable) got.get(2)).isInstanceOf(java.util.concurrent.CompletionException.class).cause().isSameAs(overflow);
        assertThat((Throwable) got.get(3)).isInstanceOf(java.util.concurrent.CompletionException.class).cause().isSameAs(oom);
        assertThat(got.get(4)).isEqualTo("third v");
        assertTheSchedulerGoesOn();
    }

    /**
     * A select handler that throws an Error: the select throws it as it is, the clause has taken
     * effect (one item received, not two, none lost), and the channel serves on.
     */
    @Test
    void aSelectHandlerThatThrowsAnErrorTookItsItem_andTheChannelServesOn() throws Exception {
        AssertionError fromHandler = new AssertionError("handler failed");
        List<Object> got = runTask(Duration.ofSeconds(10), () -> {
            io.coro4j.channel.Channel<Integer> ch = io.coro4j.channel.Channel.bounded(4);
            ch.send(1);
            ch.send(2);
            List<Object> out = new ArrayList<>();
            try {
                io.coro4j.channel.Select.select(ch.onReceive(i -> {
                    throw fromHandler;
                }));
            } catch (Throwable e) {
                out.add(e);
            }
            out.add(ch.receive());
            ch.send(3);
            out.add(io.coro4j.channel.Select.select(ch.onReceive(i -> "got " + i)));
            return out;
        });
        assertThat(got).containsExactly(fromHandler, 2, "got 3");
        assertTheSchedulerGoesOn();
    }

    private static int recurse(int n) {
        return recurse(n + 1) + 1;
    }

    /** A real StackOverflowError in a Coro.blocking body comes out of the call as it is; the task goes on. */
    @Test
    void aStackOverflowInABlockingBodyComesOutAsItIs_andTheTaskGoesOn() throws Exception {
        List<Object> got = runTask(Duration.ofSeconds(10), () -> {
            List<Object> out = new ArrayList<>();
            try {
                Coro.blocking(() -> recurse(0));
            } catch (Throwable e) {
                out.add(e.getClass());
            }
            Coro.sleep(Duration.ofMillis(1));
            out.add(Coro.blocking(() -> "after"));
            return out;
        });
        assertThat(got).containsExactly(StackOverflowError.class, "after");
        assertTheSchedulerGoesOn();
    }

    /**
     * Closing a generator that delegates to a sub-generator whose finally throws an Error: as
     * Python's close, the sub-generator's failure comes out at the delegating yieldFrom, the outer
     * finally runs, and close throws it as it is; both generators are finished.
     */
    @Test
    void closingADelegatingGeneratorWhoseSubGeneratorsFinallyThrowsAnError_throwsItAfterTheOuterFinally() {
        AssertionError fromSub = new AssertionError("sub finally failed");
        List<String> log = new ArrayList<>();
        io.coro4j.Generator<String, Object, Void> sub = io.coro4j.Generator.of(scheduler, co -> {
            try {
                co.yield("in sub");
            } finally {
                log.add("sub finally");
                throw fromSub;
            }
        });
        io.coro4j.Generator<String, Object, Void> outer = io.coro4j.Generator.of(scheduler, co -> {
            try {
                co.yieldFrom(sub);
            } catch (Throwable e) {
                log.add("outer caught " + (e == fromSub));
                throw e;
            } finally {
                log.add("outer finally");
            }
            return null;
        });
        outer.next();
        assertThatThrownBy(outer::close).isSameAs(fromSub);
        assertThat(log).containsExactly("sub finally", "outer caught true", "outer finally");
        assertThat(sub.isDone()).isTrue();
        assertThat(outer.isDone()).isTrue();
    }

    /**
     * A task group whose body throws an Error while a child sleeps: the child is cancelled and
     * waited for, and the failure its finally throws while it unwinds is suppressed on the body's
     * Error, which the group throws as it is; the task running the group then runs on.
     */
    @Test
    void aGroupBodysErrorIsThrownAsItIs_withTheFailureOfAChildsFinallySuppressed() throws Exception {
        AssertionError fromBody = new AssertionError("body failed");
        IllegalStateException fromFinally = new IllegalStateException("child finally failed");
        List<Object> got = runTask(Duration.ofSeconds(10), () -> {
            List<Object> out = new ArrayList<>();
            try {
                Coro.taskGroup(g -> {
                    g.spawn(() -> {
                        try {
                            Coro.sleep(Duration.ofDays(1));
                        } finally {
                            throw fromFinally;
                        }
                    });
                    until("the child sleeps", () -> scheduler.stats().parkedFibers() > 0);
                    throw fromBody;
                });
            } catch (Throwable e) {
                out.add(e);
                out.add(List.of(e.getSuppressed()));
            }
            out.add(Coro.spawn(() -> "after").join());
            return out;
        });
        assertThat(got).containsExactly(fromBody, List.of(fromFinally), "after");
        assertTheSchedulerGoesOn();
    }
}
