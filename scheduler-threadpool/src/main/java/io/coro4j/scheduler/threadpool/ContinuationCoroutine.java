package io.coro4j.scheduler.threadpool;

import io.coro4j.spi.Coroutine;

/**
 * A coroutine of {@link ThreadPoolScheduler}: a continuation of the generator scope, run on the
 * thread that resumes it. Resuming and suspending are a continuation mount and yield: no thread
 * switch, no lock.
 */
final class ContinuationCoroutine implements Coroutine {

    private final ThreadPoolScheduler scheduler;
    private final Object continuation;
    private boolean done;

    ContinuationCoroutine(ThreadPoolScheduler scheduler, Runnable body) {
        this.scheduler = scheduler;
        this.continuation = Continuations.create(Continuations.GENERATOR_SCOPE, body);
    }

    @Override
    public boolean resume() {
        if (done) {
            throw new IllegalStateException("coroutine has ended");
        }
        // The body and the resumer share the thread: each finds its own ScopedValue bindings on
        // its stack (the body's frames are above the resumer's while it runs, so it sees both).
        Thread thread = Continuations.carrierThread();
        ScopedValueBindings.forget(thread);
        try {
            Continuations.run(continuation);
        } finally {
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

    @Override
    public void suspend() {
        // The API checked isCurrent() already (see Coroutine#suspend): not again on the hot path.
        try {
            Continuations.yield(Continuations.GENERATOR_SCOPE);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("generator cannot yield here (" + e.getMessage() + "): on the"
                    + " threadpool scheduler a body cannot yield while holding a monitor (inside synchronized)"
                    + " or under a native frame", e);
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
