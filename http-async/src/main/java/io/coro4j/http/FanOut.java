package io.coro4j.http;

import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.internal.TaskHandle;
import io.coro4j.internal.Tasks;
import io.coro4j.spi.Scheduler;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One {@code sendAll}/{@code sendAllSettled}: every request gets its own outcome, in input order.
 *
 * <p>How: an event loop on the calling task, as asyncio's is. The caller queues every request for
 * a slot as a {@link SlotLimiter.Grant callback}. A grant, on whichever thread freed the slot,
 * posts an event to the caller ({@link #events}, a lock-free MPSC queue) and wakes it; the caller
 * starts the exchange ({@link AsyncHttpClient#begin}, which never suspends); the exchange's
 * completion posts another event; the caller turns it into the request's outcome
 * ({@link AsyncHttpClient#end}). A fan-out of 10,000 URLs with 100 slots thus costs the caller
 * about one wake-up per request, no task per request, and 9,900 small queue entries: the same
 * shape as {@code sendAsync} with a semaphore, which is what it is measured against. The queue is
 * the limiter's, so the order across hosts, the bounds, the slot-wait timeout and the request
 * deadline are those of single requests. Only a request that is to be retried (a retry policy
 * said so after its first attempt) gets a task of its own, in a supervisor {@link TaskGroup} of
 * the caller, to sleep its backoff and go on with {@link AsyncHttpClient#send}.
 *
 * <p>Fail-fast: the first failure stops the fan-out: the requests still queued leave the queue,
 * the exchanges in flight are cancelled (which aborts them and closes their connections), retry
 * tasks are cancelled, the caller waits until every request has an outcome, and throws the
 * failure with the others suppressed. A cancellation of the calling task does the same and
 * rethrows the cancellation. Nothing started by the call outlives it.
 *
 * <p>Threads: everything but the {@link SlotLimiter.Grant} callbacks, the completion callbacks and
 * {@link #record} (also called by retry tasks) runs on the calling task. Each index's outcome is
 * written once, before {@link #finished} is incremented, and read by the caller after it has seen
 * the count (or {@link #firstFailure}) move: the atomic gives the happens-before.
 */
final class FanOut {

    /** A request whose slot was granted ({@code start}: when, if observed). */
    private record Granted(int index, URI uri, SlotLimiter.Permit permit, long start) {}

    /** A request whose exchange has completed. */
    private record Completed(int index) {}

    /**
     * A retry task for request {@code index}, and who records its outcome: its body, if it claims
     * it first ({@code 0 -> 1}), or {@link #stop()} ({@code 0 -> 2}), since a task cancelled before
     * it starts never runs its body.
     */
    private record Retry(int index, Task<Void> task, AtomicInteger claim) {}

    private final AsyncHttpClient client;
    private final List<Request> requests;
    private final boolean failFast;
    private final int n;
    private final Response[] values;
    private final Throwable[] failures;
    /** Caller only: each request's queue entry (null if it was never queued). */
    private final SlotLimiter.Waiter[] queued;
    /** Caller only: each request's exchange while it is in flight. */
    private final AsyncHttpClient.Exchange[] inFlight;
    private final AtomicInteger finished = new AtomicInteger();
    private final AtomicInteger firstFailure = new AtomicInteger(-1);
    /** MPSC: grant and completion callbacks offer from any thread, only the caller polls. */
    private final ConcurrentLinkedQueue<Object> events = new ConcurrentLinkedQueue<>();
    private final TaskHandle caller;
    private final Scheduler scheduler;
    /** The client's observer when the fan-out started, for all its first attempts; null if none. */
    private final Observation obs;
    /** Caller only, when observed: each request's host key and when it was queued (nanoTime). */
    private final String[] hosts;
    private final long[] queuedAt;
    /** Caller only. */
    private final List<Retry> retries = new ArrayList<>();
    private TaskGroup group;
    private int processed;
    private boolean stopped;

    private FanOut(AsyncHttpClient client, List<Request> requests, boolean failFast) {
        this.client = client;
        this.requests = requests;
        this.failFast = failFast;
        this.n = requests.size();
        this.values = new Response[n];
        this.failures = new Throwable[n];
        this.queued = new SlotLimiter.Waiter[n];
        this.inFlight = new AsyncHttpClient.Exchange[n];
        this.caller = Tasks.current("AsyncHttpClient.sendAll");
        this.scheduler = Coro.currentTask().scheduler();
        this.obs = client.observation();
        this.hosts = obs == null ? null : new String[n];
        this.queuedAt = obs == null ? null : new long[n];
    }

    /** Every outcome, in input order; see {@link AsyncHttpClient#sendAllSettled}. */
    static List<Outcome<Response>> settled(AsyncHttpClient client, List<Request> requests) {
        FanOut f = new FanOut(client, requests, false);
        f.run();
        List<Outcome<Response>> out = new ArrayList<>(f.n);
        for (int i = 0; i < f.n; i++) {
            out.add(f.failures[i] == null ? new Outcome.Success<>(f.values[i]) : new Outcome.Failure<>(f.failures[i]));
        }
        return out;
    }

    /** Every response, in input order, or the first failure; see {@link AsyncHttpClient#sendAll}. */
    static List<Response> failFast(AsyncHttpClient client, List<Request> requests) {
        FanOut f = new FanOut(client, requests, true);
        f.run();
        int first = f.firstFailure.get();
        if (first >= 0) {
            Throwable primary = f.failures[first];
            for (Throwable other : f.failures) {
                if (other != null && other != primary && !(other instanceof CancellationException)) {
                    primary.addSuppressed(other);
                }
            }
            throw Failures.sneaky(primary);
        }
        List<Response> out = new ArrayList<>(f.n);
        for (int i = 0; i < f.n; i++) {
            out.add(f.values[i]);
        }
        return out;
    }

    private void run() {
        if (n == 0) {
            return;
        }
        try {
            Coro.supervisorGroup(g -> {
                group = g;
                try {
                    queueAll();
                    while (!over()) {
                        handleEvents();
                        if (!over()) {
                            caller.park();
                        }
                    }
                } catch (Throwable e) { // the caller was cancelled
                    stop();
                    throw e;
                }
                if (finished.get() < n) { // a failure, fail-fast
                    stop();
                }
                return null;
            });
        } catch (Exception e) {
            throw Failures.sneaky(e);
        }
    }

    private boolean over() {
        return finished.get() == n || (failFast && firstFailure.get() >= 0);
    }

    /** Queues each request for a slot, or records why it cannot be; starts those granted as it goes. */
    private void queueAll() {
        for (int i = 0; i < n; i++) {
            caller.checkCancelled();
            if (failFast && firstFailure.get() >= 0) {
                return;
            }
            Request r = requests.get(i);
            int index = i;
            String host = null;
            long since = 0;
            try {
                URI uri = AsyncHttpClient.validate(r);
                host = AsyncHttpClient.hostKey(uri);
                String hostKey = host;
                if (obs != null) {
                    hosts[i] = host;
                    queuedAt[i] = since = System.nanoTime();
                }
                long queuedSince = since;
                queued[i] = client.slots().enqueue(host, client.slotWaitTimeout(),
                        client.timeoutOf(r), scheduler, new SlotLimiter.Grant() {
                            @Override
                            public void granted(SlotLimiter.Permit permit) {
                                long start = obs == null ? 0 : obs.slotAcquired(hostKey, queuedSince);
                                post(new Granted(index, uri, permit, start));
                            }

                            @Override
                            public void expired(String limits) {
                                SlotWaitTimeoutException e = new SlotWaitTimeoutException(r.method(), r.url(),
                                        client.slotWaitTimeout(), limits);
                                if (obs != null) {
                                    obs.failed(hostKey, r.method(), e, queuedSince);
                                }
                                record(index, null, e);
                            }
                        }, r.method(), r.url(), obs == null ? null : obs::queued);
            } catch (HttpRequestException e) { // an invalid URL (no host: not observed), or the queue is full
                if (obs != null && host != null) {
                    obs.failed(host, r.method(), e, since);
                }
                record(i, null, e);
            }
            processed = i + 1;
            if (!events.isEmpty()) {
                handleEvents();
            }
        }
    }

    private void post(Object event) {
        events.offer(event);
        caller.wake();
    }

    /** Handles the events posted so far: starts granted exchanges, turns completed ones into outcomes. */
    private void handleEvents() {
        Object e;
        while ((e = events.poll()) != null) {
            if (e instanceof Granted g) {
                start(g.index(), g.uri(), g.permit(), g.start());
            } else {
                complete(((Completed) e).index());
            }
        }
    }

    private void start(int i, URI uri, SlotLimiter.Permit permit, long start) {
        if (stopped) {
            permit.release();
            CancellationException e = cancelled(i);
            if (obs != null) {
                obs.failed(hosts[i], requests.get(i).method(), e, start);
            }
            record(i, null, e);
            return;
        }
        if (client.isClosed()) {
            permit.release();
            IllegalStateException e = AsyncHttpClient.closedError();
            if (obs != null) {
                obs.failed(hosts[i], requests.get(i).method(), e, start);
            }
            record(i, null, e);
            return;
        }
        AsyncHttpClient.Exchange x;
        try {
            x = client.begin(requests.get(i), uri, 1, permit, obs, start);
        } catch (RuntimeException | Error t) { // begin gave the slot back, and reported the failure
            record(i, null, t);
            return;
        }
        inFlight[i] = x;
        x.future.whenComplete((r, t) -> post(new Completed(i)));
    }

    private void complete(int i) {
        AsyncHttpClient.Exchange x = inFlight[i];
        inFlight[i] = null;
        Response response = null;
        Throwable failure = null;
        try {
            response = client.end(x);
        } catch (RuntimeException | Error t) {
            failure = t;
        }
        Duration delay;
        try {
            delay = stopped ? null : client.retryDelay(requests.get(i), 1, response, failure);
        } catch (RuntimeException | Error e) {
            // This request's outcome: thrown, it would end the fan-out with this request never
            // recorded, and stop() would wait for it for ever.
            if (failure != null) {
                e.addSuppressed(failure);
            }
            record(i, null, e);
            return;
        }
        if (delay == null) {
            record(i, response, failure);
            return;
        }
        List<HttpRequestException> earlier = failure == null ? null : new ArrayList<>(List.of((HttpRequestException) failure));
        AtomicInteger claim = new AtomicInteger();
        try {
            retries.add(new Retry(i, group.spawn(() -> {
                if (!claim.compareAndSet(0, 1)) {
                    return null; // stopped before it began: stop() recorded it
                }
                Response r = null;
                Throwable t = null;
                try {
                    Coro.sleep(delay);
                    // Reported once the delay is over: a fan-out stopped during it makes no retry.
                    // Not on a client closed meanwhile: send refuses the attempt, so none is made.
                    if (obs != null && !client.isClosed()) {
                        obs.retrying(hosts[i], requests.get(i).method(), 1);
                    }
                    r = client.send(requests.get(i), x.uri, 2, earlier);
                } catch (Throwable e) {
                    t = e;
                }
                record(i, r, t);
                return null;
            }), claim));
        } catch (RuntimeException e) { // the scheduler is shut down
            record(i, response, failure);
        }
    }

    /**
     * Stops the fan-out and waits until every request has an outcome: cancels the exchanges in
     * flight and the retry tasks, takes the queued requests out of the queue, and records those
     * never queued as cancelled.
     */
    private void stop() {
        stopped = true;
        for (Retry r : retries) {
            r.task().cancel();
            // Not begun, it never will (cancelled before it started): its outcome is recorded here,
            // or this would wait for it for ever.
            if (r.claim().compareAndSet(0, 2)) {
                record(r.index(), null, new CancellationException("cancelled before its retry started: "
                        + requests.get(r.index())));
            }
        }
        for (int i = 0; i < n; i++) {
            AsyncHttpClient.Exchange x = inFlight[i];
            if (x != null) {
                x.future.cancel(true); // aborts it; its completion event records the outcome
            }
            if (i >= processed) {
                record(i, null, cancelled(i)); // never queued: not observed
            } else if (queued[i] != null && client.slots().cancel(queued[i])) {
                CancellationException e = cancelled(i);
                if (obs != null) {
                    obs.failed(hosts[i], requests.get(i).method(), e, queuedAt[i]);
                }
                record(i, null, e);
            }
        }
        while (finished.get() < n) {
            handleEvents();
            if (finished.get() < n) {
                caller.parkUninterruptibly();
            }
        }
    }

    private CancellationException cancelled(int i) {
        return new CancellationException("cancelled before it started: " + requests.get(i));
    }

    /** Records request {@code i}'s outcome; wakes the caller when all are in, or at the first failure (fail-fast). Any thread. */
    private void record(int i, Response value, Throwable failure) {
        values[i] = value;
        failures[i] = failure;
        int done = finished.incrementAndGet();
        // The failure is claimed before anything else is checked: a last outcome that is a failure
        // must still become the one failFast throws.
        boolean first = failFast && failure != null && firstFailure.compareAndSet(-1, i);
        if (first || done == n) {
            caller.wake();
        }
    }
}
