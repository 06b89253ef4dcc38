package io.coro4j;

import io.coro4j.spi.Coroutine;
import io.coro4j.spi.Scheduler;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletionException;
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
 *       exceptions wrapped in a {@link CompletionException}. The generator is then finished.</li>
 *   <li>{@link #throwInto} raises an exception at the paused yield; {@link #close()} raises
 *       {@link GeneratorExit} there so that {@code finally} blocks run.</li>
 *   <li>A generator is an {@link Iterable} over its yielded values (one pass, like a Java
 *       {@link java.nio.file.DirectoryStream}) and a {@link #stream() Stream} source.</li>
 * </ul>
 *
 * <p>Close a generator you do not run to the end (try-with-resources, or {@link #close()} after
 * breaking out of a loop over it): that runs the body's {@code finally} blocks. A generator left
 * suspended is not closed for you. On the threadpool scheduler it is garbage once unreachable,
 * and its {@code finally} blocks never run; on the loom scheduler its body's virtual thread stays
 * parked, keeping everything the body references, until the generator is closed (the JDK keeps
 * every virtual thread it starts directly reachable, for thread dumps, unless the JVM runs with
 * {@code -Djdk.trackAllThreads=false}; then it is collected as on threadpool).
 *
 * <p>Thread-safety: a generator may be resumed from any thread, but from one place at a time;
 * resuming it while it runs (from its own body, or from two threads at once) throws
 * {@link IllegalStateException}. Inside a fiber, the body runs as part of that fiber: a body that
 * awaits suspends the whole fiber.
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

    private static final int CREATED = 0;
    private static final int SUSPENDED = 1;
    private static final int RUNNING = 2;
    private static final int DONE = 3;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Generator.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Coroutine coroutine;
    private final Body<Y, S, R> body;
    private final Scheduler scheduler;

    // Written with a volatile store after each resumption, so a generator handed to another thread
    // between resumptions is seen whole; the fields below piggyback on it.
    private volatile int state = CREATED;
    private Thread runner;
    private Object sent;
    private Throwable thrownIn;
    private Y yielded;
    private R result;
    private Throwable failure;
    private Step<Y, R> returned;
    /** Set when the generator was closed or thrown into before its body ran; then it returned nothing. */
    private boolean endedUnstarted;
    /** Whether the body runs on a thread of its own (loom), not the resumer's. */
    private final boolean bodyOnOwnThread;
    /**
     * Set for a resumption from outside any task when the body runs on a thread of its own: the
     * resumer's thread's coroutine-local values then travel in {@link #threadContext}, to the body
     * and back, so that the body sees and sets the resumer's, as it does on the resumer's thread.
     */
    private boolean carryingContext;
    private Map<CoroutineLocal<?>, Object> threadContext;

    private Generator(Scheduler scheduler, Body<Y, S, R> body) {
        this.scheduler = scheduler;
        this.body = body;
        this.coroutine = scheduler.newCoroutine(this::runBody);
        this.bodyOnOwnThread = !coroutine.runsOnResumerThread();
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
        return scheduler;
    }

    /**
     * Runs the body to its next yield (the first call: to its first yield). Python's {@code next(g)},
     * the same as {@code send(null)}.
     */
    public Step<Y, R> next() {
        return resume(null, null, false);
    }

    /**
     * Resumes the body with {@code value} as the result of the yield it is paused at.
     *
     * @throws IllegalStateException if {@code value} is non-null and the body has not started
     *     (call {@link #next()} first), or the generator is running
     */
    public Step<Y, R> send(S value) {
        return resume(value, null, false);
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
        return resume(null, exception, false);
    }

    /**
     * Finishes the generator: if paused, raises {@link GeneratorExit} at its yield so that its
     * {@code finally} blocks run. Idempotent; a no-op on a finished generator.
     *
     * @throws IllegalStateException if the body yielded again instead of finishing (it stays paused),
     *     or the generator is running
     * @throws RuntimeException whatever other exception the body raised while closing
     */
    @Override
    public void close() {
        int s = state;
        if (s == CREATED && STATE.compareAndSet(this, CREATED, DONE)) {
            endedUnstarted = true;
            returned = new Step.Returned<>(null);
            state = DONE;
            return;
        }
        if (s == DONE) {
            return;
        }
        Step<Y, R> step;
        try {
            step = resume(null, new GeneratorExit(), false);
        } catch (GeneratorExit expected) {
            return;
        }
        if (!step.isDone()) {
            throw new IllegalStateException(
                    "generator ignored close(): it yielded a value after GeneratorExit was raised at its yield;"
                            + " let GeneratorExit propagate (clean up in finally) or return");
        }
    }

    /** Whether the body has finished (returned, failed or was closed). */
    public boolean isDone() {
        return state == DONE;
    }

    /** Whether the body has run to its first yield (or beyond) and has not finished. */
    public boolean isSuspended() {
        return state == SUSPENDED;
    }

    /**
     * The value the body returned.
     *
     * @throws IllegalStateException if the body has not finished, or finished without returning
     *     (closed or failed; a failure is the cause)
     */
    public R returnValue() {
        if (state != DONE) {
            throw new IllegalStateException("generator has not finished: resume it until a step isDone()");
        }
        if (endedUnstarted) {
            throw new IllegalStateException("generator returned no value: it was closed or thrown into before it started");
        }
        if (failure instanceof GeneratorExit) {
            throw new IllegalStateException("generator returned no value: it was closed", failure);
        }
        if (failure != null) {
            throw new IllegalStateException("generator failed and returned no value", failure);
        }
        return result;
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
                if (state == DONE) {
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
        String[] names = {"created", "suspended", "running", "done"};
        return "Generator[" + names[state] + ", scheduler=" + scheduler.name() + "]";
    }

    // ---- the body side ----

    private void runBody() {
        takeContext();
        try {
            result = body.run(yielder);
        } catch (Throwable t) {
            failure = t;
        }
        giveContext();
    }

    /** On the body's thread, after it gets control: the resumer's values become its own. */
    private void takeContext() {
        if (carryingContext) {
            CoroutineLocal.setThreadValues(threadContext);
        }
    }

    /** On the body's thread, before it gives control back: its values go back to the resumer. */
    private void giveContext() {
        if (carryingContext) {
            threadContext = CoroutineLocal.threadSnapshot();
        }
    }

    private final Yielder<Y, S> yielder = new Yielder<>() {
        @Override
        public S yield(Y value) {
            checkInsideBody("yield");
            yielded = value;
            giveContext();
            coroutine.suspend();
            takeContext();
            Throwable t = thrownIn;
            if (t != null) {
                thrownIn = null;
                throw Generator.<RuntimeException>sneaky(t);
            }
            @SuppressWarnings("unchecked")
            S in = (S) sent;
            sent = null;
            return in;
        }

        @Override
        public <R2> R2 yieldFrom(Generator<? extends Y, ? super S, ? extends R2> sub) {
            Objects.requireNonNull(sub, "sub");
            checkInsideBody("yieldFrom");
            Step<? extends Y, ? extends R2> step = sub.resume(null, null, true);
            while (true) {
                if (step instanceof Step.Returned<? extends Y, ? extends R2> r) {
                    return r.returnValue();
                }
                S in;
                try {
                    in = this.yield(step.value());
                } catch (GeneratorExit exit) {
                    sub.close();
                    throw exit;
                } catch (Throwable t) {
                    step = sub.resume(null, t, true);
                    continue;
                }
                step = sub.resume(in, null, true);
            }
        }
    };

    private void checkInsideBody(String what) {
        if (state != RUNNING || !coroutine.isCurrent()) {
            throw new IllegalStateException(what + " called outside the generator's body: a Yielder is valid"
                    + " only inside the body it was passed to, while that body runs");
        }
    }

    // ---- the caller side ----

    /**
     * @param sneakyFailures whether a failure of the body propagates as it is, even if checked
     *     (for yieldFrom, whose caller is another body), rather than wrapped
     */
    private Step<Y, R> resume(Object value, Throwable toThrow, boolean sneakyFailures) {
        // The hot path (a send to a paused body) is kept small so that callers inline it and the
        // JIT can drop the Step allocation; everything else is out of line.
        if (toThrow == null && state == SUSPENDED && STATE.compareAndSet(this, SUSPENDED, RUNNING)) {
            sent = value;
            if (!runCoroutine()) {
                Y y = yielded;
                yielded = null;
                state = SUSPENDED;
                return new Step.Yielded<>(y);
            }
            return finished(sneakyFailures);
        }
        return resumeSlow(value, toThrow, sneakyFailures);
    }

    private Step<Y, R> resumeSlow(Object value, Throwable toThrow, boolean sneakyFailures) {
        int s = state;
        if (s == DONE) {
            if (toThrow != null) {
                throw propagate(toThrow, sneakyFailures);
            }
            return returned;
        }
        if (s == CREATED) {
            if (toThrow != null) {
                if (STATE.compareAndSet(this, CREATED, DONE)) {
                    endedUnstarted = true;
                    returned = new Step.Returned<>(null);
                    state = DONE;
                    throw propagate(toThrow, sneakyFailures);
                }
                throw running();
            }
            if (value != null) {
                throw new IllegalStateException("can't send a non-null value to a just-started generator:"
                        + " call next() (or send(null)) first to run it to its first yield");
            }
        }
        if (s == RUNNING || !STATE.compareAndSet(this, s, RUNNING)) {
            throw running();
        }
        sent = value;
        thrownIn = toThrow;
        if (!runCoroutine()) {
            Y y = yielded;
            yielded = null;
            state = SUSPENDED;
            return new Step.Yielded<>(y);
        }
        return finished(sneakyFailures);
    }

    /** Runs the body until it yields or ends; returns whether it ended. */
    private boolean runCoroutine() {
        runner = Thread.currentThread();
        boolean carry = bodyOnOwnThread && Task.current() == null;
        if (carry) {
            threadContext = CoroutineLocal.threadSnapshot();
        }
        carryingContext = carry;
        try {
            return coroutine.resume();
        } catch (Throwable t) {
            // Only a scheduler fault gets here: runBody catches everything the body throws.
            failure = t;
            return true;
        } finally {
            runner = null;
            if (carry) {
                CoroutineLocal.setThreadValues(threadContext);
                threadContext = null;
            }
        }
    }

    private Step<Y, R> finished(boolean sneakyFailures) {
        returned = new Step.Returned<>(failure == null ? result : null);
        state = DONE;
        if (failure != null) {
            throw propagate(failure, sneakyFailures);
        }
        return returned;
    }

    private IllegalStateException running() {
        if (coroutine.isCurrent()) {
            return new IllegalStateException("generator is already running: its own body cannot resume it"
                    + " (next/send/throwInto/close called from inside the generator)");
        }
        Thread t = runner;
        return new IllegalStateException("generator is already running"
                + (t == null ? "" : " (resumed by thread \"" + t.getName() + "\")")
                + ": resume a generator from one place at a time");
    }

    private static RuntimeException propagate(Throwable t, boolean sneaky) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (sneaky) {
            throw Generator.<RuntimeException>sneaky(t);
        }
        return new CompletionException(t);
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
