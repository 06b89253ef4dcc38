package io.coro4j;

import io.coro4j.spi.Scheduler;
import java.lang.ref.Reference;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A generator with Python's semantics (PEP 342 and 380): a body that pauses at each
 * {@link Yielder#yield yield}, hands a value out, takes a value in through {@link #send send}, and
 * resumes exactly where it stopped.
 *
 * <pre>{@code
 * Generator<Void, Integer, Void> printer = Generator.of(co -> {
 *     System.out.println("Start of coroutine");
 *     Integer x = co.yield(null);
 *     System.out.println("Coroutine received: " + x);
 *     return null;
 * });
 * printer.next();                         // runs to the first yield
 * Step<Void, Void> end = printer.send(7); // resumes; the body returns
 * }</pre>
 *
 * <ul>
 *   <li>The first {@link #next()} runs the body to its first yield; {@code send} of a non-null
 *       value before that is an error.</li>
 *   <li>Each resumption returns a {@link Step}: {@link Step.Yielded} or, once the body has
 *       finished, {@link Step.Returned} with its return value. Resuming a finished generator
 *       returns {@code Returned} again.</li>
 *   <li>An exception the body lets escape propagates to the caller that resumed it, with the
 *       body's stack trace; {@link RuntimeException}s and {@link Error}s as they are, checked
 *       exceptions wrapped in a {@link java.util.concurrent.CompletionException}. The generator is then finished.</li>
 *   <li>{@link #throwInto} raises an exception at the paused yield; {@link #close()} raises
 *       {@link GeneratorExit} there so that {@code finally} blocks run.</li>
 *   <li>A resumption that fails itself, not in the body (a {@link StackOverflowError} of a caller
 *       deep in its stack), leaves the generator where its body is: not started, paused at its
 *       yield (a value it yielded in that resumption is lost) or finished. On loom, where the
 *       resumption wakes the body's virtual thread, an overflow inside the JDK's own unpark can
 *       leave that thread never to run again; the generator then fails every later resumption
 *       with an {@link IllegalStateException} saying its body is lost.</li>
 *   <li>A generator is an {@link Iterable} over its yielded values (one pass, like a Java
 *       {@link java.nio.file.DirectoryStream}) and a {@link #stream() Stream} source.</li>
 * </ul>
 *
 * <p>Close a generator you do not run to the end (try-with-resources, or {@link #close()} after
 * breaking out of a loop over it): that runs the body's {@code finally} blocks now. A generator
 * left suspended is closed for you once it is unreachable, as Python closes one it collects: after
 * a garbage collection finds it (a phantom reference watched by the daemon thread
 * {@code coro4j-generator-cleaner}), {@link GeneratorExit} is raised at its
 * yield in a task of its own on its scheduler (counted as a spawned task; on a virtual thread of
 * its own if the scheduler is shut down), so its {@code finally} blocks run there, and then the
 * body's thread (loom) or continuation (threadpool) and all it holds are freed. What that close
 * throws goes to the uncaught-exception handler of the thread it runs on, wrapped in an
 * {@link IllegalStateException} that says so; so does the failure of a task that those
 * {@code finally} blocks spawned and nobody joined, which fails the closing task. A body that
 * yields again instead of ending is reported the same way; on threadpool its continuation is then
 * freed all the same, but on loom its virtual thread stays parked for good with all it holds (the
 * JDK keeps every virtual thread it has started): let {@link GeneratorExit} end the body. The
 * body must not keep its own generator reachable (for instance through a field it reads); a
 * generator its body can reach is never closed for you.
 *
 * <p>Thread-safety: a generator may be resumed from any thread, but from one place at a time;
 * resuming it while it runs (from its own body, or from two threads at once) throws
 * {@link IllegalStateException}. Inside a fiber, the body runs as part of that fiber: a body that
 * awaits suspends the whole fiber. A loom generator stepped in a task of another scheduler (a
 * threadpool task) is the exception: its body runs on a virtual thread of its own, outside that
 * task, where waiting and spawning are refused as outside any task (an
 * {@link IllegalStateException} that names the generator's scheduler and the task's), a
 * {@code close()} of the task's scheduler is refused (it would wait for the task, which waits for
 * the body) and the task's {@link CoroutineLocal} values are not seen; make the generator on the
 * task's scheduler ({@link #of(Body)} inside the task does). On the threadpool scheduler the body runs on the resumer's
 * thread, so {@code Thread.currentThread()} and {@code ThreadLocal}s in it are the resumer's; and
 * since the JIT treats the current thread as constant within a compiled method, body code that
 * reads them both before and after a yield may go on seeing the previous resumer's thread when
 * the generator is resumed from another one. Keep per-thread state out of a body resumed from
 * several threads (coro4j's own code, {@link CoroutineLocal} included, reads the thread
 * afresh). The body's interrupt status is its own on both schedulers: an interrupt it sets stays
 * with it, and the resumer's is not the body's.
 * On threadpool, an interrupt of the resumer's thread that arrives while the body runs on it is
 * indistinguishable from one the body sets, so it stays with the body (a virtual thread of its
 * own on loom, the body is not on that thread and the resumer keeps it); a resumer that must see
 * interrupts sent to it (a worker stopped by {@code shutdownNow}) should check a flag of its own
 * as well, or run on the loom scheduler. {@code ScopedValue} bindings are the body's own on both
 * schedulers too: it sees those it makes, even when resumed inside a binding of its resumer's,
 * and none of its resumers' (on loom a virtual thread of its own inherits none). For the same JIT
 * reason, on threadpool a binding the body yields inside and leaves on another thread than it
 * entered it on gives that first thread the body's bindings, in place of its own, as the README
 * details: in a body resumed from several threads, do not yield inside a binding. Nor inside
 * {@code synchronized} (JDK 24+ lets a body yield there): on threadpool a monitor that threads
 * have contended for is owned by the thread that entered it, not by the body, and a body that
 * leaves it on another thread leaves it held by that first thread for good (a virtual thread of
 * its own on loom, the body owns its monitors).
 *
 * @param <Y> the type of yielded values
 * @param <S> the type of values sent in
 * @param <R> the type of the return value
 */
public final class Generator<Y, S, R> implements Iterable<Y>, AutoCloseable {

    /**
     * The code of a generator.
     *
     * @param <Y> the type of yielded values
     * @param <S> the type of values sent in
     * @param <R> the type of the return value
     */
    @FunctionalInterface
    public interface Body<Y, S, R> {
        R run(Yielder<Y, S> co) throws Exception;
    }

    private final GeneratorCore<Y, S, R> core;

    private Generator(Scheduler scheduler, Body<Y, S, R> body) {
        this.core = new GeneratorCore<>(scheduler, body);
    }

    /**
     * Creates a generator; nothing runs until the first {@link #next()}. It uses the scheduler of
     * the fiber the caller runs in, else {@link Schedulers#defaultScheduler()}.
     *
     * @throws NullPointerException if {@code body} is null
     * @throws IllegalStateException if no scheduler is on the classpath
     */
    public static <Y, S, R> Generator<Y, S, R> of(Body<Y, S, R> body) {
        Objects.requireNonNull(body, "body");
        return new Generator<>(Schedulers.current(), body);
    }

    /** Creates a generator that runs on {@code scheduler}; nothing runs until the first {@link #next()}. */
    public static <Y, S, R> Generator<Y, S, R> of(Scheduler scheduler, Body<Y, S, R> body) {
        Objects.requireNonNull(scheduler, "scheduler");
        Objects.requireNonNull(body, "body");
        return new Generator<>(scheduler, body);
    }

    /** The scheduler this generator runs on. */
    public Scheduler scheduler() {
        return core.scheduler;
    }

    // Every resumption ends with a reachability fence: without it the JIT may consider this handle
    // dead once the core is called, and the watch for abandoned generators would close a body
    // that is still running.

    /**
     * Runs the body to its next yield (the first call: to its first yield). Python's {@code next(g)},
     * the same as {@code send(null)}.
     */
    public Step<Y, R> next() {
        try {
            return step(core.resume(this, null, null, false));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Resumes the body with {@code value} as the result of the yield it is paused at.
     *
     * @throws IllegalStateException if {@code value} is non-null and the body has not started
     *     (call {@link #next()} first), or the generator is running
     */
    public Step<Y, R> send(S value) {
        try {
            return step(core.resume(this, value, null, false));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Raises {@code exception} at the yield the body is paused at. If the body catches it and
     * yields again, that value is returned; if the body returns, {@code Returned}; if the exception
     * escapes the body, it propagates from here. On a generator that has not started or has
     * finished, the exception propagates from here at once (the generator is then finished).
     *
     * @throws NullPointerException if {@code exception} is null
     */
    public Step<Y, R> throwInto(Throwable exception) {
        Objects.requireNonNull(exception, "exception");
        try {
            return step(core.resume(this, null, exception, false));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The step for what {@link GeneratorCore#resume} returned. Made here, in a method small enough
     * to inline into the caller's, so that a caller that only reads the step's value allocates
     * nothing (the JIT drops the Step).
     */
    @SuppressWarnings("unchecked")
    private Step<Y, R> step(Object resumed) {
        return resumed == GeneratorCore.ENDED ? core.returnedStep() : new Step.Yielded<>((Y) resumed);
    }

    /** A resumption by {@link Yielder#yieldFrom}: the body's failures propagate as they are, even if checked. */
    Step<Y, R> resumeFromBody(Object value, Throwable toThrow) {
        try {
            return step(core.resume(this, value, toThrow, true));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** {@link #close()} from another generator's body (yieldFrom): failures come out as they are, even checked ones. */
    void closeFromBody() {
        try {
            core.close(true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Finishes the generator: if paused, raises {@link GeneratorExit} at its yield so that its
     * {@code finally} blocks run. Idempotent; a no-op on a finished generator.
     *
     * @throws IllegalStateException if the body yielded again instead of finishing (it stays paused),
     *     or the generator is running
     * @throws RuntimeException whatever other exception the body raised while closing, including a
     *     resource of try-with-resources that failed to close (suppressed on {@link GeneratorExit}
     *     as the body unwound; the first to fail, with any others suppressed on it); checked ones
     *     wrapped in a {@link java.util.concurrent.CompletionException}
     */
    @Override
    public void close() {
        try {
            core.close();
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Whether the body has finished (returned, failed or was closed). */
    public boolean isDone() {
        return core.isDone();
    }

    /**
     * Whether the body is paused at a yield: it has run to a yield and is not running now (while
     * a resumption runs it, this is false) and has not finished.
     */
    public boolean isSuspended() {
        return core.isSuspended();
    }

    /**
     * The value the body returned.
     *
     * @throws IllegalStateException if the body has not finished, or finished without returning
     *     (closed or failed; a failure is the cause)
     */
    public R returnValue() {
        return core.returnValue();
    }

    /**
     * Iterates over the values the body yields, resuming it with {@link #next()} for each. Every
     * iterator shares this one generator: values taken by one are gone for the others.
     */
    @Override
    public Iterator<Y> iterator() {
        return new Iterator<>() {
            private boolean buffered;
            private Y value;

            @Override
            public boolean hasNext() {
                if (buffered) {
                    return true;
                }
                if (core.isDone()) {
                    return false;
                }
                Step<Y, R> step = Generator.this.next();
                if (step instanceof Step.Yielded<Y, R> y) {
                    value = y.value();
                    buffered = true;
                }
                return buffered;
            }

            @Override
            public Y next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("generator has finished");
                }
                Y v = value;
                value = null;
                buffered = false;
                return v;
            }
        };
    }

    /** A sequential, ordered stream of the yielded values; closing the stream closes the generator. */
    public Stream<Y> stream() {
        Spliterator<Y> spliterator = Spliterators.spliteratorUnknownSize(iterator(), Spliterator.ORDERED);
        return StreamSupport.stream(spliterator, false).onClose(this::close);
    }

    @Override
    public String toString() {
        return "Generator[" + core.stateName() + ", scheduler=" + core.scheduler.name() + "]";
    }
}
