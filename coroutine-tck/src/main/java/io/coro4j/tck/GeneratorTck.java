package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.GeneratorExit;
import io.coro4j.Schedulers;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.TimeoutExceededException;
import io.coro4j.Yielder;
import io.coro4j.channel.Event;
import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Generators with Python's semantics (PEP 342/380), the same on every scheduler. Each test is
 * named for the rule it checks.
 */
public abstract class GeneratorTck extends SchedulerTck {

    private <Y, S, R> Generator<Y, S, R> gen(Generator.Body<Y, S, R> body) {
        return Generator.of(scheduler, body);
    }

    @Test
    void firstNextRunsToTheFirstYieldAndNothingRunsBefore() {
        List<String> log = new ArrayList<>();
        Generator<String, Object, Void> g = gen(co -> {
            log.add("start");
            co.yield("a");
            log.add("after a");
            return null;
        });
        assertThat(log).isEmpty();
        assertThat(g.isSuspended()).isFalse();
        assertThat(g.next()).isEqualTo(new Step.Yielded<>("a"));
        assertThat(log).containsExactly("start");
        assertThat(g.isSuspended()).isTrue();
    }

    /**
     * {@link Generator#isSuspended()} is whether the body is paused at a yield: false before it
     * starts, while it runs (also after its first yield, as Python's {@code GEN_RUNNING} is not
     * {@code GEN_SUSPENDED}) and once it has finished.
     */
    @Test
    void isSuspendedOnlyWhileTheBodyIsPausedAtAYield_notWhileItRuns() {
        AtomicReference<Generator<String, Object, Void>> self = new AtomicReference<>();
        List<String> seenInside = new ArrayList<>();
        Generator<String, Object, Void> g = gen(co -> {
            seenInside.add("before the first yield: suspended=" + self.get().isSuspended());
            co.yield("a");
            seenInside.add("after the first yield: suspended=" + self.get().isSuspended()
                    + ", done=" + self.get().isDone());
            return null;
        });
        self.set(g);
        assertThat(g.isSuspended()).isFalse();
        g.next();
        assertThat(g.isSuspended()).isTrue();
        g.next();
        assertThat(g.isSuspended()).isFalse();
        assertThat(seenInside).containsExactly("before the first yield: suspended=false",
                "after the first yield: suspended=false, done=false");
        assertThat(g.toString()).startsWith("Generator[done,");
    }

    @Test
    void sendResumesTheYieldWithTheValueAndTheReturnValueIsReadable() {
        Generator<Integer, Integer, Integer> summer = gen(co -> {
            int sum = 0;
            Integer x;
            while ((x = co.yield(sum)) != null) {
                sum += x;
            }
            return sum * 10;
        });
        assertThat(summer.next().value()).isZero();
        assertThat(summer.send(3).value()).isEqualTo(3);
        assertThat(summer.send(4).value()).isEqualTo(7);
        Step<Integer, Integer> end = summer.next();
        assertThat(end).isEqualTo(new Step.Returned<>(70));
        assertThat(end.isDone()).isTrue();
        assertThat(end.returnValue()).isEqualTo(70);
        assertThat(summer.isDone()).isTrue();
        assertThat(summer.returnValue()).isEqualTo(70);
    }

    @Test
    void theSeedExampleReceivesSeven() {
        List<String> out = new ArrayList<>();
        Generator<Void, Integer, Void> coroutine = gen(co -> {
            out.add("Start of coroutine");
            Integer x = co.yield(null);
            out.add("Coroutine received: " + x);
            return null;
        });
        coroutine.next();
        Step<Void, Void> end = coroutine.send(7);
        assertThat(out).containsExactly("Start of coroutine", "Coroutine received: 7");
        assertThat(end).isEqualTo(new Step.Returned<>(null));
    }

    /** A null body, scheduler, exception or sub-generator is refused with a NullPointerException naming it. */
    @Test
    void nullArgumentsAreRejectedNamingTheParameter() {
        assertThatThrownBy(() -> Generator.of(scheduler, null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("body");
        assertThatThrownBy(() -> Generator.of((Generator.Body<Object, Object, Object>) null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("body");
        Generator<Integer, Object, Void> g = gen(co -> {
            co.yield(1);
            return null;
        });
        assertThatThrownBy(() -> g.throwInto(null)).isExactlyInstanceOf(NullPointerException.class)
                .hasMessage("exception");
        assertThat(g.isDone()).as("refused before it started the body").isFalse();
        assertThat(g.next()).isEqualTo(new Step.Yielded<>(1));
        Generator<Object, Object, Object> delegating = gen(co -> co.yieldFrom(null));
        assertThatThrownBy(delegating::next).isExactlyInstanceOf(NullPointerException.class).hasMessage("sub");
    }

    @Test
    void sendOfNonNullBeforeFirstNextIsRejectedAndTheBodyDoesNotRun() {
        List<String> log = new ArrayList<>();
        Generator<String, String, Void> g = gen(co -> {
            log.add("ran");
            co.yield("x");
            return null;
        });
        assertThatThrownBy(() -> g.send("too early"))
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("can't send a non-null value to a just-started generator:"
                        + " call next() (or send(null)) first to run it to its first yield");
        assertThat(log).isEmpty();
        assertThat(g.send(null).value()).isEqualTo("x");
    }

    @Test
    void resumingAFinishedGeneratorReturnsTheSameReturnedStepAgain() {
        Generator<String, Object, String> g = gen(co -> "done");
        assertThat(g.next()).isEqualTo(new Step.Returned<>("done"));
        assertThat(g.next()).isEqualTo(new Step.Returned<>("done"));
        assertThat(g.send("ignored")).isEqualTo(new Step.Returned<>("done"));
    }

    /**
     * {@link Generator#returnValue()} of a generator that has not returned: not finished (not
     * started, or paused), closed (GeneratorExit the cause) or failed (the failure the cause).
     */
    @Test
    void returnValueOfAGeneratorThatDidNotReturnSaysWhy() {
        Generator<String, Object, String> g = gen(co -> {
            co.yield("a");
            return "r";
        });
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator has not finished: resume it until a step isDone()");
        g.next();
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator has not finished: resume it until a step isDone()");
        g.close();
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator returned no value: it was closed").hasCauseExactlyInstanceOf(GeneratorExit.class);
        IllegalStateException boom = new IllegalStateException("boom");
        Generator<String, Object, String> failed = gen(co -> {
            co.yield("a");
            return "r";
        });
        failed.next();
        assertThatThrownBy(() -> failed.throwInto(boom)).isSameAs(boom);
        assertThatThrownBy(failed::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator failed and returned no value").hasCause(boom);
    }

    @Test
    void stepAccessorsSayWhatWasWrong() {
        Step<String, String> yielded = new Step.Yielded<>("v");
        Step<String, String> returned = new Step.Returned<>("r");
        assertThatThrownBy(yielded::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("the generator yielded a value and has not finished; check isDone() or read value()");
        assertThatThrownBy(returned::value).isExactlyInstanceOf(java.util.NoSuchElementException.class)
                .hasMessage("the generator has finished and yielded nothing; check isDone() or read returnValue()");
    }

    @Test
    void throwIntoRaisesAtThePausedYieldAndTheBodyMayHandleIt() {
        Generator<String, Object, String> g = gen(co -> {
            try {
                co.yield("first");
            } catch (IllegalArgumentException e) {
                co.yield("handled " + e.getMessage());
            }
            return "end";
        });
        g.next();
        assertThat(g.throwInto(new IllegalArgumentException("boom")).value()).isEqualTo("handled boom");
        assertThat(g.next().returnValue()).isEqualTo("end");
    }

    @Test
    void throwIntoAnExceptionTheBodyDoesNotCatchPropagatesTheSameInstanceAndFinishesTheGenerator() {
        assertThrownInPropagatesAsItselfAfterTheFinallyRanOnce(new IllegalStateException("boom"));
    }

    /**
     * Throws {@code thrown} into a generator paused in a try/finally that does not catch it: it
     * comes out of throwInto as the same instance, after the finally ran once, and the generator
     * stays finished (a later next or close runs nothing) and says why it returned nothing.
     */
    private void assertThrownInPropagatesAsItselfAfterTheFinallyRanOnce(Throwable thrown) {
        List<String> log = new ArrayList<>();
        Generator<String, Object, String> g = gen(co -> {
            try {
                co.yield("first");
                return "unreachable";
            } finally {
                log.add("finally");
            }
        });
        g.next();
        assertThatThrownBy(() -> g.throwInto(thrown)).isSameAs(thrown);
        assertThat(log).containsExactly("finally");
        assertThat(g.isDone()).isTrue();
        assertThat(g.next()).isEqualTo(new Step.Returned<>(null));
        g.close();
        assertThat(log).containsExactly("finally");
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator failed and returned no value").hasCause(thrown);
    }

    @Test
    void throwIntoACheckedExceptionCanBeCaughtInTheBodyAsItself() {
        Generator<String, Object, String> g = gen(co -> {
            try {
                co.yield("first");
                return "no";
            } catch (Exception e) { // javac cannot see a checked exception thrown in: catch it as Exception
                assertThat(e).isExactlyInstanceOf(IOException.class);
                return "caught " + e.getMessage();
            }
        });
        g.next();
        assertThat(g.throwInto(new IOException("disk")).returnValue()).isEqualTo("caught disk");
    }

    @Test
    void throwIntoAnUnstartedGeneratorThrowsAtOnceAndTheBodyNeverRuns() {
        List<String> log = new ArrayList<>();
        Generator<String, Object, Void> g = gen(co -> {
            log.add("ran");
            return null;
        });
        IllegalArgumentException e = new IllegalArgumentException("early");
        assertThatThrownBy(() -> g.throwInto(e)).isSameAs(e);
        assertThat(g.isDone()).isTrue();
        assertThat(g.next()).isEqualTo(new Step.Returned<>(null));
        assertThat(log).isEmpty();
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator returned no value: it was closed or thrown into before it started");
    }

    @Test
    void throwIntoAFinishedGeneratorThrowsAtOnceAndKeepsItsReturnValue() {
        Generator<String, Object, String> g = gen(co -> "done");
        assertThat(g.next()).isEqualTo(new Step.Returned<>("done"));
        IllegalArgumentException late = new IllegalArgumentException("late");
        assertThatThrownBy(() -> g.throwInto(late)).isSameAs(late);
        IOException io = new IOException("checked");
        assertThatThrownBy(() -> g.throwInto(io)).isExactlyInstanceOf(CompletionException.class).hasCause(io);
        assertThat(g.isDone()).isTrue();
        assertThat(g.returnValue()).isEqualTo("done");
        assertThat(g.next()).isEqualTo(new Step.Returned<>("done"));
    }

    /**
     * An {@link Error} is no different: one thrown in at a yield (a simulated
     * {@link OutOfMemoryError}) that the body does not catch comes out of {@code throwInto} as the
     * same instance, after the body's finally ran once; one the body throws at its first step (a
     * {@link StackOverflowError}) comes out of that {@code next}; either way the generator stays
     * finished and says why it returned nothing.
     */
    @Test
    void anErrorThrownInOrThrownByTheBodyAtItsFirstStepPropagatesAsItIsAndFinishesTheGenerator() {
        OutOfMemoryError oom = new OutOfMemoryError("simulated");
        assertThrownInPropagatesAsItselfAfterTheFinallyRanOnce(oom);

        StackOverflowError overflow = new StackOverflowError("simulated");
        Generator<String, Object, String> first = gen(co -> {
            throw overflow;
        });
        assertThatThrownBy(first::next).isSameAs(overflow);
        assertThat(first.isDone()).isTrue();
        assertThat(first.next()).isEqualTo(new Step.Returned<>(null));
        assertThatThrownBy(() -> first.throwInto(oom)).isSameAs(oom);
        assertThatThrownBy(first::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator failed and returned no value").hasCause(overflow);
    }

    @Test
    void aCheckedExceptionEscapingTheBodyIsWrappedInCompletionException() {
        IOException io = new IOException("no disk");
        Generator<String, Object, Void> g = gen(co -> {
            co.yield("a");
            throw io;
        });
        g.next();
        assertThatThrownBy(g::next).isExactlyInstanceOf(CompletionException.class).hasCause(io);
        assertThat(g.isDone()).isTrue();
    }

    @Test
    void anExceptionThrownAfterAYieldKeepsItsStackTrace() {
        Generator<String, Object, Void> g = gen(co -> {
            co.yield("a");
            failInAHelper();
            return null;
        });
        g.next();
        Throwable thrown = null;
        try {
            g.next();
        } catch (IllegalStateException e) {
            thrown = e;
        }
        assertThat(thrown).isNotNull().hasMessage("thrown after the yield");
        List<String> methods = Stream.of(thrown.getStackTrace()).map(StackTraceElement::getMethodName).toList();
        assertThat(methods.get(0)).isEqualTo("failInAHelper");
        assertThat(methods).anyMatch(m -> m.startsWith("lambda$anExceptionThrownAfterAYieldKeepsItsStackTrace"));
    }

    private static void failInAHelper() {
        throw new IllegalStateException("thrown after the yield");
    }

    @Test
    void closeRaisesGeneratorExitAtTheYieldSoFinallyBlocksRun() {
        List<String> log = new ArrayList<>();
        AtomicReference<Throwable> seen = new AtomicReference<>();
        Generator<String, Object, Void> g = gen(co -> {
            try {
                co.yield("a");
                log.add("not here");
            } catch (Throwable t) {
                seen.set(t);
                throw t;
            } finally {
                log.add("finally");
            }
            return null;
        });
        g.next();
        g.close();
        assertThat(log).containsExactly("finally");
        assertThat(seen.get()).isExactlyInstanceOf(GeneratorExit.class).hasMessage("generator closed");
        assertThat(g.isDone()).isTrue();
        g.close(); // idempotent
        assertThat(g.next()).isEqualTo(new Step.Returned<>(null));
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator returned no value: it was closed").hasCauseInstanceOf(GeneratorExit.class);
    }

    @Test
    void closeOfAnUnstartedGeneratorFinishesItWithoutRunningTheBody() {
        List<String> log = new ArrayList<>();
        Generator<String, Object, Void> g = gen(co -> {
            log.add("ran");
            return null;
        });
        g.close();
        assertThat(g.isDone()).isTrue();
        assertThat(g.next()).isEqualTo(new Step.Returned<>(null));
        assertThat(log).isEmpty();
        assertThatThrownBy(g::returnValue).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator returned no value: it was closed or thrown into before it started");
    }

    @Test
    void aBodyThatReturnsOnGeneratorExitClosesCleanly() {
        Generator<String, Object, String> g = gen(co -> {
            try {
                co.yield("a");
            } catch (GeneratorExit e) {
                return "cleaned";
            }
            return "normal";
        });
        g.next();
        g.close();
        assertThat(g.isDone()).isTrue();
    }

    @Test
    void aBodyThatSwallowsCloseAndYieldsAgainIsAnError() {
        Generator<String, Object, Void> g = gen(co -> {
            while (true) {
                try {
                    co.yield("again");
                } catch (GeneratorExit ignored) {
                    // the bug under test: swallowing the close signal
                }
            }
        });
        g.next();
        assertThatThrownBy(g::close)
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator ignored close(): it yielded a value after GeneratorExit was raised at"
                        + " its yield; let GeneratorExit propagate (clean up in finally) or return");
        assertThat(g.isSuspended()).isTrue();
        // Cleanup for the leak check: let an Error the body does not catch end it.
        AssertionError end = new AssertionError("end");
        assertThatThrownBy(() -> g.throwInto(end)).isSameAs(end);
    }

    @Test
    void closeRethrowsAnotherExceptionRaisedByTheBodyWhileClosing() {
        Generator<String, Object, Void> g = gen(co -> {
            try {
                co.yield("a");
            } finally {
                throw new IllegalArgumentException("cleanup failed");
            }
        });
        g.next();
        assertThatThrownBy(g::close).isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("cleanup failed");
        assertThat(g.isDone()).isTrue();
    }

    /**
     * A resource of try-with-resources that fails to close while GeneratorExit unwinds the body is
     * a failure the body raised while closing, as a failing finally block is: close() throws it
     * (Python: a {@code with} block's failing {@code __exit__} propagates from {@code close()}),
     * rather than losing it as a suppressed exception of the close signal. Of several, the first to
     * fail (the innermost resource) is thrown, with the others suppressed on it, as
     * try-with-resources would have it.
     */
    @Test
    void aResourceThatFailsToCloseWhileTheGeneratorClosesIsNotLost() {
        IllegalStateException innerFailed = new IllegalStateException("inner resource close failed");
        IllegalStateException outerFailed = new IllegalStateException("outer resource close failed");
        Generator<String, Object, Void> g = gen(co -> {
            try (AutoCloseable outerResource = () -> { throw outerFailed; };
                 AutoCloseable innerResource = () -> { throw innerFailed; }) {
                co.yield("a");
            }
            return null;
        });
        g.next();
        assertThatThrownBy(g::close).isSameAs(innerFailed);
        assertThat(innerFailed.getSuppressed()).containsExactly(outerFailed);
        assertThat(g.isDone()).isTrue();

        IOException checked = new IOException("resource close failed");
        Generator<String, Object, Void> sub = gen(co -> {
            try (AutoCloseable r = () -> { throw checked; }) {
                co.yield("in sub");
            }
            return null;
        });
        Generator<String, Object, Void> outer = gen(co -> {
            co.yieldFrom(sub);
            return null;
        });
        outer.next();
        assertThatThrownBy(outer::close).isExactlyInstanceOf(CompletionException.class).hasCause(checked);
        assertThat(sub.isDone()).isTrue();
        assertThat(outer.isDone()).isTrue();
    }

    @Test
    void yieldFromDelegatesValuesSendsAndTheReturnValue() {
        Generator<String, String, Integer> sub = gen(co -> {
            String a = co.yield("sub-1");
            String b = co.yield("sub-2 got " + a);
            return (a + b).length();
        });
        Generator<String, String, String> outer = gen(co -> {
            co.yield("outer-1");
            int n = co.yieldFrom(sub);
            co.yield("sub returned " + n);
            return "outer done";
        });
        assertThat(outer.next().value()).isEqualTo("outer-1");
        assertThat(outer.next().value()).isEqualTo("sub-1");
        assertThat(outer.send("xy").value()).isEqualTo("sub-2 got xy");
        assertThat(outer.send("zzz").value()).isEqualTo("sub returned 5");
        assertThat(outer.next().returnValue()).isEqualTo("outer done");
        assertThat(sub.isDone()).isTrue();
    }

    @Test
    void yieldFromForwardsThrowIntoTheSubGenerator() {
        Generator<String, Object, String> sub = gen(co -> {
            try {
                co.yield("in sub");
            } catch (Exception e) {
                assertThat(e).isExactlyInstanceOf(IOException.class);
                return "sub caught " + e.getMessage();
            }
            return "sub normal";
        });
        Generator<String, Object, String> outer = gen(co -> co.yieldFrom(sub) + " / outer");
        outer.next();
        assertThat(outer.throwInto(new IOException("io")).returnValue()).isEqualTo("sub caught io / outer");
    }

    @Test
    void yieldFromPropagatesAnExceptionTheSubGeneratorDoesNotHandle() {
        Generator<String, Object, String> sub = gen(co -> {
            co.yield("in sub");
            return "never";
        });
        List<String> log = new ArrayList<>();
        Generator<String, Object, String> outer = gen(co -> {
            try {
                return co.yieldFrom(sub);
            } catch (Exception e) {
                assertThat(e).isExactlyInstanceOf(IOException.class);
                log.add("outer caught " + e.getMessage());
                return "recovered";
            }
        });
        outer.next();
        assertThat(outer.throwInto(new IOException("io")).returnValue()).isEqualTo("recovered");
        assertThat(log).containsExactly("outer caught io");
        assertThat(sub.isDone()).isTrue();
    }

    @Test
    void aDelegatingBodyThatCannotYieldGetsTheFailure_nothingIsThrownIntoTheSubGenerator() throws Exception {
        // Where the body can wait there (loom), the sub-generator's thread needs a carrier of its own.
        assumeTrue(aPinnedWaitLeavesAnotherCarrier(), PINNED_WAIT_NEEDS_ANOTHER_CARRIER);
        // The sub-generator handles whatever is thrown in at its yield and yields again, 3 times at
        // most (unbounded, a yieldFrom that forwarded its own failed suspensions would loop for ever).
        List<String> thrownIntoSub = new CopyOnWriteArrayList<>();
        Generator<String, Object, String> sub = gen(co -> {
            for (int i = 0; i < 3; i++) {
                try {
                    co.yield("s");
                    return "sub returned";
                } catch (RuntimeException e) {
                    thrownIntoSub.add(e.getMessage());
                }
            }
            return "sub gave up";
        });
        AtomicReference<Object> outcome = new AtomicReference<>();
        Generator<String, Object, Object> g = gen(co -> {
            ClassInitializers.run(() -> {
                try {
                    outcome.set(co.yieldFrom(sub));
                } catch (IllegalStateException e) {
                    outcome.set(e);
                }
            });
            return outcome.get();
        });
        Step<String, Object> first = g.next();
        if (first instanceof Step.Yielded<String, Object> y) { // the scheduler can yield there (loom)
            assertThat(y.value()).isEqualTo("s");
            assertThat(g.next()).isEqualTo(new Step.Returned<>("sub returned"));
        } else { // threadpool: a continuation cannot yield under the native frame of a class initializer
            assertThat(first.returnValue()).isInstanceOf(IllegalStateException.class)
                    .asString().contains("generator cannot yield here");
            assertThat(sub.isSuspended()).isTrue(); // at its first yield, where its value was lost
            sub.close();
        }
        assertThat(thrownIntoSub).isEmpty();
    }

    /**
     * Outside any task a body reads and sets the {@link CoroutineLocal} values of the thread that
     * resumes it, also once its code is compiled and two threads resume it in turn: the JIT keeps
     * {@code Thread.currentThread()} within a compiled method, so a thread-local read inlined into
     * the body would go on seeing the thread that ran it before (a threadpool body runs on its
     * resumer's thread). 1,000 generators of 60 steps each, alternately from two threads.
     */
    @Test
    void aBodyOutsideAnyTaskUsesTheCoroutineLocalValuesOfEachResumerAlsoOnceCompiled() throws Exception {
        CoroutineLocal<String> who = new CoroutineLocal<>("who");
        CoroutineLocal<Integer> steps = new CoroutineLocal<>("steps");
        java.util.concurrent.ExecutorService a = java.util.concurrent.Executors.newSingleThreadExecutor();
        java.util.concurrent.ExecutorService b = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            a.submit(() -> who.set("a")).get();
            b.submit(() -> who.set("b")).get();
            int wrong = 0;
            for (int n = 0; n < 1_000; n++) {
                Generator<String, Object, Void> g = gen(co -> {
                    while (true) {
                        String seen = who.get();
                        Integer before = steps.get();
                        steps.set(before == null ? 1 : before + 1); // the resumer's count, on its thread
                        co.yield(seen);
                    }
                });
                for (int i = 0; i < 60; i++) {
                    java.util.concurrent.ExecutorService on = i % 2 == 0 ? a : b;
                    if (!(i % 2 == 0 ? "a" : "b").equals(on.submit(() -> g.next().value()).get(5, TimeUnit.SECONDS))) {
                        wrong++;
                    }
                }
                g.close();
            }
            assertThat(wrong).as("steps where the body read another thread's value").isZero();
            assertThat(a.submit(steps::get).get()).isEqualTo(30_000);
            assertThat(b.submit(steps::get).get()).isEqualTo(30_000);
        } finally {
            a.shutdownNow();
            b.shutdownNow();
        }
    }

    /**
     * A body that yields inside {@code synchronized} (JDK 24+) and is then resumed by another thread
     * leaves the monitor free once it has left the block: a third thread takes it. The monitor is
     * one that threads had contended for before (the JVM then keeps it as an owned object monitor,
     * not on the owner's lock stack). Skipped where such a monitor is the thread's
     * ({@link #monitorsHeldWhileSuspendedAreTheThreads}).
     */
    @Test
    void aBodyResumedOnAnotherThreadInsideSynchronizedLeavesTheMonitorFreeOnceOut() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "yielding holding a monitor needs JDK 24+");
        assumeTrue(!monitorsHeldWhileSuspendedAreTheThreads(), MONITORS_ARE_THE_THREADS);
        Object lock = ContendedMonitors.create();
        Generator<Integer, Object, String> g = gen(co -> {
            synchronized (lock) {
                co.yield(1);
                co.yield(2);
            }
            return "out";
        });
        assertThat(g.next()).isEqualTo(new Step.Yielded<>(1)); // entered on this thread
        AtomicReference<Object> steps = new AtomicReference<>();
        Thread other = new Thread(() -> steps.set(List.of(g.next(), g.next())), "other-resumer");
        other.start();
        other.join(5_000);
        assertThat(steps.get()).isEqualTo(List.of(new Step.Yielded<>(2), new Step.Returned<>("out")));
        assertThat(Thread.holdsLock(lock)).isFalse();
        assertThat(takeWithin(lock, Duration.ofSeconds(5))).as("a third thread takes the monitor").isTrue();
    }

    /** Whether a thread other than the caller takes {@code lock} within {@code d}; it waits on (a daemon) otherwise. */
    private static boolean takeWithin(Object lock, Duration d) throws InterruptedException {
        CountDownLatch took = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            synchronized (lock) {
                took.countDown();
            }
        }, "monitor-taker");
        t.setDaemon(true);
        t.start();
        return took.await(d.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * A body that yields where it cannot (threadpool: in a class initializer it runs) is told so
     * and what to do about it; not to replace a synchronized block that it is not in (the advice
     * for the other reason, a monitor held, on JDK 21 to 23).
     */
    @Test
    void aYieldRefusedInAClassInitializerSaysSoAndWhatToDo() throws Exception {
        Generator<String, Object, Object> g = gen(co -> {
            AtomicReference<Object> outcome = new AtomicReference<>("returned");
            ClassInitializers.run(() -> {
                try {
                    co.yield("in the initializer");
                } catch (IllegalStateException e) {
                    outcome.set(e);
                }
            });
            return outcome.get();
        });
        Step<String, Object> first = g.next();
        if (first instanceof Step.Yielded<String, Object>) { // the scheduler can yield there (loom)
            assertThat(g.next().returnValue()).isEqualTo("returned");
        } else {
            assertThat(first.returnValue()).isInstanceOf(IllegalStateException.class).asString()
                    .contains("generator cannot yield here (").contains("class initializer").doesNotContain("synchronized");
        }
    }

    @Test
    void closingTheDelegatingGeneratorClosesTheSubGenerator() {
        List<String> log = new CopyOnWriteArrayList<>();
        Generator<String, Object, Void> sub = gen(co -> {
            try {
                co.yield("in sub");
            } finally {
                log.add("sub finally");
            }
            return null;
        });
        Generator<String, Object, Void> outer = gen(co -> {
            try {
                co.yieldFrom(sub);
            } finally {
                log.add("outer finally");
            }
            return null;
        });
        outer.next();
        outer.close();
        assertThat(log).containsExactly("sub finally", "outer finally");
        assertThat(sub.isDone()).isTrue();
        assertThat(outer.isDone()).isTrue();
    }

    @Test
    void aGeneratorIsIterableAndAStreamSource() {
        Generator<Integer, Object, String> g = gen(co -> {
            for (int i = 1; i <= 5; i++) {
                co.yield(i);
            }
            return "five";
        });
        List<Integer> seen = new ArrayList<>();
        for (int i : g) {
            seen.add(i);
        }
        assertThat(seen).containsExactly(1, 2, 3, 4, 5);
        assertThat(g.returnValue()).isEqualTo("five");

        Generator<Integer, Object, Void> squares = gen(co -> {
            for (int i = 1; ; i++) {
                co.yield(i * i);
            }
        });
        List<Integer> first = squares.stream().limit(4).collect(Collectors.toList());
        assertThat(first).containsExactly(1, 4, 9, 16);
        squares.close();
        assertThat(squares.isDone()).isTrue();
    }

    @Test
    void closingTheStreamClosesTheGenerator() {
        List<String> log = new ArrayList<>();
        Generator<Integer, Object, Void> g = gen(co -> {
            try {
                for (int i = 0; ; i++) {
                    co.yield(i);
                }
            } finally {
                log.add("finally");
            }
        });
        try (Stream<Integer> s = g.stream()) {
            assertThat(s.skip(2).findFirst()).contains(2);
        }
        assertThat(log).containsExactly("finally");
        assertThat(g.isDone()).isTrue();
    }

    @Test
    void iteratorNextAfterTheEndThrowsNoSuchElement() {
        Generator<Integer, Object, Void> g = gen(co -> {
            co.yield(1);
            return null;
        });
        var it = g.iterator();
        assertThat(it.next()).isEqualTo(1);
        assertThat(it.hasNext()).isFalse();
        assertThatThrownBy(it::next).isExactlyInstanceOf(java.util.NoSuchElementException.class)
                .hasMessage("generator has finished");
    }

    @Test
    void resumingAGeneratorFromInsideItsOwnBodyIsRejected() {
        AtomicReference<Generator<String, Object, Void>> self = new AtomicReference<>();
        Generator<String, Object, Void> g = gen(co -> {
            self.get().next();
            return null;
        });
        self.set(g);
        assertThatThrownBy(g::next)
                .isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator is already running: its own body cannot resume it"
                        + " (next/send/throwInto/close called from inside the generator)");
        assertThat(g.isDone()).isTrue();
    }

    /** What resuming a running generator inside a task is refused with. */
    private static final String RUNNING_IN_A_TASK = "generator is already running (another task or thread is resuming it,"
            + " or this task is, further up its stack): resume a generator from one place at a time, and not from"
            + " code it runs (a generator its body steps, say)";

    /**
     * A generator resumed by a generator that its own body steps (here: it delegates to one that
     * resumes it) is refused, and the message says so: not that another thread resumes it (the
     * thread named is the caller's own) or that only another task or thread could.
     */
    @Test
    void resumingAGeneratorFromAGeneratorItsBodyStepsIsRejectedSayingSo() throws Exception {
        AtomicReference<Generator<String, Object, Object>> outer = new AtomicReference<>();
        Generator<String, Object, Object> inner = gen(co -> outer.get().next());
        outer.set(gen(co -> co.yieldFrom(inner)));
        String me = Thread.currentThread().getName();
        // Bodies on this thread (a continuation) show it further up its stack; bodies on threads of
        // their own (loom) are resumed by this thread, which waits for the body.
        String by = threadOfABody() == Thread.currentThread() ? "this thread, \"" + me + "\", further up its stack"
                : "thread \"" + me + "\"";
        assertThatThrownBy(() -> outer.get().next()).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("generator is already running (resumed by " + by + "): resume a generator from one place"
                        + " at a time, and not from code it runs (a generator its body steps, say)");
        Object inATask = runTask(() -> {
            AtomicReference<Generator<String, Object, Object>> o = new AtomicReference<>();
            Generator<String, Object, Object> i = gen(co -> o.get().next());
            o.set(gen(co -> co.yieldFrom(i)));
            try {
                return o.get().next();
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        assertThat(inATask).isEqualTo(RUNNING_IN_A_TASK);
    }

    /** The thread a generator body stepped from this thread runs on: this one, or one of its own. */
    private Thread threadOfABody() {
        Generator<Thread, Object, Void> g = gen(co -> {
            co.yield(Thread.currentThread());
            return null;
        });
        Thread t = g.next().value();
        g.close();
        return t;
    }

    @Test
    void resumingAGeneratorFromTwoThreadsAtOnceIsRejected() throws Exception {
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Generator<String, Object, Void> g = gen(co -> {
            co.yield("first");
            inBody.countDown();
            release.await();
            co.yield("second");
            return null;
        });
        g.next();
        Thread first = new Thread(g::next, "first-resumer");
        first.start();
        assertThat(inBody.await(30, TimeUnit.SECONDS)).isTrue();
        try {
            assertThatThrownBy(g::next)
                    .isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("generator is already running (resumed by thread \"")
                    .hasMessageEndingWith("\"): resume a generator from one place at a time, and not from code it"
                            + " runs (a generator its body steps, say)");
        } finally {
            release.countDown();
            first.join(30_000);
        }
        assertThat(first.isAlive()).isFalse();
        assertThat(g.next().isDone()).isTrue();
    }

    @Test
    void yieldOutsideTheGeneratorsBodyIsRejected() {
        AtomicReference<Yielder<String, Object>> leaked = new AtomicReference<>();
        Generator<String, Object, Void> g = gen(co -> {
            leaked.set(co);
            co.yield("a");
            return null;
        });
        g.next();
        String message = "yield called outside the generator's body: a Yielder is valid only inside the body"
                + " it was passed to, while that body runs";
        assertThatThrownBy(() -> leaked.get().yield("from outside"))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);

        // From inside another generator's body, while the yielder's own generator runs and resumes it.
        AtomicReference<Yielder<String, Object>> runningYielder = new AtomicReference<>();
        Generator<String, Object, Void> other = gen(co -> {
            runningYielder.get().yield("from the wrong body");
            return null;
        });
        Generator<String, Object, Void> resumesOther = gen(co -> {
            runningYielder.set(co);
            other.next();
            return null;
        });
        assertThatThrownBy(resumesOther::next).isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);
        assertThat(g.next().isDone()).isTrue();
        assertThatThrownBy(() -> leaked.get().yield("after the end"))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage(message);
    }

    @Test
    void aGeneratorMayBeResumedFromDifferentThreadsOneAtATime() throws Exception {
        Generator<Integer, Integer, Integer> acc = gen(co -> {
            int sum = 0;
            Integer x;
            while ((x = co.yield(sum)) != null) {
                sum += x;
            }
            return sum;
        });
        acc.next();
        for (int i = 1; i <= 20; i++) {
            int v = i;
            CompletableFuture<Integer> f = CompletableFuture.supplyAsync(() -> acc.send(v).value(),
                    r -> new Thread(r, "resumer").start());
            assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(i * (i + 1) / 2);
        }
        assertThat(acc.next().returnValue()).isEqualTo(210);
    }

    /**
     * A generator handed back and forth between two platform threads, many times: its body
     * continues on whichever thread resumes it. Run under C2 this catches a compiled body that
     * keeps using the thread it ran on before (see the threadpool scheduler's notes on the JIT).
     */
    @Test
    void aGeneratorBouncedBetweenTwoThreadsKeepsItsStateAndChecks() throws Exception {
        int rounds = Stress.scaled(100_000);
        Generator<Long, Long, Long> counter = gen(co -> {
            long n = 0;
            Long in;
            while ((in = co.yield(n)) != null) {
                n += in;
            }
            return n;
        });
        counter.next();
        java.util.concurrent.SynchronousQueue<Long> toA = new java.util.concurrent.SynchronousQueue<>();
        java.util.concurrent.SynchronousQueue<Long> toB = new java.util.concurrent.SynchronousQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread a = new Thread(() -> bounce(counter, toA, toB, rounds, true, failure), "bounce-a");
        Thread b = new Thread(() -> bounce(counter, toB, toA, rounds, false, failure), "bounce-b");
        a.start();
        b.start();
        toA.put(0L);
        a.join(120_000);
        b.join(120_000);
        assertThat(failure.get()).isNull();
        assertThat(a.isAlive() || b.isAlive()).as("bouncing threads finished").isFalse();
        assertThat(counter.next().returnValue()).isEqualTo(2L * rounds);
    }

    private static void bounce(Generator<Long, Long, Long> g, java.util.concurrent.SynchronousQueue<Long> in,
                               java.util.concurrent.SynchronousQueue<Long> out, int rounds, boolean handOnLast,
                               AtomicReference<Throwable> failure) {
        try {
            for (int i = 0; i < rounds; i++) {
                Long expected = in.poll(60, TimeUnit.SECONDS);
                if (expected == null) {
                    throw new AssertionError("hand-over timed out");
                }
                long got = g.send(1L).value();
                if (got != expected + 1) {
                    throw new AssertionError("expected " + (expected + 1) + " but the generator yielded " + got);
                }
                if ((handOnLast || i < rounds - 1) && !out.offer(got, 60, TimeUnit.SECONDS)) {
                    throw new AssertionError("hand-over timed out");
                }
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    @Test
    void generatorsRunInsideFibers() throws Exception {
        List<Integer> result = inFiber(() -> {
            Generator<Integer, Object, Void> g = Generator.of(co -> {
                for (int i = 0; i < 3; i++) {
                    co.yield(i);
                }
                return null;
            });
            assertThat(g.scheduler()).isSameAs(scheduler);
            List<Integer> seen = new ArrayList<>();
            g.forEach(seen::add);
            return seen;
        });
        assertThat(result).containsExactly(0, 1, 2);
    }

    /**
     * A {@code ScopedValue} binding a body yields inside stays the body's: its resumer does not see
     * it, and the body still has it when resumed from inside a binding of the resumer's own.
     */
    @Test
    void aBindingTheBodyYieldsInsideIsTheBodysOnly() throws Exception {
        Object key = ScopedValues.newInstance();
        List<Object> seen = inFiber(() -> {
            Generator<Object, Object, Void> g = Generator.of(scheduler, co -> {
                try {
                    ScopedValues.call(key, "body", () -> {
                        co.yield(ScopedValues.valueOf(key));
                        co.yield(ScopedValues.valueOf(key));
                        return null;
                    });
                    co.yield(ScopedValues.valueOf(key));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return null;
            });
            List<Object> log = new ArrayList<>();
            log.add(((Step.Yielded<Object, Void>) g.next()).value());
            log.add(ScopedValues.valueOf(key));
            log.add(ScopedValues.call(key, "resumer", () -> ((Step.Yielded<Object, Void>) g.next()).value()));
            log.add(ScopedValues.valueOf(key));
            log.add(((Step.Yielded<Object, Void>) g.next()).value());
            g.close();
            return log;
        });
        assertThat(seen).containsExactly("body", "unbound", "body", "unbound", "unbound");
    }

    /**
     * A binding the resumer made is not the body's: the body does not see it (on loom the body is
     * a thread of its own, which inherits no bindings), nor, above all, goes on seeing it once the
     * resumer has left it or when another resumer resumes it inside a binding of its own.
     */
    @Test
    void aBindingOfTheResumerIsNotTheBodys() throws Exception {
        Object key = ScopedValues.newInstance();
        List<Object> seen = inFiber(() -> {
            Generator<Object, Object, Void> g = Generator.of(scheduler, co -> {
                while (true) {
                    co.yield(ScopedValues.valueOf(key));
                }
            });
            List<Object> log = new ArrayList<>();
            log.add(ScopedValues.call(key, "first resumer's", () -> ((Step.Yielded<Object, Void>) g.next()).value()));
            log.add(((Step.Yielded<Object, Void>) g.next()).value()); // that binding has ended
            log.add(ScopedValues.call(key, "second resumer's", () -> ((Step.Yielded<Object, Void>) g.next()).value()));
            g.close();
            return log;
        });
        assertThat(seen).containsExactly("unbound", "unbound", "unbound");
    }

    /**
     * A body's interrupt status and context class loader are its own, as a thread's are: what it
     * sets is still set when it is resumed, and its resumer does not see it; it starts with the
     * loader of the code that first resumed it, and not interrupted.
     */
    @Test
    void aBodysInterruptStatusAndContextClassLoaderAreItsOwn() throws Exception {
        ClassLoader bodys = new ClassLoader("tck-body-loader", null) { };
        List<Object> seen = inFiber(() -> {
            ClassLoader resumers = Thread.currentThread().getContextClassLoader();
            Generator<Object, Object, Void> g = Generator.of(scheduler, co -> {
                co.yield(List.of(Thread.currentThread().isInterrupted(),
                        Thread.currentThread().getContextClassLoader() == resumers));
                Thread.currentThread().interrupt();
                Thread.currentThread().setContextClassLoader(bodys);
                co.yield("set");
                co.yield(List.of(Thread.interrupted(), Thread.currentThread().getContextClassLoader().getName()));
                return null;
            });
            Thread.currentThread().interrupt(); // the resumer's own, not the body's
            List<Object> log = new ArrayList<>();
            log.add(((Step.Yielded<Object, Void>) g.next()).value());
            log.add(Thread.interrupted());
            log.add(((Step.Yielded<Object, Void>) g.next()).value());
            log.add(List.of(Thread.currentThread().isInterrupted(),
                    Thread.currentThread().getContextClassLoader() == resumers));
            log.add(((Step.Yielded<Object, Void>) g.next()).value());
            g.close();
            return log;
        });
        assertThat(seen).containsExactly(List.of(false, true), true, "set", List.of(false, true),
                List.of(true, "tck-body-loader"));
    }

    @Test
    void aGeneratorBodyThatParksSuspendsTheWholeFiber() throws Exception {
        // The async-generator mechanism: the body parks its resumer's fiber, another thread wakes it.
        AtomicReference<Fiber> fiber = new AtomicReference<>();
        CountDownLatch parkedOnce = new CountDownLatch(1);
        AtomicReference<Boolean> ready = new AtomicReference<>(false);
        CompletableFuture<List<String>> f = startFiber(scheduler, () -> {
            fiber.set(scheduler.currentFiber());
            Generator<String, Object, Void> g = Generator.of(scheduler, co -> {
                Fiber self = scheduler.currentFiber();
                assertThat(self).isSameAs(fiber.get());
                parkedOnce.countDown();
                parkUntil(self, ready::get);
                co.yield("after park");
                return null;
            });
            List<String> seen = new ArrayList<>();
            g.forEach(seen::add);
            return seen;
        });
        assertThat(parkedOnce.await(30, TimeUnit.SECONDS)).isTrue();
        ready.set(true);
        fiber.get().unpark();
        assertThat(await(f)).containsExactly("after park");
    }

    /**
     * An async generator whose step one task has begun, and whose body awaits in it, is running:
     * another task's {@code next} and {@code close} are refused (Python's "anext(): asynchronous
     * generator is already running"), without touching it; the first task then gets its value,
     * and the values go on in order, none lost or repeated.
     */
    @Test
    void anAsyncGeneratorAwaitingInOneTasksStepIsRefusedToAnotherTask_andLosesNoValue() throws Exception {
        Event go = new Event();
        Generator<Integer, Object, String> g = gen(co -> {
            for (int i = 0; i < 3; i++) {
                go.await();
                go.clear();
                co.yield(i);
            }
            return "end";
        });
        List<Object> seen = runTask(() -> {
            List<Object> log = new ArrayList<>();
            Task<Integer> first = Coro.spawn(() -> g.next().value());
            until("the first task's step awaits in the body", () -> go.queueLength() == 1);
            log.add(Coro.spawn(() -> {
                List<String> refusals = new ArrayList<>();
                for (Runnable r : List.<Runnable>of(g::next, () -> g.send("x"), g::close)) {
                    try {
                        r.run();
                        refusals.add("not refused");
                    } catch (IllegalStateException e) {
                        refusals.add(e.getMessage().equals(RUNNING_IN_A_TASK) ? "refused" : e.getMessage());
                    }
                }
                return refusals;
            }).join());
            log.add(g.isSuspended() || g.isDone());
            go.set();
            log.add(first.join());
            for (int i = 0; i < 2; i++) {
                go.set();
                log.add(Coro.spawn(() -> g.next().value()).join());
            }
            go.set();
            log.add(Coro.spawn(() -> g.next().returnValue()).join());
            return log;
        });
        assertThat(seen).containsExactly(List.of("refused", "refused", "refused"), false, 0, 1, 2, "end");
    }

    /**
     * A timeout around {@code close()} whose body's finally block awaits longer cuts that await
     * short: the close throws {@link TimeoutExceededException}, the finally block ran once (up to
     * its await), and the generator is finished, so a second close is a no-op.
     */
    @Test
    void aTimeoutAroundCloseCutsAnAwaitingFinallyShortAndLeavesTheGeneratorFinished() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        Generator<Integer, Object, Void> g = gen(co -> {
            try {
                co.yield(1);
                return null;
            } finally {
                log.add("finally");
                Coro.sleep(Duration.ofSeconds(30));
                log.add("after the await");
            }
        });
        Throwable thrown = runTask(() -> {
            g.next();
            try {
                Coro.withTimeout(Duration.ofMillis(20), () -> {
                    g.close();
                    return null;
                });
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        assertThat(thrown).isExactlyInstanceOf(TimeoutExceededException.class);
        assertThat(log).containsExactly("finally");
        assertThat(g.isDone()).isTrue();
        g.close();
        assertThat(g.next()).isEqualTo(new Step.Returned<>(null));
        assertThat(log).containsExactly("finally");
    }

    @Test
    void oneHundredThousandGeneratorsAliveAndSuspendedAtOnce() {
        int n = 100_000;
        List<Generator<Integer, Integer, Integer>> gens = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int id = i;
            Generator<Integer, Integer, Integer> g = gen(co -> {
                int got = co.yield(id);
                return got + id;
            });
            gens.add(g);
        }
        for (int i = 0; i < n; i++) {
            assertThat(gens.get(i).next().value()).isEqualTo(i);
        }
        assertThat(gens).allMatch(Generator::isSuspended);
        long wrong = 0;
        for (int i = 0; i < n; i++) {
            Step<Integer, Integer> s = gens.get(i).send(1);
            if (!s.isDone() || s.returnValue() != i + 1) {
                wrong++;
            }
        }
        assertThat(wrong).as("generators that returned a wrong value").isZero();
        assertThat(gens).allMatch(Generator::isDone);
    }

    @Test
    void aYieldFromTenThousandFramesDeep() {
        int depth = 10_000;
        Generator<Integer, Integer, Long> g = gen(co -> recurse(co, depth));
        assertThat(g.next().value()).isEqualTo(depth);
        assertThat(g.send(1).returnValue()).isEqualTo((long) depth + 1);
    }

    private static long recurse(Yielder<Integer, Integer> co, int remaining) {
        if (remaining == 0) {
            return co.yield(10_000);
        }
        return 1 + recurse(co, remaining - 1);
    }

    @Test
    void valuesPassThroughInBothDirectionsInOrderOverManyRoundTrips() {
        int rounds = Stress.scaled(200_000);
        Generator<Long, Long, Long> echo = gen(co -> {
            long last = 0;
            Long in;
            while ((in = co.yield(last + 1)) != null) {
                last = in;
            }
            return last;
        });
        long expected = echo.next().value();
        List<Long> mismatches = Collections.synchronizedList(new ArrayList<>());
        for (long i = 1; i <= rounds; i++) {
            long got = echo.send(i).value();
            if (got != i + 1) {
                mismatches.add(i);
            }
        }
        assertThat(expected).isEqualTo(1);
        assertThat(mismatches).isEmpty();
        assertThat(echo.next().returnValue()).isEqualTo(rounds);
    }

    @Test
    void aGeneratorResumedOutsideATaskSharesTheThreadsCoroutineLocals() {
        CoroutineLocal<String> local = new CoroutineLocal<>("outside");
        local.set("thread value");
        try {
            Generator<String, Object, Void> g = gen(co -> {
                co.yield(local.get());
                local.set("set in the body");
                co.yield(local.get());
                return null;
            });
            assertThat(g.next().value()).isEqualTo("thread value");
            assertThat(g.next().value()).isEqualTo("set in the body");
            assertThat(local.get()).as("the resumer's thread after the yield").isEqualTo("set in the body");
            local.set("set by the resumer");
            g.close();
        } finally {
            local.remove();
        }
    }

    /**
     * A generator held suspended keeps nothing of whoever stepped it last once that is over: not a
     * plain thread that has ended, nor the {@link CoroutineLocal} values that thread had (which
     * the body saw), nor a task that stepped it inside its {@link Coro#blocking} call and has
     * ended. On loom the body runs on a thread of its own, which must not keep them while it waits
     * for the next step. The plain thread steps it first: on threadpool, the JDK's binding frames
     * that keep a body's ScopedValue look-ups apart, once compiled by C2, hold the thread they were
     * entered on (ThreadPoolSpecificTest forces that compilation).
     */
    @Test
    void aSuspendedGeneratorKeepsNothingOfWhoSteppedItLast() throws Exception {
        CoroutineLocal<Object> local = new CoroutineLocal<>("tck-resumer-value");
        Generator<Object, Object, Void> g = gen(co -> {
            while (true) {
                co.yield(local.get() != null);
            }
        });
        List<java.lang.ref.WeakReference<Object>> byThread = new ArrayList<>();
        Object seen = stepFromAPlainThread(g, local, byThread);
        String afterThread = stillReachable(byThread, "the thread", "its value");
        List<java.lang.ref.WeakReference<Object>> byTask = new ArrayList<>();
        stepInABlockingCall(g, byTask);
        String afterTask = stillReachable(byTask, "the task");
        String suspended = g.isSuspended() ? "suspended" : "not suspended";
        g.close();
        assertThat("still reachable: " + afterThread + ", then " + afterTask + "; the body saw the value: " + seen
                + "; " + suspended)
                .isEqualTo("still reachable: [], then []; the body saw the value: true; suspended");
    }

    /** The names of those of {@code refs} still reachable after collections for up to 10 s. */
    private static String stillReachable(List<java.lang.ref.WeakReference<Object>> refs, String... names)
            throws InterruptedException {
        AbandonedGenerators.collectUntil(() -> refs.stream().allMatch(r -> r.get() == null));
        List<String> kept = new ArrayList<>();
        for (int i = 0; i < refs.size(); i++) {
            if (refs.get(i).get() != null) {
                kept.add(names[i]);
            }
        }
        return kept.toString();
    }

    /** Steps {@code g} once from a plain thread that has a value of {@code local}; waits for the thread to end. */
    private static Object stepFromAPlainThread(Generator<Object, Object, Void> g, CoroutineLocal<Object> local,
                                               List<java.lang.ref.WeakReference<Object>> refs) throws InterruptedException {
        Object[] seen = new Object[1];
        Thread t = Thread.ofPlatform().name("tck-stepper").unstarted(() -> {
            Object value = new Object(); // made here: the thread's task does not keep it
            refs.add(new java.lang.ref.WeakReference<>(value));
            local.set(value);
            seen[0] = g.next().value();
        });
        refs.add(new java.lang.ref.WeakReference<>(t));
        t.start();
        t.join(TimeUnit.SECONDS.toMillis(30));
        return seen[0];
    }

    /** Steps {@code g} once inside a blocking call of a task that then ends. */
    private void stepInABlockingCall(Generator<Object, Object, Void> g, List<java.lang.ref.WeakReference<Object>> refs)
            throws Exception {
        runTask(() -> {
            refs.add(new java.lang.ref.WeakReference<>(Coro.currentTask()));
            return Coro.blocking(() -> g.next().value());
        });
    }

    // ---- a generator left suspended ----

    @Test
    void aGeneratorLeftSuspendedIsClosedOnceUnreachable_inATaskOfItsScheduler_soItsFinallyMayAwait() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        CountDownLatch closed = new CountDownLatch(1);
        AbandonedGenerators.abandonAfterOneYield(gen(co -> {
            try {
                co.yield("a");
                log.add("resumed");
            } catch (GeneratorExit e) {
                log.add("GeneratorExit");
                throw e;
            } finally {
                Fiber f = Schedulers.currentFiber();
                log.add(Coro.currentTask() != null && f != null && f.scheduler() == scheduler
                        ? "finally in a task of the generator's scheduler" : "finally elsewhere: " + f);
                Coro.sleep(Duration.ofMillis(1));
                log.add("slept");
                closed.countDown();
            }
            return null;
        }));
        assertThat(AbandonedGenerators.collectedAndClosed(closed)).as("closed within 10 s of collections").isTrue();
        assertThat(log).containsExactly("GeneratorExit", "finally in a task of the generator's scheduler", "slept");
    }

    @Test
    void aGeneratorLeftSuspendedIsFreedOnceUnreachable() throws Exception {
        assertThat(AbandonedGenerators.collected(AbandonedGenerators.abandonAfterOneYield(scheduler)))
                .as("what the abandoned generator's body held is collected").isTrue();
    }

    /**
     * A generator that has ended and is still held (for its return value, or in a list) keeps
     * nothing its body captured: one that returned, one closed at a yield, one closed before it
     * started. As a finished task keeps only its outcome.
     */
    @Test
    void aFinishedGeneratorStillHeldKeepsNothingItsBodyCaptured() throws Exception {
        List<java.lang.ref.WeakReference<Object>> captured = new ArrayList<>();
        Generator<String, Object, Integer> returned = capturing(captured);
        returned.next();
        returned.next();
        Generator<String, Object, Integer> closed = capturing(captured);
        closed.next();
        closed.close();
        Generator<String, Object, Integer> neverStarted = capturing(captured);
        neverStarted.close();
        AbandonedGenerators.collectUntil(() -> captured.stream().allMatch(r -> r.get() == null));
        long kept = captured.stream().filter(r -> r.get() != null).count();
        assertThat(kept + " of 3 captures still reachable; returned " + returned.returnValue() + ", all done "
                + (returned.isDone() && closed.isDone() && neverStarted.isDone()))
                .isEqualTo("0 of 3 captures still reachable; returned 7, all done true");
    }

    /** A generator whose body captures an object, weakly referenced in {@code captured}. */
    private <Y> Generator<Y, Object, Integer> capturing(List<java.lang.ref.WeakReference<Object>> captured) {
        Object kept = new Object() {
            @Override
            public int hashCode() {
                return 7;
            }
        };
        captured.add(new java.lang.ref.WeakReference<>(kept));
        return gen(co -> {
            co.yield(null);
            return kept.hashCode();
        });
    }

    @Test
    void aGeneratorLeftSuspendedWhileDelegatingClosesItsSubGeneratorFirst() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        CountDownLatch closed = new CountDownLatch(1);
        AbandonedGenerators.abandonAfterOneYield(gen(co -> {
            try {
                return co.yieldFrom(gen(sub -> {
                    try {
                        sub.yield("from sub");
                        return "sub returned";
                    } finally {
                        log.add("sub finally");
                    }
                }));
            } finally {
                log.add("outer finally");
                closed.countDown();
            }
        }));
        assertThat(AbandonedGenerators.collectedAndClosed(closed)).as("closed within 10 s of collections").isTrue();
        assertThat(log).containsExactly("sub finally", "outer finally");
    }

    @Test
    void aGeneratorRunToTheEndOrClosedIsNeverClosedAgain() throws Exception {
        AtomicInteger finallies = new AtomicInteger();
        Generator<String, Object, Void> finished = yieldOnceThenFinally(finallies::incrementAndGet);
        finished.next();
        finished.next();
        Generator<String, Object, Void> closedByUser = yieldOnceThenFinally(finallies::incrementAndGet);
        closedByUser.next();
        closedByUser.close();
        assertThat(finallies).hasValue(2);
        finished = null;
        closedByUser = null;
        CountDownLatch closed = new CountDownLatch(1);
        AbandonedGenerators.abandonAfterOneYield(yieldOnceThenFinally(closed::countDown));
        assertThat(AbandonedGenerators.collectedAndClosed(closed)).as("closed within 10 s of collections").isTrue();
        assertThat(finallies).as("finally blocks run, of the two generators that ended before they were dropped")
                .hasValue(2);
    }

    /** A generator that yields "a" once, then returns; {@code inFinally} runs in a finally around the yield. */
    private Generator<String, Object, Void> yieldOnceThenFinally(Runnable inFinally) {
        return gen(co -> {
            try {
                co.yield("a");
            } finally {
                inFinally.run();
            }
            return null;
        });
    }

    @Test
    void whatClosingAnAbandonedGeneratorThrowsGoesToTheUncaughtExceptionHandler() throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
        try {
            IllegalStateException cleanupFailed = new IllegalStateException("cleanup failed");
            AbandonedGenerators.abandonAfterOneYield(gen(co -> {
                try {
                    co.yield("a");
                } finally {
                    throw cleanupFailed;
                }
            }));
            assertThat(AbandonedGenerators.collectUntil(() -> !reported.isEmpty())).isTrue();
            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e).isInstanceOf(IllegalStateException.class).hasMessage(
                        "closing a generator that was left suspended and became unreachable failed:"
                                + " java.lang.IllegalStateException: cleanup failed"
                                + " (close generators you do not run to the end)");
                assertThat(e.getCause()).isSameAs(cleanupFailed);
            });
            reported.clear();
            AbandonedGenerators.abandonAfterOneYield(gen(co -> {
                try {
                    co.yield("a");
                } catch (GeneratorExit ignored) {
                    co.yield("after GeneratorExit");
                }
                return null;
            }));
            assertThat(AbandonedGenerators.collectUntil(() -> !reported.isEmpty())).isTrue();
            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getCause())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("generator ignored close(): it yielded a value after GeneratorExit"));
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    /**
     * An uncaught-exception handler that throws while it hears of the failed close of an abandoned
     * generator is not called again with its own exception, as though closing had failed with it
     * (it was: the closing task failed with it, and that failure was reported in turn; on a shut-down
     * scheduler it escaped the closing thread). What it throws is ignored, as the JVM ignores it,
     * on a running scheduler and on a shut-down one alike.
     */
    @Test
    void anUncaughtExceptionHandlerThatThrowsHearsOfAFailedCloseOnce() throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<String> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            reported.add(e.getMessage());
            throw new IllegalStateException("the handler failed");
        });
        try {
            Scheduler shutDown = newScheduler(1);
            for (Scheduler s : List.of(scheduler, shutDown)) {
                reported.clear();
                Generator<String, Object, Void> g = Generator.of(s, co -> {
                    try {
                        co.yield("a");
                    } finally {
                        throw new IllegalStateException("cleanup failed");
                    }
                });
                g.next();
                if (s == shutDown) {
                    s.shutdown();
                    assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
                }
                g = null;
                assertThat(AbandonedGenerators.collectUntil(() -> !reported.isEmpty())).as("reported within 10 s").isTrue();
                AbandonedGenerators.collectUntil(() -> reported.size() > 1, Duration.ofMillis(300));
                assertThat(reported).as(s == shutDown ? "shut down" : "running").containsExactly(
                        "closing a generator that was left suspended and became unreachable failed:"
                                + " java.lang.IllegalStateException: cleanup failed"
                                + " (close generators you do not run to the end)");
            }
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    /**
     * A task that the finally blocks of an abandoned generator spawn, in the task that closes it,
     * and that fails nobody joins: as a child of any task, it fails that closing task, and since
     * nobody holds the closing task either, its failure goes to the uncaught-exception handler, as
     * a failure of the close itself does; it is not lost.
     */
    @Test
    void aFailingTaskSpawnedByTheFinallyOfAnAbandonedGeneratorIsReported() throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
        try {
            IllegalStateException childFailed = new IllegalStateException("child failed");
            AbandonedGenerators.abandonAfterOneYield(gen(co -> {
                try {
                    co.yield("a");
                } finally {
                    Coro.spawn(() -> {
                        throw childFailed;
                    });
                }
                return null;
            }));
            assertThat(AbandonedGenerators.collectUntil(() -> !reported.isEmpty())).as("reported within 10 s").isTrue();
            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e).isInstanceOf(IllegalStateException.class).hasMessage(
                        "closing a generator that was left suspended and became unreachable failed:"
                                + " java.lang.IllegalStateException: child failed"
                                + " (close generators you do not run to the end)");
                assertThat(e.getCause()).isSameAs(childFailed);
            });
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    @Test
    void aGeneratorLeftSuspendedOnAShutDownSchedulerIsClosedOutsideAnyTask() throws Exception {
        Scheduler s = newScheduler(1);
        List<String> log = new CopyOnWriteArrayList<>();
        CountDownLatch closed = new CountDownLatch(1);
        Generator<String, Object, Void> g = Generator.of(s, co -> {
            try {
                co.yield("a");
            } finally {
                log.add(Coro.currentTask() == null ? "finally outside a task" : "finally in a task");
                closed.countDown();
            }
            return null;
        });
        g.next();
        s.shutdown();
        assertThat(s.awaitTermination(Duration.ofSeconds(30))).isTrue();
        g = null;
        assertThat(AbandonedGenerators.collectedAndClosed(closed)).as("closed within 10 s of collections").isTrue();
        assertThat(log).containsExactly("finally outside a task");
    }

    /**
     * Scaled up by rounds, not by crowd size: a round's collections take longer the more generators
     * are live, so a crowd ten times larger took over a minute to close, mostly in the collector.
     */
    @Test
    void generatorsAbandonedFromTasksAndThreads_whileTheSchedulerShutsDown_areEachClosedOnce() throws Exception {
        for (int round = 0; round < Stress.rounds(4_000); round++) {
            abandonWhileShuttingDown(round, Stress.crowd(4_000));
        }
    }

    private void abandonWhileShuttingDown(int round, int perAbandoner) throws Exception {
        int abandoners = 4;
        int concurrent = perAbandoner * abandoners;
        int n = concurrent + perAbandoner; // the last batch is abandoned once the scheduler has terminated
        Scheduler s = newScheduler(2);
        AtomicIntegerArray closes = new AtomicIntegerArray(n);
        AtomicIntegerArray closedInATask = new AtomicIntegerArray(n);
        IntConsumer abandon = id -> AbandonedGenerators.abandonAfterOneYield(Generator.of(s, co -> {
            try {
                co.yield(id);
            } finally {
                closes.incrementAndGet(id);
                if (Coro.currentTask() != null) {
                    closedInATask.incrementAndGet(id);
                }
            }
            return null;
        }));
        AtomicBoolean collecting = new AtomicBoolean(true);
        Thread collector = Thread.ofPlatform().daemon().name("tck-collector").start(() -> {
            while (collecting.get()) {
                System.gc();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
        });
        boolean allClosed;
        try {
            allClosed = abandonAndShutDown(s, abandon, abandoners, perAbandoner, concurrent, n, closes);
        } finally {
            collecting.set(false); // a failure must not leave it collecting every 5 ms under the next tests
            collector.join(10_000);
        }
        int lost = 0;
        int closedTwice = 0;
        int lateClosedInATask = 0;
        for (int i = 0; i < n; i++) {
            lost += closes.get(i) == 0 ? 1 : 0;
            closedTwice += closes.get(i) > 1 ? 1 : 0;
            lateClosedInATask += i >= concurrent ? closedInATask.get(i) : 0;
        }
        assertThat(lost).as("round %d: abandoned generators never closed (of %d; all closed in time: %s)", round, n, allClosed)
                .isZero();
        assertThat(closedTwice).as("round %d: abandoned generators closed more than once", round).isZero();
        assertThat(lateClosedInATask).as("round %d: generators abandoned after termination that were closed in a task", round)
                .isZero();
    }

    /**
     * The abandoning of {@link #generatorsAbandonedFromTasksAndThreads_whileTheSchedulerShutsDown_areEachClosedOnce}:
     * returns whether every generator was closed within 60 s of collections.
     */
    private static boolean abandonAndShutDown(Scheduler s, IntConsumer abandon, int abandoners, int perAbandoner,
                                              int concurrent, int n, AtomicIntegerArray closes) throws Exception {
        CountDownLatch halfway = new CountDownLatch(abandoners);
        List<Thread> threads = new ArrayList<>();
        for (int a = 0; a < abandoners; a++) {
            int first = a * perAbandoner;
            Runnable abandonAll = () -> {
                for (int i = first; i < first + perAbandoner; i++) {
                    abandon.accept(i);
                    if (i == first + perAbandoner / 2) {
                        halfway.countDown();
                    }
                }
            };
            threads.add(Thread.ofPlatform().name("tck-abandoner-" + a).start(a % 2 == 0 ? abandonAll : () -> {
                Coro.run(s, () -> {
                    abandonAll.run();
                    return null;
                });
            }));
        }
        assertThat(halfway.await(60, TimeUnit.SECONDS)).isTrue();
        s.shutdown(); // the tasks abandoning go on; a close that starts from now on runs on a virtual thread
        for (Thread t : threads) {
            t.join(60_000);
        }
        assertThat(s.awaitTermination(Duration.ofSeconds(60))).as("terminated within 60 s: %s", s).isTrue();
        for (int i = concurrent; i < n; i++) {
            abandon.accept(i);
        }
        return AbandonedGenerators.collectUntil(() -> {
            for (int i = 0; i < n; i++) {
                if (closes.get(i) == 0) {
                    return false;
                }
            }
            return true;
        }, Duration.ofSeconds(60));
    }

    /**
     * A generator closed before it started is done, and a thread that sees it done then gets its
     * end ({@code Returned(null)}), never a null step: closing publishes "done" after the step.
     * Another thread takes each new generator, waits until it is done and resumes it, while this
     * one closes it.
     */
    @Test
    void aThreadThatSeesAnUnstartedGeneratorClosedGetsItsEnd() throws Exception {
        AtomicReference<Generator<String, Object, Void>> current = new AtomicReference<>();
        AtomicReference<Generator<String, Object, Void>> watched = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<String> wrong = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            Generator<String, Object, Void> last = null;
            while (!stop.get()) {
                Generator<String, Object, Void> g = current.get();
                if (g == null || g == last) {
                    Thread.onSpinWait();
                    continue;
                }
                last = g;
                watched.set(g);
                while (!g.isDone()) {
                    Thread.onSpinWait();
                }
                try {
                    Object step = g.next();
                    if (!new Step.Returned<>(null).equals(step)) {
                        wrong.add(String.valueOf(step));
                    }
                } catch (RuntimeException e) {
                    wrong.add(e.toString());
                }
            }
        });
        reader.start();
        int rounds = Stress.scaled(2_000);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try {
            for (int i = 0; i < rounds && wrong.isEmpty() && System.nanoTime() - deadline < 0; i++) {
                Generator<String, Object, Void> g = gen(co -> {
                    co.yield("never");
                    return null;
                });
                current.set(g);
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1);
                while (watched.get() != g && System.nanoTime() - until < 0) {
                    Thread.onSpinWait();
                }
                g.close();
            }
        } finally {
            stop.set(true);
            reader.join();
        }
        assertThat(wrong).as("what a thread got from next() after seeing the closed generator done").isEmpty();
    }

    /**
     * PEP 380: what a sub-generator throws while it is closed reaches the delegating body as it
     * is, checked or not, as what it throws when thrown into does.
     */
    @Test
    void aFailureOfASubGeneratorWhileClosingReachesTheDelegatingBodyAsItIs() {
        IOException subFailure = new IOException("sub cleanup failed");
        List<Throwable> seen = new ArrayList<>();
        for (boolean closing : new boolean[] {true, false}) {
            Generator<String, Object, Void> outer = gen(co -> {
                try {
                    co.yieldFrom(gen(sub -> {
                        try {
                            sub.yield("s");
                        } catch (GeneratorExit | IllegalStateException e) {
                            throw subFailure;
                        }
                        return null;
                    }));
                } catch (Exception e) {
                    seen.add(e);
                    throw e;
                }
                return null;
            });
            outer.next();
            Throwable thrown = closing
                    ? catchThrowable(outer::close)
                    : catchThrowable(() -> outer.throwInto(new IllegalStateException("into the sub")));
            assertThat(thrown).isExactlyInstanceOf(CompletionException.class).hasCause(subFailure);
        }
        assertThat(seen).containsExactly(subFailure, subFailure);
    }

    /** Counted by the body of the stack-overflow test in its finally: a field write cannot overflow the stack. */
    private static volatile int overflowFinallies;

    /**
     * A resumer that recurses until its stack overflows and resumes a generator at every depth (a
     * recursive parser pulling tokens, say). Each level first spends a few kilobytes of stack, more
     * than a resumption takes, so that where the overflow hits moves through the whole resumption
     * from round to round: the resumer's own code, the machinery before the body gets control and
     * after it gives control back, and (threadpool, where the body runs on the resumer's stack) the
     * body. Wherever it hits, the generator is left suspended, and resumes from there, or finished
     * with its finally run; never running for good, never finished with its body still suspended.
     *
     * <p>Only where the body runs on the resumer's thread (threadpool). Where it runs on a thread of
     * its own (loom), the deepest part of a resumption is the JDK's unpark of the body's virtual
     * thread, and an overflow there breaks the JDK, not only coro4j: seen on JDK 25, a virtual thread
     * marked unparked but never scheduled, and the virtual-thread scheduler itself left with a
     * worker it believes awake, which stalled every virtual thread for the minute the test waited. The loom coroutine
     * fails every resumption after a hand-over cut in two (instead of waiting for a body that may
     * never run), but no test can make the JDK's part reliable.
     */
    @Test
    void aStackOverflowWhileResumingLeavesTheGeneratorSuspendedOrFinished_neverRunningOrLost() throws Exception {
        assumeTrue(scheduler.newCoroutine(() -> { }).runsOnResumerThread(),
                "generator bodies run on threads of their own here: an overflow inside the JDK's unpark of one"
                        + " can leave the JDK's virtual-thread scheduler stuck (see the javadoc)");
        int rounds = Stress.scaled(60);
        for (int round = 0; round < rounds; round++) {
            overflowFinallies = 0;
            Generator<Integer, Object, Void> g = gen(co -> {
                try {
                    for (int i = 0; ; i++) {
                        co.yield(i);
                    }
                } finally {
                    overflowFinallies++;
                }
            });
            int pad = round;
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            AtomicBoolean overflowed = new AtomicBoolean();
            Thread resumer = new Thread(null, () -> {
                try {
                    spend(pad, () -> dive(g));
                } catch (StackOverflowError expected) {
                    overflowed.set(true);
                } catch (Throwable t) {
                    unexpected.set(t);
                }
            }, "overflowing-resumer", 256 * 1024);
            resumer.start();
            resumer.join(TimeUnit.SECONDS.toMillis(60));
            assertThat(resumer.isAlive()).as("round %d: the resumer is stuck", round).isFalse();
            assertThat(unexpected.get()).as("round %d", round).isNull();
            assertThat(overflowed).as("round %d", round).isTrue();
            assertThat(g.isSuspended() || g.isDone())
                    .as("round %d: neither suspended nor done (%s)", round, g).isTrue();
            if (g.isSuspended()) {
                assertThat(overflowFinallies).as("round %d", round).isZero();
                Step<Integer, Void> next = g.next();
                assertThat(next.isDone()).as("round %d: resumes from its yield", round).isFalse();
                g.close();
                assertThat(g.isDone()).isTrue();
            }
            assertThat(overflowFinallies).as("round %d: finally blocks run", round).isEqualTo(1);
        }
    }

    /** Resumes {@code g} at every depth, spending {@link #STACK_PER_LEVEL} frames between resumptions, until the stack overflows. */
    private static void dive(Generator<Integer, Object, Void> g) {
        spend(STACK_PER_LEVEL, g::next);
        dive(g);
    }

    /** Frames spent per level of {@link #dive}: a few kilobytes, more than one resumption's own depth. */
    private static final int STACK_PER_LEVEL = 48;

    /** Runs {@code r} {@code frames} frames deeper than the caller. */
    private static void spend(int frames, Runnable r) {
        if (frames == 0) {
            r.run();
        } else {
            spend(frames - 1, r);
        }
    }

    private static Throwable catchThrowable(Runnable r) {
        try {
            r.run();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
