package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Coroutine;

/**
 * A coroutine of {@link ThreadPoolScheduler}: a continuation of the generator scope, run on the
 * thread that resumes it. Resuming and suspending are a continuation mount and yield: no thread
 * switch, no lock.
 */
final class ContinuationCoroutine extends OwnThreadState implements Coroutine {

    private final ThreadPoolScheduler scheduler;
    private final Object continuation;
    /** One step of the body, run inside {@link ScopedValueBindings#runApart}: made once, not per step. */
    private final Runnable step;
    private boolean done;
    /** Whether the body has run: until then, its context class loader is its first resumer's. */
    private boolean started;

    ContinuationCoroutine(ThreadPoolScheduler scheduler, Runnable body) {
        this.scheduler = scheduler;
        this.continuation = Continuations.create(Continuations.GENERATOR_SCOPE, body);
        this.step = this::step;
    }

    @Override
    public boolean resume() {
        if (done) {
            throw new IllegalStateException("coroutine has ended");
        }
        // The body and the resumer share the thread, and each keeps what the JDK keeps per
        // thread, as a generator body on loom (a virtual thread of its own) does: the interrupt
        // status and context class loader are swapped around the run; ScopedValue bindings are
        // left for each to find on its own stack, where the body's stop just below the bottom of
        // its continuation (ScopedValueBindings.runApart, around each step).
        Thread thread = Continuations.carrierThread();
        // Plain reads first: in the common case nothing is set and nothing needs swapping.
        boolean resumerInterrupted = thread.isInterrupted();
        ClassLoader resumerLoader = thread.getContextClassLoader();
        boolean swapped = resumerInterrupted || interrupted || !started || contextClassLoader != resumerLoader;
        if (swapped) {
            enterBody(thread, resumerInterrupted, resumerLoader);
        }
        try {
            ScopedValueBindings.runApart(step);
        } finally {
            if (swapped || thread.isInterrupted() || thread.getContextClassLoader() != resumerLoader) {
                leaveBody(thread, resumerInterrupted, resumerLoader);
            }
            ScopedValueBindings.forget(thread);
            done = Continuations.isDone(continuation);
            // One striped counter per resumption, not a carrier lookup: each resumption ends in a
            // suspension or a completion, and resumptions are derived (their sum), so that both
            // totals only grow.
            if (done) {
                scheduler.coroutineCompletions.increment();
            } else {
                scheduler.coroutineSuspensions.increment();
            }
        }
        return done;
    }

    /** Mounts the body until it yields or ends; inside the barrier binding, on the resumer's thread. */
    private void step() {
        ScopedValueBindings.forget(Continuations.carrierThread()); // the body finds its own bindings on its own frames
        Continuations.run(continuation);
    }

    /** Gives the thread the body's interrupt status and loader (the first time, the resumer's loader). */
    private void enterBody(Thread thread, boolean resumerInterrupted, ClassLoader resumerLoader) {
        if (resumerInterrupted) {
            Thread.interrupted();
        }
        if (!started) {
            started = true;
            contextClassLoader = resumerLoader; // as a new thread starts with its creator's
        }
        putOn(thread);
    }

    /** Keeps the body's interrupt status and loader, and gives the thread back the resumer's. */
    private void leaveBody(Thread thread, boolean resumerInterrupted, ClassLoader resumerLoader) {
        takeFrom(thread);
        if (contextClassLoader != resumerLoader) {
            thread.setContextClassLoader(resumerLoader);
        }
        if (resumerInterrupted) {
            thread.interrupt();
        }
    }

    @Override
    public void suspend() {
        // The API checked isCurrent() already (see Coroutine#suspend): not again on the hot path.
        try {
            Continuations.yield(Continuations.GENERATOR_SCOPE);
        } catch (IllegalStateException e) {
            throw Continuations.cannotYield(e, "generator cannot yield here", "a body cannot yield", "");
        }
    }

    @Override
    public boolean isDone() {
        return done;
    }

    @Override
    public boolean isCurrent() {
        return Continuations.current(Continuations.GENERATOR_SCOPE) == continuation;
    }
}
