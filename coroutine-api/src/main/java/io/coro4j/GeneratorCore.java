package io.coro4j;

import io.coro4j.spi.Coroutine;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.TimerThread;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * Everything of a {@link Generator} but the handle the user holds: its state, its coroutine and
 * the {@link Yielder} its body gets. The body's stack (a parked virtual thread on loom, a
 * continuation on threadpool) reaches this object, never the handle, so the handle becomes
 * unreachable when the user drops it even while the body is suspended; its {@link Abandonment}
 * then closes this core ({@link #closeAbandoned()}).
 *
 * <p>Thread-safety: as {@link Generator}'s; the state word is the only synchronization.
 */
final class GeneratorCore<Y, S, R> {

    private static final int CREATED = 0;
    private static final int SUSPENDED = 1;
    private static final int RUNNING = 2;
    private static final int DONE = 3;

    /**
     * Where the body is ({@link #bodyAt}): not started, running, paused at a yield, ended. Written by
     * the body, read by the resumer once the coroutine has given control back (or failed to take
     * it), so that a failure of the resumption machinery leaves the state the body is in.
     */
    private static final int BODY_NOT_STARTED = 0;
    private static final int BODY_RUNNING = 1;
    private static final int BODY_AT_YIELD = 2;
    private static final int BODY_ENDED = 3;

    /** What {@link #resume} returns once the body has finished; no body can yield it. */
    static final Object ENDED = new Object();

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(GeneratorCore.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Coroutine coroutine;
    /**
     * Null once it has ended, or once the generator ended before it ran: a finished generator
     * still held (for its return value) keeps nothing the body captured.
     */
    private Generator.Body<Y, S, R> body;
    final Scheduler scheduler;

    // Written with a volatile store after each resumption, so a generator handed to another thread
    // between resumptions is seen whole; the fields below piggyback on it.
    private volatile int state = CREATED;
    private Thread runner;
    private Object sent;
    private Throwable thrownIn;
    private Y yielded;
    private R result;
    private Throwable failure;
    /** The step a finished generator gives; made on first use ({@link #returnedStep()}). */
    private Step<Y, R> returned;
    private int bodyAt = BODY_NOT_STARTED;
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
    /**
     * The task of another kind of scheduler that steps the body now, where the body runs on a thread
     * of its own (loom) and so outside that task; null otherwise. Written by the resumer before it hands control
     * over, read by the body's thread (the hand-over orders them).
     */
    Task<?> stepper;
    private Map<CoroutineLocal<?>, Object> threadContext;
    /**
     * Carried with {@link #threadContext}: the task that waits for the {@link Coro#blocking} call
     * the resumer runs in, or null, so that the body is inside that call as it is on the
     * resumer's thread (a plain wait there for that task is refused, not a hang).
     */
    private Task<?> blockingFor;
    /**
     * Carried with {@link #threadContext}: the generator whose body, stepped by a task of another
     * scheduler kind, the resumer runs in ({@link Coro#STEPPED_BY}), or null, so that a loom body
     * stepped there is inside that body as the resumer is (that task waits for both).
     */
    private GeneratorCore<?, ?, ?> steppedBy;
    /**
     * The watch on the handle ({@link Abandonment}), made when the body first suspends (before
     * that there is nothing to close) and dropped when it ends.
     */
    private Abandonment abandonment;

    GeneratorCore(Scheduler scheduler, Generator.Body<Y, S, R> body) {
        this.scheduler = scheduler;
        this.body = body;
        this.coroutine = scheduler.newCoroutine(this::runBody);
        this.bodyOnOwnThread = !coroutine.runsOnResumerThread();
    }

    void close() {
        close(false);
    }

    /**
     * {@link #close()}; with {@code sneakyFailures} (for yieldFrom, whose caller is another body)
     * a checked failure of the body while closing comes out as it is, rather than wrapped.
     */
    void close(boolean sneakyFailures) {
        int s = state;
        if (s == CREATED && STATE.compareAndSet(this, CREATED, RUNNING)) {
            endedUnstarted = true; // no call between the two writes: see resume
            state = DONE;
            body = null;
            return;
        }
        if (s == DONE) {
            return;
        }
        Object step;
        try {
            step = resume(null, null, new GeneratorExit(), sneakyFailures);
        } catch (GeneratorExit exit) {
            // What failed while the signal unwound the body and was suppressed on it (a resource of
            // try-with-resources that failed to close) is a failure of the body while closing, as a
            // failing finally block's is: thrown, the first to fail with the others on it.
            Throwable[] suppressed = exit.getSuppressed();
            if (suppressed.length == 0) {
                return;
            }
            Throwable first = suppressed[0];
            for (int i = 1; i < suppressed.length; i++) {
                first.addSuppressed(suppressed[i]);
            }
            throw propagate(first, sneakyFailures);
        }
        if (step != ENDED) {
            throw new IllegalStateException(
                    "generator ignored close(): it yielded a value after GeneratorExit was raised at its yield;"
                            + " let GeneratorExit propagate (clean up in finally) or return");
        }
    }

    boolean isDone() {
        return state == DONE;
    }

    boolean isSuspended() {
        return state == SUSPENDED;
    }

    R returnValue() {
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

    String stateName() {
        return new String[] {"created", "suspended", "running", "done"}[state];
    }

    // ---- the body side ----

    private void runBody() {
        bodyAt = BODY_RUNNING;
        try {
            takeContext();
            result = body.run(yielder);
        } catch (Throwable t) {
            failure = t;
        } finally {
            body = null;
        }
        bodyAt = BODY_ENDED;
        giveContext();
    }

    /** On the body's thread, after it gets control: the resumer's values become its own. */
    private void takeContext() {
        if (carryingContext) {
            CoroutineLocal.setThreadValues(threadContext);
            Coro.BLOCKING_FOR.set(blockingFor);
            if (steppedBy != null) {
                Coro.STEPPED_BY.set(steppedBy);
            }
        } else if (stepper != null) {
            Coro.STEPPED_BY.set(this);
        }
    }

    /**
     * On the body's thread, before it gives control back: its values go back to the resumer, and
     * leave the body's thread, which would otherwise keep them (and the task of the resumer's
     * blocking call) while it waits for the next step, however long the generator stays paused.
     */
    private void giveContext() {
        if (carryingContext) {
            threadContext = CoroutineLocal.threadSnapshot();
            CoroutineLocal.clearThreadValues();
            Coro.BLOCKING_FOR.remove();
            if (steppedBy != null) {
                Coro.STEPPED_BY.remove();
            }
        } else if (stepper != null) {
            Coro.STEPPED_BY.remove();
        }
    }

    private final Yielder<Y, S> yielder = new Yielder<>() {
        @Override
        public S yield(Y value) {
            checkInsideBody("yield");
            pause(value);
            Throwable t = thrownIn;
            if (t != null) {
                thrownIn = null;
                throw Coro.<RuntimeException>sneaky(t);
            }
            return takeSent();
        }

        @Override
        public <R2> R2 yieldFrom(Generator<? extends Y, ? super S, ? extends R2> sub) {
            Objects.requireNonNull(sub, "sub");
            checkInsideBody("yieldFrom");
            // The handle stays in this frame, so the sub-generator is not abandoned while delegated to.
            Step<? extends Y, ? extends R2> step = sub.resumeFromBody(null, null);
            while (true) {
                if (step instanceof Step.Returned<? extends Y, ? extends R2> r) {
                    return r.returnValue();
                }
                // Not through yield(): only what the resumer throws in goes to the sub-generator. A
                // failure of this body's own suspension (threadpool: under a native frame) comes out
                // of here as it is, as out of a yield, and is not thrown into the sub-generator.
                pause(step.value());
                Throwable t = thrownIn;
                if (t != null) {
                    thrownIn = null;
                    if (t instanceof GeneratorExit exit) {
                        sub.closeFromBody(); // what it throws while closing reaches this body as it is
                        throw exit;
                    }
                    step = sub.resumeFromBody(null, t);
                    continue;
                }
                step = sub.resumeFromBody(takeSent(), null);
            }
        }
    };

    /**
     * On the body's side: hands {@code value} out and suspends until resumed. What the resumer sent or
     * threw in is then in {@link #sent} and {@link #thrownIn}, for the caller to take; a failure of
     * the suspension itself propagates, with nothing sent or thrown in.
     */
    private void pause(Y value) {
        yielded = value;
        giveContext();
        bodyAt = BODY_AT_YIELD;
        try {
            coroutine.suspend();
        } finally {
            bodyAt = BODY_RUNNING; // resumed, or the suspension failed and the body goes on
        }
        takeContext();
    }

    /** On the body's side, after {@link #pause}: the value sent in, taken. */
    @SuppressWarnings("unchecked")
    private S takeSent() {
        S in = (S) sent;
        sent = null;
        return in;
    }

    private void checkInsideBody(String what) {
        if (state != RUNNING || !coroutine.isCurrent()) {
            throw new IllegalStateException(what + " called outside the generator's body: a Yielder is valid"
                    + " only inside the body it was passed to, while that body runs");
        }
    }

    // ---- the caller side ----

    /**
     * @param handle the handle this core belongs to, registered for {@link #closeAbandoned()} when
     *     the body first suspends; null when the caller is this core itself, closing
     * @param sneakyFailures whether a failure of the body propagates as it is, even if checked
     *     (for yieldFrom, whose caller is another body), rather than wrapped
     * @return the value the body yielded, or {@link #ENDED} if it has finished ({@link #returnedStep()})
     */
    Object resume(Generator<Y, S, R> handle, Object value, Throwable toThrow, boolean sneakyFailures) {
        // The hot path (a send to a paused body) is kept small; everything else is out of line.
        // It returns the bare value, not a Step: C2 compiles this method on its own once it is
        // hot, with the coroutine switch inlined, usually too big to inline into its callers after
        // that, so a Step made here would escape; made by the caller (Generator.step), it does not.
        // Not always: C2 inlines a method the interpreter saw throw often ("many throws": a body
        // closed, or failing, through here) whatever its compiled size, and then inlines this into
        // the OSR code of a loop that steps a generator (a body's, yieldFrom's). Nothing here may
        // rely on it staying out of line: the thread read in runCoroutine (runner, for a message)
        // may then be that of the thread that ran the loop before it was resumed on another.
        if (toThrow == null && state == SUSPENDED && STATE.compareAndSet(this, SUSPENDED, RUNNING)) {
            sent = value;
            boolean ended;
            try {
                ended = runCoroutine();
            } catch (Throwable t) {
                // The machinery's failure, not the body's (runBody catches those); written out, not
                // a call, here and in resumeSlow, because a call may overflow the stack again.
                sent = null;
                yielded = null;
                int at = bodyAt;
                state = at == BODY_ENDED ? DONE : at == BODY_NOT_STARTED ? CREATED : SUSPENDED;
                throw t;
            }
            if (!ended) {
                Y y = yielded;
                yielded = null;
                state = SUSPENDED;
                return y;
            }
            return finished(sneakyFailures);
        }
        return resumeSlow(handle, value, toThrow, sneakyFailures);
    }

    private Object resumeSlow(Generator<Y, S, R> handle, Object value, Throwable toThrow, boolean sneakyFailures) {
        int s = state;
        if (s == DONE) {
            if (toThrow != null) {
                throw propagate(toThrow, sneakyFailures);
            }
            return ENDED;
        }
        if (s == CREATED) {
            if (toThrow != null) {
                if (STATE.compareAndSet(this, CREATED, RUNNING)) {
                    endedUnstarted = true;
                    state = DONE;
                    body = null;
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
        boolean ended;
        try {
            ended = runCoroutine();
        } catch (Throwable t) {
            sent = null;
            thrownIn = null;
            yielded = null;
            int at = bodyAt;
            state = at == BODY_ENDED ? DONE : at == BODY_NOT_STARTED ? CREATED : SUSPENDED;
            throw t;
        }
        if (!ended) {
            Y y = yielded;
            yielded = null;
            if (abandonment == null && handle != null) {
                try {
                    abandonment = Abandonment.watch(handle, this);
                } catch (Throwable t) {
                    state = SUSPENDED; // paused at its yield, unwatched; the value it yielded is lost
                    throw t;
                }
            }
            state = SUSPENDED;
            return y;
        }
        return finished(sneakyFailures);
    }

    /**
     * Runs the body until it yields or ends; returns whether it ended. A throwable out of here is
     * the machinery's, not the body's (runBody catches those): most likely a
     * {@link StackOverflowError} of a resumer deep in its stack, thrown before the body got control
     * or after it gave control back (a coroutine that fails while its body may be running fails
     * every later resumption too; see {@link Coroutine#resume()}). The callers then give the
     * generator the state its body is in ({@link #bodyAt}): not started, paused at a yield (whatever
     * it yielded is lost) or ended.
     */
    private boolean runCoroutine() {
        runner = Thread.currentThread();
        Task<?> resumerTask = bodyOnOwnThread ? Task.current() : null;
        boolean carry = bodyOnOwnThread && resumerTask == null;
        if (resumerTask != null && !resumerTask.scheduler.kind().equals(scheduler.kind())) {
            // The body's thread runs outside this task (a loom body stepped by a threadpool task;
            // stepped by a task of its own kind, it runs as part of it): what the body is refused
            // names the task, and a close() of the task's scheduler there is refused.
            stepper = resumerTask;
        }
        if (carry) {
            threadContext = CoroutineLocal.threadSnapshot();
            blockingFor = (Task<?>) FreshThreadLocals.get(Coro.BLOCKING_FOR);
            steppedBy = (GeneratorCore<?, ?, ?>) FreshThreadLocals.get(Coro.STEPPED_BY);
        }
        carryingContext = carry;
        try {
            return coroutine.resume();
        } finally {
            runner = null;
            stepper = null;
            if (carry) {
                CoroutineLocal.setThreadValues(threadContext);
                threadContext = null;
                blockingFor = null;
                steppedBy = null;
            }
        }
    }

    private Object finished(boolean sneakyFailures) {
        state = DONE; // first: nothing that fails below may leave the generator running
        Abandonment a = abandonment;
        if (a != null) {
            abandonment = null;
            a.drop(); // and with it the watch's hold on this core
        }
        if (failure != null) {
            throw propagate(failure, sneakyFailures);
        }
        return ENDED;
    }

    /**
     * The step of a finished generator, made by whoever first needs it (two threads may each make
     * one, equal): not when the generator finishes, where a failure to allocate would leave it
     * running.
     */
    Step<Y, R> returnedStep() {
        Step<Y, R> r = returned;
        if (r == null) {
            returned = r = new Step.Returned<>(failure == null ? result : null);
        }
        return r;
    }

    private IllegalStateException running() {
        if (coroutine.isCurrent()) {
            return new IllegalStateException("generator is already running: its own body cannot resume it"
                    + " (next/send/throwInto/close called from inside the generator)");
        }
        Thread t = runner;
        // A task's thread names no task (loom: every task's thread has one name; threadpool: the
        // carrier may be the refused task's own), so a task is told what to look for instead. Not
        // only another task or thread: code the body runs (a generator it steps, which resumes
        // this one) resumes it too, and then the resumer is the caller's own task or thread.
        String by = Task.current() != null ? " (another task or thread is resuming it, or this task is, further up its stack)"
                : t == null ? ""
                : t == Thread.currentThread() ? " (resumed by this thread, \"" + t.getName() + "\", further up its stack)"
                : " (resumed by thread \"" + t.getName() + "\")";
        return new IllegalStateException("generator is already running" + by
                + ": resume a generator from one place at a time, and not from code it runs (a generator its body steps, say)");
    }

    // ---- abandonment ----

    /**
     * What the {@link Abandonment} watch does once the handle is unreachable: a body still
     * suspended is closed, as Python closes a generator it collects, in a task of its own on the
     * generator's scheduler (or, that shut down, on a virtual thread of its own), so that its
     * {@code finally} blocks may await and the watching thread never runs user code.
     */
    void closeAbandoned() {
        if (state != SUSPENDED) {
            return; // not suspended now: the handle became unreachable while the body ran or after it ended
        }
        Task<Void> closing = new Task<>(scheduler, () -> {
            closeReportingFailure();
            return null;
        }, null, Map.of());
        // A task the body's finally blocks spawned that failed, and that nobody joined, fails the
        // closing task (as any task's unjoined child fails it); nobody joins that either, so its
        // failure is reported as the close's own is, not lost. Registered before the start, so
        // that it is reported on the thread the closing task ends on.
        closing.whenDone(() -> {
            Throwable failure = closing.failure();
            if (failure != null) {
                reportCloseFailure(failure);
            }
        });
        try {
            closing.start();
        } catch (RejectedExecutionException shutDown) {
            Thread.ofVirtual().name("coro4j-closing-abandoned-generator").start(this::closeReportingFailure);
        }
    }

    private void closeReportingFailure() {
        try {
            close();
        } catch (Throwable t) {
            reportCloseFailure(t);
        }
    }

    /**
     * Nobody holds the generator to hear of {@code t}: as an exception escaping a thread would be.
     * What the handler throws is ignored, as the JVM ignores it: passed on, it would fail the
     * closing task, whose failure is reported here again, as if closing had failed with it.
     */
    private static void reportCloseFailure(Throwable t) {
        TimerThread.reportUncaught(new IllegalStateException(
                "closing a generator that was left suspended and became unreachable failed: " + t
                        + " (close generators you do not run to the end)", t));
    }

    // ---- exceptions ----

    private static RuntimeException propagate(Throwable t, boolean sneaky) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (sneaky) {
            throw Coro.<RuntimeException>sneaky(t);
        }
        return new CompletionException(t);
    }
}
