package io.coro4j.http;

import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.internal.Tasks;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;

/**
 * An HTTP client for coroutines: each call suspends the calling task until the response is
 * complete, and never blocks its carrier thread. Built on {@link java.net.http.HttpClient}
 * ({@code sendAsync}; HTTP/1.1 and HTTP/2, TLS), with what a fan-out over many URLs needs on top:
 *
 * <ul>
 *   <li><b>Limits</b>: at most {@link Builder#maxInFlight} requests in flight (default
 *       {@value #DEFAULT_MAX_IN_FLIGHT}, as aiohttp) and {@link Builder#maxInFlightPerHost} per
 *       host (default {@value #DEFAULT_MAX_IN_FLIGHT_PER_HOST}); further requests wait in a FIFO
 *       queue of at most {@link Builder#maxWaiting} (default {@value #DEFAULT_MAX_WAITING}), and
 *       beyond that are refused with {@link HttpRejectedException}. A host is a scheme, host name
 *       and port; the limits count requests, not connections (over HTTP/2 many requests share one).</li>
 *   <li><b>Deadlines</b> on every call: {@link Builder#connectTimeout} (default 10 s), a
 *       whole-request {@link Builder#requestTimeout} (default 30 s: connecting, sending, headers and
 *       the whole body), and a separate {@link Builder#slotWaitTimeout} (default 30 s) for the
 *       wait for a slot, which does not eat into the request's deadline. Each throws its own
 *       {@link HttpTimeoutException} naming the URL.</li>
 *   <li><b>Bodies</b> read whole into memory up to {@link Builder#maxBodySize} (default 32 MiB),
 *       gzip and deflate decoded (the client sends {@code Accept-Encoding: gzip, deflate}).</li>
 *   <li><b>Retries</b>: off by default; see {@link RetryPolicy}.</li>
 *   <li><b>Gather</b>: {@link #getAll}/{@link #sendAll} (fail-fast: the first failure cancels the
 *       requests still running, which aborts their exchanges and frees their connections) and
 *       {@link #getAllSettled}/{@link #sendAllSettled} (one result or error per URL); results in
 *       input order.</li>
 *   <li><b>Observation</b>: the pool per host ({@link #activeRequests}, {@link #queuedRequests},
 *       {@link #poolStats}) read at any time, and an {@link HttpClientObserver} told of each
 *       attempt's wait for a slot and outcome, which coroutine-metrics turns into Micrometer meters.</li>
 * </ul>
 *
 * <p>The request methods must be called inside a task ({@link Coro#run}, {@link Coro#spawn});
 * outside one they throw {@link IllegalStateException}. They are suspension points: if the task is
 * cancelled (or a {@link Coro#withTimeout} around the call expires), the call throws
 * {@link CancellationException}, a request waiting for a slot leaves the queue, and a request in
 * flight is aborted and its connection closed.
 *
 * <p>Every failure for a URL is an {@link HttpRequestException} whose message starts with the
 * method and the URL; a response with an error status is not a failure until
 * {@link Response#raiseForStatus()}. Programming errors (a null argument) throw
 * {@link NullPointerException} or {@link IllegalArgumentException}.
 *
 * <p>Thread-safe: one client is meant to be shared by all tasks, on any scheduler. Close it when
 * done: {@link #close()} waits for the exchanges in progress and closes the pooled connections.
 *
 * <pre>{@code
 * try (AsyncHttpClient http = AsyncHttpClient.create()) {
 *     List<Response> pages = Coro.run(() -> http.getAll(List.of(urlA, urlB, urlC)));
 * }
 * }</pre>
 */
public final class AsyncHttpClient implements AutoCloseable {

    /** Default overall limit on requests in flight: aiohttp's. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 100;
    /**
     * Default limit per host. aiohttp has none; a fan-out over one host's URLs is the common way
     * to overload a server (or be throttled by it), so this client is polite by default, a little
     * above browsers' 6 connections per host. Raise it for a host you own.
     */
    public static final int DEFAULT_MAX_IN_FLIGHT_PER_HOST = 10;
    /** Default bound of the wait queue. */
    public static final int DEFAULT_MAX_WAITING = 10_000;
    /** Default connect timeout. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Default whole-request timeout. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /** Default bound on the wait for a slot. */
    public static final Duration DEFAULT_SLOT_WAIT_TIMEOUT = Duration.ofSeconds(30);
    /** Default body size limit: 32 MiB. */
    public static final long DEFAULT_MAX_BODY_SIZE = 32L << 20;

    private static final String ACCEPT_ENCODING = "gzip, deflate";

    private final HttpClient http;
    private final SlotLimiter slots;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    private final Duration slotWaitTimeout;
    private final long maxBodySize;
    private final boolean decompress;
    private final HttpClient.Version version;
    private final RetryPolicy retry;
    private final AtomicBoolean closed = new AtomicBoolean();
    /**
     * Attempts in {@link #begin} between their look at {@link #closed} and their hand-over to the
     * JDK client: {@link #close()} waits for them before it closes that client, whose own close
     * waits only for what it was handed (a request handed over after it would fail as an I/O error).
     */
    private final AtomicInteger beginning = new AtomicInteger();
    /**
     * Set by a {@link #close()} interrupted while it waited for the exchanges in progress, just
     * before it aborts them: their failures are then this close's doing, and say so.
     */
    private volatile boolean abortedByClose;
    /** Set once close() has shut the JDK client down and waits for its exchanges (tests wait for it). */
    private volatile boolean closeWaiting;
    /** The observer, wrapped; null when none is set, which is all a request then pays for (a read and a null check per event). */
    private final AtomicReference<Observation> observation = new AtomicReference<>();

    private AsyncHttpClient(Builder b) {
        HttpClient.Builder hb = HttpClient.newBuilder()
                .connectTimeout(forTheJdk(b.connectTimeout))
                .followRedirects(b.followRedirects);
        if (b.version != null) {
            hb.version(b.version);
        }
        if (b.sslContext != null) {
            hb.sslContext(b.sslContext);
        }
        if (b.executor != null) {
            hb.executor(b.executor);
        }
        this.http = hb.build();
        this.slots = new SlotLimiter(b.maxInFlight, b.maxInFlightPerHost, b.maxWaiting);
        this.connectTimeout = b.connectTimeout;
        this.requestTimeout = b.requestTimeout;
        this.slotWaitTimeout = b.slotWaitTimeout;
        this.maxBodySize = b.maxBodySize;
        this.decompress = b.decompress;
        this.version = b.version;
        this.retry = b.retry;
        if (b.observer != null) {
            observation.set(new Observation(b.observer));
        }
    }

    /** A client with the default settings. */
    public static AsyncHttpClient create() {
        return builder().build();
    }

    /** A builder, with the defaults described on the class. */
    public static Builder builder() {
        return new Builder();
    }

    // ---- requests ----

    /**
     * GETs {@code url}.
     *
     * @throws HttpRequestException (a subclass) if the request failed; see {@link #send}
     */
    public Response get(String url) {
        return send(Request.get(url));
    }

    /** HEADs {@code url} (a response without a body); see {@link #send}. */
    public Response head(String url) {
        return send(Request.head(url));
    }

    /** POSTs {@code body} to {@code url}; never retried unless the policy names POST. See {@link #send}. */
    public Response post(String url, RequestBody body) {
        return send(Request.post(url, body));
    }

    /**
     * Sends {@code request} and suspends the calling task until the whole response has arrived.
     * With retries, each attempt takes a slot and gets the whole request timeout.
     *
     * @return the response, whatever its status
     * @throws InvalidUrlException if the URL is malformed, has no host or a scheme other than http(s)
     * @throws HttpConnectException if no connection could be made (unknown host, refused)
     * @throws HttpIoException if the connection broke, the response was not valid HTTP, or the request body
     *     (a stream) could not be read
     * @throws ConnectTimeoutException if connecting took longer than the connect timeout
     * @throws RequestTimeoutException if the exchange took longer than the request timeout
     * @throws SlotWaitTimeoutException if no slot came free within the slot-wait timeout
     * @throws HttpRejectedException if the wait queue for slots was full
     * @throws BodyTooLargeException if the body exceeds the size limit
     * @throws CancellationException if the calling task was cancelled (the exchange is aborted)
     * @throws IllegalStateException outside a task, or after {@link #close()}
     */
    public Response send(Request request) {
        Objects.requireNonNull(request, "request");
        // The programming errors first, as sendAll does: outside a task, or on a closed client,
        // that is what the caller is told, not what is wrong with this request's URL.
        Tasks.current("AsyncHttpClient.send");
        if (closed.get()) {
            throw closedError();
        }
        return send(request, validate(request), 1, null);
    }

    /**
     * The attempts of {@code request} from attempt {@code from} on, after the failures
     * {@code earlier} of the attempts before it (null if none).
     */
    Response send(Request request, URI uri, int from, List<HttpRequestException> earlier) {
        for (int attempt = from; ; attempt++) {
            // An attempt on a closed client, also one due after a retry's delay, is refused before it
            // queues, and neither it nor its retry is reported.
            if (closed.get()) {
                throw closedAfter(closedError(), earlier);
            }
            if (attempt > from) {
                // Reported once the delay is over: a caller cancelled during it makes no retry.
                Observation obs = observation.get();
                if (obs != null) {
                    obs.retrying(hostKey(uri), request.method(), attempt - 1);
                }
            }
            Response response = null;
            HttpRequestException failure = null;
            try {
                response = attempt(request, uri, attempt);
            } catch (HttpConnectException | ConnectTimeoutException e) {
                failure = e;
            } catch (HttpRequestException e) { // a failure no policy retries: the last attempt's
                return outcome(null, e, earlier);
            } catch (IllegalStateException e) { // closed during a backoff: keep why the request failed so far
                throw closed.get() ? closedAfter(e, earlier) : e;
            }
            Duration delay = retryDelay(request, attempt, response, failure);
            if (delay == null) {
                return outcome(response, failure, earlier);
            }
            if (failure != null) {
                (earlier == null ? earlier = new ArrayList<>() : earlier).add(failure);
            }
            Coro.sleep(delay);
        }
    }

    /**
     * Whether to try again after attempt {@code attempt} ended with {@code response} or
     * {@code failure}: the delay before the next attempt, or null to stop there.
     */
    Duration retryDelay(Request request, int attempt, Response response, Throwable failure) {
        RetryPolicy policy = request.retry() != null ? request.retry() : retry;
        if (!policy.covers(request.method()) || attempt >= policy.maxAttempts()) {
            return null;
        }
        if (failure != null) {
            return failure instanceof HttpConnectException || failure instanceof ConnectTimeoutException
                    ? policy.backoff(attempt) : null;
        }
        if (response != null && policy.retriesStatus(response.status())) {
            return policy.delayFor(response, attempt, Instant.now()).orElse(null);
        }
        return null;
    }

    /** {@code e}, the refusal of a closed client, with the failures of the attempts before it suppressed in it. */
    /** What an operation on a closed client throws. */
    static IllegalStateException closedError() {
        return new IllegalStateException("this AsyncHttpClient is closed");
    }

    private static IllegalStateException closedAfter(IllegalStateException e, List<HttpRequestException> earlier) {
        if (earlier != null) {
            earlier.forEach(e::addSuppressed);
        }
        return e;
    }

    /** The final outcome: the response, or the failure with the earlier attempts' failures suppressed in it. */
    static Response outcome(Response response, HttpRequestException failure, List<HttpRequestException> earlier) {
        if (failure == null) {
            return response;
        }
        if (earlier != null) {
            earlier.forEach(failure::addSuppressed);
        }
        throw failure;
    }

    /** One attempt: a slot, the exchange, the outcome. Suspends the calling task. */
    private Response attempt(Request request, URI uri, int attempt) {
        // A task already cancelled never reaches the slot queue, so the observer hears nothing of it.
        Tasks.current("AsyncHttpClient.send").checkCancelled();
        // One observer for the whole attempt, so that its events pair up even if it is replaced meanwhile.
        Observation obs = observation.get();
        String host = hostKey(uri);
        long queuedAt = obs == null ? 0 : System.nanoTime();
        // The request's deadline starts with its slot, and is kept by the limiter, which cancels
        // the exchange when it passes (see SlotLimiter: one alarm for all, not a timer each).
        SlotLimiter.Permit slot;
        try {
            slot = slots.acquire(host, slotWaitTimeout, timeoutOf(request), request.method(), request.url(),
                    obs == null ? null : obs::queued);
        } catch (RuntimeException | Error e) { // rejected, the wait expired, or cancelled
            if (obs != null) {
                obs.failed(host, request.method(), e, queuedAt);
            }
            throw e;
        }
        if (closed.get()) { // closed while this request waited for its slot
            slot.release();
            IllegalStateException e = closedError();
            if (obs != null) {
                // It got its slot (reported, as a fan-out's is), and ends there.
                obs.failed(host, request.method(), e, obs.slotAcquired(host, queuedAt));
            }
            throw e;
        }
        try {
            long start = obs == null ? 0 : obs.slotAcquired(host, queuedAt);
            Exchange x = begin(request, uri, attempt, slot, obs, start);
            try {
                // If this task is cancelled, Coro.await cancels the exchange (cancel(true) aborts it).
                Coro.await(x.future);
            } catch (CancellationException e) {
                if (!x.abortedByUs()) {
                    x.failed(e);
                    throw e; // this task was cancelled
                }
            } catch (RuntimeException | Error e) {
                if (!x.future.isDone()) {
                    x.failed(e);
                    throw e;
                }
                // the exchange failed: end() says how
            }
            return end(x);
        } finally {
            slot.release();
        }
    }

    /** An exchange in flight: one attempt of one request. */
    static final class Exchange {
        final Request request;
        final URI uri;
        final int attempt;
        final SlotLimiter.Permit slot;
        final BodySink sink;
        final CompletableFuture<HttpResponse<Void>> future;
        /** Who to tell of its outcome (null: nobody), and when it started (nanoTime). */
        final Observation obs;
        final long start;

        Exchange(Request request, URI uri, int attempt, SlotLimiter.Permit slot, BodySink sink,
                 CompletableFuture<HttpResponse<Void>> future, Observation obs, long start) {
            this.request = request;
            this.uri = uri;
            this.attempt = attempt;
            this.slot = slot;
            this.sink = sink;
            this.future = future;
            this.obs = obs;
            this.start = start;
        }

        /** Reports that the attempt ended with {@code failure}, if it is observed. */
        void failed(Throwable failure) {
            if (obs != null) {
                obs.failed(hostKey(uri), request.method(), failure, start);
            }
        }

        /** Whether the client itself cancelled the exchange: its deadline passed, or its body was too large. */
        boolean abortedByUs() {
            return slot.timedOut() || sink.failure() != null;
        }
    }

    /**
     * Starts an attempt with the slot {@code slot}, which is given back when the exchange ends
     * (or at once, if it cannot start). Never suspends. If {@code obs} is not null, it is told
     * of the outcome: here if the exchange cannot start, else by {@link #end} (or by the caller,
     * if it abandons the exchange without calling {@code end}).
     *
     * @param start when the attempt got its slot (nanoTime), if observed
     */
    Exchange begin(Request request, URI uri, int attempt, SlotLimiter.Permit slot, Observation obs, long start) {
        beginning.incrementAndGet(); // before the look at closed: close() sees this, or this sees closed
        RequestBody.Upload upload = null;
        try {
            if (closed.get()) { // closed since the caller looked
                throw closedError();
            }
            boolean ownAcceptEncoding = decompress && !request.hasHeader("Accept-Encoding");
            upload = request.body().upload(request.method(), request.url());
            HttpRequest jdkRequest = toJdk(request, uri, upload.publisher, ownAcceptEncoding);
            BodySink sink = new BodySink(request.method(), request.url(), maxBodySize, ownAcceptEncoding);
            CompletableFuture<HttpResponse<Void>> future = http.sendAsync(jdkRequest, sink.handler(decompress));
            sink.bind(future);
            slot.bind(future);
            // The exchange is over when its future completes: hand the slot on from there, on the
            // client's thread, instead of after the task has been scheduled again; and close the
            // body's stream, which the JDK closes only once it has read it to the end.
            RequestBody.Upload sent = upload;
            future.whenComplete((r, e) -> {
                slot.release();
                sent.close();
            });
            return new Exchange(request, uri, attempt, slot, sink, future, obs, start);
        } catch (RuntimeException | Error e) {
            slot.release();
            if (upload != null) {
                upload.close();
            }
            if (obs != null) {
                obs.failed(hostKey(uri), request.method(), e, start);
            }
            throw e;
        } finally {
            beginning.decrementAndGet();
        }
    }

    /**
     * The outcome of an exchange whose future has completed: the response, or its failure as an
     * {@link HttpRequestException}; reported to the exchange's observer, if any. Never suspends.
     *
     * @throws CancellationException if the exchange was cancelled from outside (its task was)
     */
    Response end(Exchange x) {
        if (x.obs == null) {
            return outcomeOf(x);
        }
        Response r;
        try {
            r = outcomeOf(x);
        } catch (RuntimeException | Error e) {
            x.failed(e);
            throw e;
        }
        x.obs.finished(hostKey(x.uri), x.request.method(), r.status(), x.start);
        return r;
    }

    private Response outcomeOf(Exchange x) {
        // The exchange is over: make sure its slot is free before its outcome is (the completion
        // callback that frees it may not have run yet on the completing thread).
        x.slot.release();
        Request request = x.request;
        String method = request.method();
        String url = request.url();
        Duration timeout = timeoutOf(request);
        HttpResponse<Void> r;
        try {
            r = x.future.join();
        } catch (CancellationException | CompletionException e) {
            // When the client aborts an exchange, the future is cancelled, or fails with whatever
            // the abort made the JDK fail it with: the reason is the client's, not that.
            if (x.slot.timedOut()) {
                throw new RequestTimeoutException(method, url, timeout, null);
            }
            if (x.sink.failure() != null) {
                throw x.sink.failure(); // the sink aborted the exchange: a body too large
            }
            if (e instanceof CancellationException ce) {
                throw ce;
            }
            if (abortedByClose) {
                throw new HttpIoException(method, url, "aborted: AsyncHttpClient.close() was cancelled (or"
                        + " interrupted) while it waited for the exchanges in progress, and shut the client down", e.getCause());
            }
            throw Failures.translate(e.getCause(), method, url, x.uri.getHost(), connectTimeout, timeout);
        }
        if (x.sink.failure() != null) {
            throw x.sink.failure();
        }
        return new Response(request, r.statusCode(), r.headers(), r.uri(), r.version(), x.sink.body(), x.attempt);
    }

    private HttpRequest toJdk(Request request, URI uri, HttpRequest.BodyPublisher body, boolean ownAcceptEncoding) {
        HttpRequest.Builder b;
        try {
            b = HttpRequest.newBuilder(uri);
        } catch (IllegalArgumentException e) {
            throw new InvalidUrlException(request.method(), request.url(), "not a valid HTTP URL: " + e.getMessage(), e);
        }
        b.method(request.method(), body);
        if (version == null) {
            // HTTP/2 where it is negotiated (TLS, ALPN); plain HTTP/1.1 in the clear, as browsers do:
            // an h2c upgrade attempt costs every new connection a round of headers few servers accept.
            b.version(uri.getScheme().equalsIgnoreCase("https") ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1);
        }
        request.headers().forEach((name, values) -> values.forEach(v -> b.header(name, v)));
        if (ownAcceptEncoding) {
            b.header("Accept-Encoding", ACCEPT_ENCODING);
        }
        if (!request.hasHeader("Content-Type")) {
            request.body().contentType().ifPresent(ct -> b.header("Content-Type", ct));
        }
        return b.build();
    }

    /** The URI of a request's URL, or the reason it cannot be requested. */
    static URI validate(Request request) {
        String method = request.method();
        String url = request.url();
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new InvalidUrlException(method, url, "malformed URL: " + e.getReason()
                    + (e.getIndex() >= 0 ? " at index " + e.getIndex() : ""), e);
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new InvalidUrlException(method, url, "not an absolute URL: it has no scheme (http:// or https://)", null);
        }
        String s = scheme.toLowerCase(Locale.ROOT);
        if (!s.equals("http") && !s.equals("https")) {
            throw new InvalidUrlException(method, url, "unsupported scheme '" + scheme + "': only http and https are supported", null);
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new InvalidUrlException(method, url, "no valid host in the URL", null);
        }
        if (uri.getPort() == 0 || uri.getPort() > 65535) {
            throw new InvalidUrlException(method, url, "port " + uri.getPort() + " out of range: it must be from 1 to 65535", null);
        }
        return uri;
    }

    /** The per-host limit's key: scheme, host and port. */
    static String hostKey(URI uri) {
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
        return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + ":" + port;
    }

    // ---- gather ----

    /**
     * GETs every URL concurrently and returns the responses in the order of {@code urls}
     * (fail-fast): the first failure cancels the requests still running (their exchanges are
     * aborted and their connections closed), waits for them, and is thrown with the other
     * failures {@linkplain Throwable#getSuppressed() suppressed}. Requests beyond the limits wait
     * for a slot; more than {@code maxInFlight + maxWaiting} at once are refused (see
     * {@link Builder#maxWaiting}).
     *
     * @throws HttpRequestException the first failure
     * @throws CancellationException if the calling task is cancelled (all requests are)
     * @throws IllegalStateException outside a task
     */
    public List<Response> getAll(List<String> urls) {
        return sendAll(gets(urls));
    }

    /**
     * GETs every URL concurrently and returns one outcome per URL, in the order of {@code urls}:
     * the response, or the {@link HttpRequestException} for that URL. A failure cancels nothing.
     *
     * @throws CancellationException if the calling task is cancelled (all requests are)
     * @throws IllegalStateException outside a task
     */
    public List<Outcome<Response>> getAllSettled(List<String> urls) {
        return sendAllSettled(gets(urls));
    }

    /** {@link #getAll} for any requests. */
    public List<Response> sendAll(List<Request> requests) {
        return FanOut.failFast(this, checked(requests));
    }

    /** {@link #getAllSettled} for any requests. */
    public List<Outcome<Response>> sendAllSettled(List<Request> requests) {
        return FanOut.settled(this, checked(requests));
    }

    private static List<Request> gets(List<String> urls) {
        Objects.requireNonNull(urls, "urls");
        List<Request> requests = new ArrayList<>(urls.size());
        for (String url : urls) {
            requests.add(Request.get(Objects.requireNonNull(url, "a URL in urls")));
        }
        return requests;
    }

    private List<Request> checked(List<Request> requests) {
        Objects.requireNonNull(requests, "requests");
        for (Request r : requests) {
            Objects.requireNonNull(r, "a request in requests");
        }
        if (closed.get()) {
            throw closedError();
        }
        return List.copyOf(requests);
    }

    SlotLimiter slots() {
        return slots;
    }

    /** The observer as the client calls it, or null; read once per attempt. */
    Observation observation() {
        return observation.get();
    }

    boolean isClosed() {
        return closed.get();
    }

    Duration slotWaitTimeout() {
        return slotWaitTimeout;
    }

    Duration timeoutOf(Request request) {
        return request.timeout() != null ? request.timeout() : requestTimeout;
    }

    // ---- state ----

    /** Requests holding a slot now (being sent or read). */
    public int inFlight() {
        return slots.inFlight();
    }

    /** Requests waiting for a slot now. */
    public int waiting() {
        return slots.waiting();
    }

    /**
     * Requests to {@code host} holding a slot now (being sent or read); 0 for a host the client
     * has nothing in flight or waiting for. Cheap (a map look-up under the limiter's lock), so a
     * gauge may call it on every scrape.
     *
     * @param host a host key as the {@link HttpClientObserver} reports it: scheme, lower-case host
     *     name and port ({@code http://example.com:80})
     */
    public int activeRequests(String host) {
        return slots.inFlight(Objects.requireNonNull(host, "host"));
    }

    /** Requests to {@code host} waiting for a slot now; see {@link #activeRequests} for the key. */
    public int queuedRequests(String host) {
        return slots.waiting(Objects.requireNonNull(host, "host"));
    }

    /**
     * The slots of every host with a request in flight or waiting, all counted at one moment
     * (hosts with neither are forgotten, so the list stays as small as the pool's work). A new
     * list each call, in no particular order.
     */
    public List<HostStats> poolStats() {
        return slots.snapshot();
    }

    // ---- observer ----

    /** The observer set, or null. */
    public HttpClientObserver observer() {
        Observation obs = observation.get();
        return obs == null ? null : obs.observer;
    }

    /**
     * Sets the observer of the requests from now on (null: none), replacing any. An attempt
     * already started reports to the observer it started with.
     */
    public void setObserver(HttpClientObserver observer) {
        observation.set(observer == null ? null : new Observation(observer));
    }

    /**
     * Sets the observer to {@code observer} (null: none) only if it is {@code expected} now (null:
     * none), atomically: how a binder installs itself without replacing another observer, and
     * removes itself without removing a later one.
     *
     * @return whether the observer was {@code expected} and is now {@code observer}
     */
    public boolean compareAndSetObserver(HttpClientObserver expected, HttpClientObserver observer) {
        Observation next = observer == null ? null : new Observation(observer);
        while (true) {
            Observation current = observation.get();
            if ((current == null ? null : current.observer) != expected) {
                return false;
            }
            if (observation.compareAndSet(current, next)) {
                return true;
            }
        }
    }

    /**
     * Closes the client: new requests are refused with {@link IllegalStateException}, the
     * exchanges in progress are waited for, and the pooled connections are closed. Inside a task
     * the wait suspends the task (it runs through {@link Coro#blocking}); outside one it blocks.
     * If the task is cancelled during the wait, the exchanges still in progress are aborted (the
     * JDK client's close, interrupted, shuts it down now), each failing with an
     * {@link HttpIoException} that says this close aborted it; if it was cancelled before, the close
     * goes on in the background. Either way the cancellation propagates. Outside a task, an
     * interruption of the waiting thread aborts the exchanges in the same way (the interrupt status
     * is kept). Idempotent. The wait is for the client's threads too: a thread still reading a
     * request's body stream that never returns (see {@link RequestBody}) keeps it waiting. A call
     * while another waits waits too, as {@link HttpClient#close()} does.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) && http.isTerminated()) {
            return; // closed already, and nothing left to wait for
        }
        while (beginning.get() != 0) {
            Thread.onSpinWait(); // a few field reads and one non-blocking sendAsync at most
        }
        if (Coro.currentTask() == null) {
            closeJdkClient(); // a thread interrupted meanwhile aborts the exchanges, as a cancelled task does
            return;
        }
        AtomicBoolean begun = new AtomicBoolean();
        try {
            Coro.blocking(() -> {
                begun.set(true);
                closeJdkClient();
                return null;
            });
        } catch (CancellationException e) {
            if (!begun.get()) {
                // The task was cancelled before the close began (a try-with-resources unwinding
                // from a cancellation): close anyway, off the carrier, or the pooled connections and
                // the selector thread outlive the client, and a later close() would do nothing.
                Thread.ofVirtual().name("coro4j-http-close").start(http::close);
            }
            throw e;
        } catch (Exception e) {
            throw Failures.sneaky(e);
        }
    }

    /**
     * {@link HttpClient#close()}, but noting, before it aborts the exchanges still in progress
     * because it was interrupted, that they are aborted by this close.
     */
    private void closeJdkClient() {
        boolean interrupted = false;
        http.shutdown();
        closeWaiting = true;
        while (true) {
            try {
                if (http.awaitTermination(Duration.ofDays(1))) {
                    break;
                }
            } catch (InterruptedException e) {
                if (!interrupted) {
                    interrupted = true;
                    abortedByClose = true;
                    http.shutdownNow();
                }
                if (http.isTerminated()) {
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether close() has begun waiting for the exchanges in progress. */
    boolean closeWaiting() {
        return closeWaiting;
    }

    @Override
    public String toString() {
        return "AsyncHttpClient[maxInFlight=" + slots.maxTotal + ", maxInFlightPerHost=" + slots.maxPerHost
                + ", maxWaiting=" + slots.maxWaiting + ", inFlight=" + inFlight() + ", waiting=" + waiting() + "]";
    }

    static String format(Duration d) {
        if (d.compareTo(Duration.ofSeconds(1)) < 0) {
            // In ms with the fraction a sub-millisecond timeout needs: "0.5 ms", not "0 ms".
            return java.math.BigDecimal.valueOf(d.toNanos(), 6).stripTrailingZeros().toPlainString() + " ms";
        }
        long ms = d.toMillis();
        if (ms % 1000 == 0) {
            return ms / 1000 + " s";
        }
        return String.format(Locale.ROOT, "%.3f s", ms / 1000.0);
    }

    /** The longest timeout handed to the JDK client: the limiter's longest deadline, about 31 years. */
    private static final Duration LONGEST_JDK_TIMEOUT = Duration.ofNanos(SlotLimiter.LONGEST);

    /**
     * {@code d}, or about 31 years if longer, as the limiter bounds its deadlines: the JDK client
     * counts its connect timeout in milliseconds and fails every connection of a client with a longer
     * one than {@code Long.MAX_VALUE} of them ({@code ChronoUnit.FOREVER} as "no bound": "long
     * overflow"; just over it, "selector manager closed").
     */
    static Duration forTheJdk(Duration d) {
        return d.compareTo(LONGEST_JDK_TIMEOUT) > 0 ? LONGEST_JDK_TIMEOUT : d;
    }

    static Duration positive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " " + d + " should be positive");
        }
        return d;
    }

    private static int atLeastOne(int n, String what) {
        if (n < 1) {
            throw new IllegalArgumentException(what + " " + n + " should be at least 1");
        }
        return n;
    }

    /**
     * Builds an {@link AsyncHttpClient}; every setting has the default described on that class.
     * Not thread-safe.
     */
    public static final class Builder {
        private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
        private int maxInFlightPerHost = DEFAULT_MAX_IN_FLIGHT_PER_HOST;
        private int maxWaiting = DEFAULT_MAX_WAITING;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
        private Duration slotWaitTimeout = DEFAULT_SLOT_WAIT_TIMEOUT;
        private long maxBodySize = DEFAULT_MAX_BODY_SIZE;
        private boolean decompress = true;
        private HttpClient.Version version;
        private HttpClient.Redirect followRedirects = HttpClient.Redirect.NORMAL;
        private SSLContext sslContext;
        private Executor executor;
        private RetryPolicy retry = RetryPolicy.none();
        private HttpClientObserver observer;

        private Builder() {}

        /**
         * Requests in flight at most, over all hosts (default {@value AsyncHttpClient#DEFAULT_MAX_IN_FLIGHT}).
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = atLeastOne(maxInFlight, "maxInFlight");
            return this;
        }

        /**
         * Requests in flight at most to one host, i.e. one scheme, host name and port
         * (default {@value AsyncHttpClient#DEFAULT_MAX_IN_FLIGHT_PER_HOST}). A request counts
         * against the host of its URL: a redirect that the JDK client follows to another host
         * keeps the slot it started with.
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder maxInFlightPerHost(int maxInFlightPerHost) {
            this.maxInFlightPerHost = atLeastOne(maxInFlightPerHost, "maxInFlightPerHost");
            return this;
        }

        /**
         * Requests that may wait for a slot at once (default {@value AsyncHttpClient#DEFAULT_MAX_WAITING}); one
         * more is refused with {@link HttpRejectedException}. 0 refuses every request that finds
         * no free slot.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder maxWaiting(int maxWaiting) {
            if (maxWaiting < 0) {
                throw new IllegalArgumentException("maxWaiting " + maxWaiting + " should not be negative");
            }
            this.maxWaiting = maxWaiting;
            return this;
        }

        /**
         * How long connecting may take (default 10 s); then {@link ConnectTimeoutException}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = positive(connectTimeout, "connectTimeout");
            return this;
        }

        /**
         * How long one attempt of a request may take, from the moment it has a slot to the last
         * byte of the body (default 30 s); then {@link RequestTimeoutException}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder requestTimeout(Duration requestTimeout) {
            this.requestTimeout = positive(requestTimeout, "requestTimeout");
            return this;
        }

        /**
         * How long a request may wait for a free slot (default 30 s); then
         * {@link SlotWaitTimeoutException}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder slotWaitTimeout(Duration slotWaitTimeout) {
            this.slotWaitTimeout = positive(slotWaitTimeout, "slotWaitTimeout");
            return this;
        }

        /**
         * The largest response body read, in bytes, before and after decoding (default 32 MiB);
         * a larger one fails with {@link BodyTooLargeException}.
         *
         * @throws IllegalArgumentException if below 1 or above {@code Integer.MAX_VALUE - 8}
         */
        public Builder maxBodySize(long maxBodySize) {
            if (maxBodySize < 1 || maxBodySize > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("maxBodySize " + maxBodySize + " should be between 1 and "
                        + (Integer.MAX_VALUE - 8));
            }
            this.maxBodySize = maxBodySize;
            return this;
        }

        /**
         * Whether to ask for and decode gzip and deflate bodies (default true). Off, bodies are
         * returned as received and no {@code Accept-Encoding} is sent.
         */
        public Builder decompress(boolean decompress) {
            this.decompress = decompress;
            return this;
        }

        /**
         * The HTTP version to prefer. By default: HTTP/2 over TLS (negotiated with ALPN, falling
         * back to HTTP/1.1), HTTP/1.1 in the clear. {@code HTTP_2} also tries an h2c upgrade in
         * the clear; {@code HTTP_1_1} never uses HTTP/2.
         */
        public Builder version(HttpClient.Version version) {
            this.version = Objects.requireNonNull(version, "version");
            return this;
        }

        /** Which redirects to follow (default {@link HttpClient.Redirect#NORMAL}: all but https to http). */
        public Builder followRedirects(HttpClient.Redirect followRedirects) {
            this.followRedirects = Objects.requireNonNull(followRedirects, "followRedirects");
            return this;
        }

        /** The TLS context (default: the JVM's default, which trusts the JDK's CA certificates). */
        public Builder sslContext(SSLContext sslContext) {
            this.sslContext = Objects.requireNonNull(sslContext, "sslContext");
            return this;
        }

        /**
         * The executor the underlying {@link HttpClient} runs its work and callbacks on (default:
         * its own); request body streams are read and bodies decoded there.
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The retry policy of every request that sets none (default {@link RetryPolicy#none()}). */
        public Builder retry(RetryPolicy retry) {
            this.retry = Objects.requireNonNull(retry, "retry");
            return this;
        }

        /** The observer of the client's requests (default: none); see {@link AsyncHttpClient#setObserver}. */
        public Builder observer(HttpClientObserver observer) {
            this.observer = Objects.requireNonNull(observer, "observer");
            return this;
        }

        /** The client; it starts the {@link HttpClient}'s selector thread. */
        public AsyncHttpClient build() {
            return new AsyncHttpClient(this);
        }
    }
}
