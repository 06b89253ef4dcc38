package io.coro4j.http;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An {@link HttpClientObserver} as the client calls it: it times the events, turns exceptions into
 * outcomes, and makes sure nothing the observer throws reaches the request (see the observer's
 * contract). The client holds one per observer, and only while an observer is set: with none, a
 * request pays a null check per event and nothing else. Thread-safe.
 */
final class Observation {

    final HttpClientObserver observer;
    /** Whether a throwable of this observer was reported already: one report, not one per request. */
    private final AtomicBoolean reported = new AtomicBoolean();

    Observation(HttpClientObserver observer) {
        this.observer = observer;
    }

    void queued(String host) {
        try {
            observer.requestQueued(host);
        } catch (Throwable t) {
            misbehaved(t);
        }
    }

    /** Reports a slot taken by an attempt that started to queue at {@code queuedAt}; returns now, when its exchange starts. */
    long slotAcquired(String host, long queuedAt) {
        long now = System.nanoTime();
        try {
            observer.slotAcquired(host, now - queuedAt);
        } catch (Throwable t) {
            misbehaved(t);
        }
        return now;
    }

    /** Reports an attempt, started at {@code start}, that got a response with {@code status}. */
    void finished(String host, String method, int status, long start) {
        long duration = System.nanoTime() - start;
        try {
            observer.requestFinished(host, method, status, RequestOutcome.ofStatus(status), duration);
        } catch (Throwable t) {
            misbehaved(t);
        }
    }

    /** Reports an attempt, started (or queued) at {@code start}, that failed with {@code failure}. */
    void failed(String host, String method, Throwable failure, long start) {
        long duration = System.nanoTime() - start;
        try {
            observer.requestFinished(host, method, -1, RequestOutcome.ofFailure(failure), duration);
        } catch (Throwable t) {
            misbehaved(t);
        }
    }

    void retrying(String host, String method, int attempt) {
        try {
            observer.retrying(host, method, attempt);
        } catch (Throwable t) {
            misbehaved(t);
        }
    }

    /**
     * An observer threw: the first time, the current thread's uncaught-exception handler hears of
     * it (it prints it, by default); later, nothing does. Errors too are swallowed: rethrowing
     * would leave the client between two steps (a slot taken and not yet owned by a try block).
     */
    private void misbehaved(Throwable t) {
        if (reported.compareAndSet(false, true)) {
            try {
                Thread me = Thread.currentThread();
                me.getUncaughtExceptionHandler().uncaughtException(me, t);
            } catch (Throwable ignored) {
                // the handler failed too: nothing sensible is left to do with it
            }
        }
    }
}
