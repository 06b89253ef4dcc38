package io.coro4j.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Diagnostic, not a budget: where a threadpool generator's round trip spends the time the raw
 * {@code Continuation} round trip does not. Each benchmark is {@code raw} (the same as
 * {@link GeneratorRoundTripBenchmark#rawContinuation}) plus one piece of what {@code Generator.resume},
 * {@code Yielder.yield} and {@code ContinuationCoroutine} add per round trip, copied here; {@code all}
 * adds every piece, and should land near {@code GeneratorRoundTripBenchmark.generator} on threadpool.
 *
 * <ul>
 *   <li>{@code bodyIsCurrentTwice}: the body asks "is my continuation the innermost of the generator
 *       scope?" twice per yield ({@code Generator.checkInsideBody} and {@code ContinuationCoroutine.suspend}
 *       both call {@code isCurrent()}), through a non-constant method handle as {@code Continuations.current}
 *       does; {@code bodyIsCurrentOnce} once; {@code bodyIsCurrentTwiceConstant} twice through a
 *       {@code static final} handle (inlinable).</li>
 *   <li>{@code callerFreshThread}: {@code ThreadPoolScheduler.currentWorker()} after each run: the carrier
 *       thread read through a non-constant method handle.</li>
 *   <li>{@code callerTwoLongAdders}: the external resumption and suspension counters.</li>
 *   <li>{@code callerStateMachine}: the generator state CAS to RUNNING, field writes, a
 *       {@code Step.Yielded}-sized allocation and the volatile store of SUSPENDED;
 *       {@code callerStateMachineRelease}: the same with a release store instead of a volatile one.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class ContinuationOverheadRoundTripBenchmark {

    private static final MethodHandle CURRENT_CONSTANT;
    // Not final, as in scheduler-threadpool's Continuations: never inlined, read afresh on each call.
    private static MethodHandle freshCurrent;
    private static MethodHandle freshThread;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            Class<?> contClass = Class.forName("jdk.internal.vm.Continuation");
            Class<?> scopeClass = Class.forName("jdk.internal.vm.ContinuationScope");
            CURRENT_CONSTANT = lookup.findStatic(contClass, "getCurrentContinuation", MethodType.methodType(contClass, scopeClass))
                    .asType(MethodType.methodType(Object.class, Object.class));
            freshCurrent = CURRENT_CONSTANT;
            freshThread = lookup.findStatic(ContinuationOverheadRoundTripBenchmark.class, "currentThread0",
                    MethodType.methodType(Thread.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Thread currentThread0() {
        return Thread.currentThread();
    }

    static boolean isCurrentFresh(Object continuation) {
        try {
            return (Object) freshCurrent.invokeExact(RawContinuation.SCOPE) == continuation;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static boolean isCurrentConstant(Object continuation) {
        try {
            return (Object) CURRENT_CONSTANT.invokeExact(RawContinuation.SCOPE) == continuation;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static Thread carrierThreadFresh() {
        try {
            return (Thread) freshThread.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A continuation looping {@code value = next(value); <check>; yield}, run to its first yield. */
    @State(Scope.Thread)
    public abstract static class LoopState {
        Object continuation;
        Integer value = 0;

        @Setup(Level.Trial)
        public void setUp() {
            continuation = RawContinuation.create(this::loop);
            RawContinuation.run(continuation);
        }

        private void loop() {
            while (true) {
                value = GeneratorRoundTripBenchmark.next(value);
                check();
                RawContinuation.yield();
            }
        }

        abstract void check();
    }

    @State(Scope.Thread)
    public static class Plain extends LoopState {
        @Override
        void check() {}
    }

    @State(Scope.Thread)
    public static class IsCurrentOnce extends LoopState {
        @Override
        void check() {
            if (!isCurrentFresh(continuation)) {
                throw new IllegalStateException();
            }
        }
    }

    @State(Scope.Thread)
    public static class IsCurrentTwice extends LoopState {
        @Override
        void check() {
            if (!isCurrentFresh(continuation) || !isCurrentFresh(continuation)) {
                throw new IllegalStateException();
            }
        }
    }

    @State(Scope.Thread)
    public static class IsCurrentTwiceConstant extends LoopState {
        @Override
        void check() {
            if (!isCurrentConstant(continuation) || !isCurrentConstant(continuation)) {
                throw new IllegalStateException();
            }
        }
    }

    /** The caller-side pieces, kept in fields of their own so nothing is shared between benchmarks. */
    @State(Scope.Thread)
    public static class CallerSide {
        static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(CallerSide.class, "state", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final LongAdder resumptions = new LongAdder();
        final LongAdder suspensions = new LongAdder();
        volatile int state = 1;
        Thread runner;
        Object sent;
        Throwable thrownIn;
        Thread sink;

        record Yielded(Object value) {}

        Object enter(Object in) {
            if (state == 2 || !STATE.compareAndSet(this, 1, 2)) {
                throw new IllegalStateException();
            }
            runner = Thread.currentThread();
            sent = in;
            thrownIn = null;
            return in;
        }

        Object leave(Object out) {
            runner = null;
            state = 1;
            return new Yielded(out);
        }

        Object leaveRelease(Object out) {
            runner = null;
            STATE.setRelease(this, 1);
            return new Yielded(out);
        }
    }

    @Benchmark
    public Integer raw(Plain s) {
        RawContinuation.run(s.continuation);
        return s.value;
    }

    @Benchmark
    public Integer bodyIsCurrentOnce(IsCurrentOnce s) {
        RawContinuation.run(s.continuation);
        return s.value;
    }

    @Benchmark
    public Integer bodyIsCurrentTwice(IsCurrentTwice s) {
        RawContinuation.run(s.continuation);
        return s.value;
    }

    @Benchmark
    public Integer bodyIsCurrentTwiceConstant(IsCurrentTwiceConstant s) {
        RawContinuation.run(s.continuation);
        return s.value;
    }

    @Benchmark
    public Integer callerFreshThread(Plain s, CallerSide c) {
        RawContinuation.run(s.continuation);
        c.sink = carrierThreadFresh();
        return s.value;
    }

    @Benchmark
    public Integer callerTwoLongAdders(Plain s, CallerSide c) {
        RawContinuation.run(s.continuation);
        c.resumptions.increment();
        c.suspensions.increment();
        return s.value;
    }

    @Benchmark
    public Object callerStateMachine(Plain s, CallerSide c) {
        c.enter(s.value);
        RawContinuation.run(s.continuation);
        return c.leave(s.value);
    }

    @Benchmark
    public Object callerStateMachineRelease(Plain s, CallerSide c) {
        c.enter(s.value);
        RawContinuation.run(s.continuation);
        return c.leaveRelease(s.value);
    }

    /** Every piece at once: a reconstruction of the coro4j generator's round trip on threadpool. */
    @Benchmark
    public Object all(IsCurrentTwice s, CallerSide c) {
        c.enter(s.value);
        RawContinuation.run(s.continuation);
        if (carrierThreadFresh() instanceof IllegalThreadStateHolder) {
            throw new AssertionError();
        }
        c.resumptions.increment();
        c.suspensions.increment();
        return c.leave(s.value);
    }

    /** Never instantiated: makes the {@code instanceof Worker} test of currentWorker() a real test. */
    private static final class IllegalThreadStateHolder extends Thread {}
}
