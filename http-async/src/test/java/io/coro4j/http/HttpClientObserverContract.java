package io.coro4j.http;

import static io.coro4j.http.testing.Polling.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Task;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link HttpClientObserver} SPI and the pool reads, without Micrometer: every attempt that
 * reaches the slot queue is reported exactly once with the right outcome, on both paths (single
 * requests and fan-outs), the per-host counts are exact, and a throwing observer breaks nothing.
 * Run once per scheduler by a subclass.
 */
abstract class HttpClientObserverContract extends SchedulerFixture {

    TestHttpServer server;
    FaultServer faults;

    @BeforeAll
    void startServers() throws IOException {
        server = TestHttpServer.http();
        faults = new FaultServer();
    }

    @AfterAll
    void stopServers() throws IOException {
        server.close();
        faults.close();
    }

    @BeforeEach
    void reset() {
        server.resetCounters();
    }

    @AfterEach
    void openGate() {
        server.openGate();
    }

    static AsyncHttpClient.Builder client(Recorder recorder) {
        return AsyncHttpClient.builder().connectTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(10))
                .observer(recorder);
    }

    /** An observer that keeps every event. */
    static class Recorder implements HttpClientObserver {
        record Finished(String host, String method, int status, RequestOutcome outcome, long nanos) {}

        final ConcurrentLinkedQueue<String> queued = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Long> slots = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Finished> finished = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> retries = new ConcurrentLinkedQueue<>();

        @Override
        public void requestQueued(String host) {
            queued.add(host);
        }

        @Override
        public void slotAcquired(String host, long waitNanos) {
            assertThat(waitNanos).isNotNegative();
            slots.add(waitNanos);
        }

        @Override
        public void requestFinished(String host, String method, int status, RequestOutcome outcome, long durationNanos) {
            finished.add(new Finished(host, method, status, outcome, durationNanos));
        }

        @Override
        public void retrying(String host, String method, int attempt) {
            retries.add(host + " " + method + " " + attempt);
        }

        Map<RequestOutcome, Long> outcomes() {
            return finished.stream().collect(Collectors.groupingBy(Finished::outcome, Collectors.counting()));
        }
    }

    static String host(String url) {
        return AsyncHttpClient.hostKey(URI.create(url));
    }

    // ---- outcomes ----

    @Test
    void responses_areReportedOnceEach_withStatusAndStatusClass() {
        Recorder rec = new Recorder();
        try (AsyncHttpClient http = client(rec).build()) {
            run(() -> {
                http.get(server.url("/bytes?n=3"));
                http.get(server.url("/status?code=404"));
                http.send(Request.builder("DELETE", server.url("/status?code=503")).build());
                return null;
            });
            String host = host(server.url("/"));
            assertThat(rec.finished).extracting(Recorder.Finished::host).containsOnly(host);
            assertThat(rec.finished).extracting(f -> f.method() + " " + f.status() + " " + f.outcome())
                    .containsExactly("GET 200 SUCCESS", "GET 404 CLIENT_ERROR", "DELETE 503 SERVER_ERROR");
            assertThat(rec.finished).allSatisfy(f -> assertThat(f.nanos()).isPositive());
            assertThat(rec.slots).hasSize(3);
            assertThat(rec.queued).isEmpty();
        }
    }

    @Test
    void aStallBeyondTheRequestTimeout_isTIMEOUT() {
        Recorder rec = new Recorder();
        try (AsyncHttpClient http = client(rec).requestTimeout(Duration.ofMillis(300)).build()) {
            Throwable e = catchThrowable(() -> run(() -> http.get(faults.url("/stall"))));
            assertThat(e).isInstanceOf(RequestTimeoutException.class);
            assertThat(rec.finished).singleElement().satisfies(f -> {
                assertThat(f.outcome()).isEqualTo(RequestOutcome.TIMEOUT);
                assertThat(f.status()).isEqualTo(-1);
                // From its slot; the deadline counts from a moment just before, hence the margin.
                assertThat(f.nanos()).isGreaterThanOrEqualTo(Duration.ofMillis(250).toNanos());
            });
        }
    }

    @Test
    void aConnectionReset_isIO_ERROR() {
        Recorder rec = new Recorder();
        try (AsyncHttpClient http = client(rec).build()) {
            Throwable e = catchThrowable(() -> run(() -> http.get(faults.url("/reset"))));
            assertThat(e).isInstanceOf(HttpIoException.class);
            assertThat(rec.finished).singleElement().satisfies(f -> {
                assertThat(f.outcome()).isEqualTo(RequestOutcome.IO_ERROR);
                assertThat(f.host()).isEqualTo(host(faults.url("/")));
            });
        }
    }

    @Test
    void aFullQueue_isREJECTED_andASlotWaitThatExpires_isSLOT_TIMEOUT() {
        Recorder rec = new Recorder();
        server.closeGate();
        // The third request must come while the second still waits: a wait of 1 s leaves room
        // for a busy machine.
        try (AsyncHttpClient http = client(rec).maxInFlightPerHost(1).maxWaiting(1)
                .slotWaitTimeout(Duration.ofSeconds(1)).build()) {
            run(() -> {
                Task<Response> holder = Coro.spawn(() -> http.get(server.url("/gate")));
                await("the first request is at the server", () -> server.gated.get() == 1);
                Task<Response> waiter = Coro.spawn(() -> http.get(server.url("/gate?w")));
                await("the second request waits", () -> http.queuedRequests(host(server.url("/"))) == 1);
                Throwable rejected = catchThrowable(() -> http.get(server.url("/gate?r")));
                assertThat(rejected).isInstanceOf(HttpRejectedException.class);
                Throwable expired = catchThrowable(waiter::join);
                assertThat(expired).isInstanceOf(SlotWaitTimeoutException.class);
                server.openGate();
                assertThat(holder.join().status()).isEqualTo(200);
                return null;
            });
            assertThat(rec.outcomes()).containsExactlyInAnyOrderEntriesOf(Map.of(
                    RequestOutcome.REJECTED, 1L, RequestOutcome.SLOT_TIMEOUT, 1L, RequestOutcome.SUCCESS, 1L));
            assertThat(rec.queued).hasSize(1);
            assertThat(rec.slots).as("only the request that got a slot").hasSize(1);
            Recorder.Finished slotTimeout = rec.finished.stream()
                    .filter(f -> f.outcome() == RequestOutcome.SLOT_TIMEOUT).findFirst().orElseThrow();
            assertThat(slotTimeout.nanos()).as("its wait").isGreaterThanOrEqualTo(Duration.ofSeconds(1).toNanos());
            assertThat(http.poolStats()).isEmpty();
        }
    }

    @Test
    void cancellingTheCaller_inFlightOrWaiting_isCANCELLED() {
        Recorder rec = new Recorder();
        server.closeGate();
        try (AsyncHttpClient http = client(rec).maxInFlightPerHost(1).build()) {
            run(() -> {
                Task<Response> inFlight = Coro.spawn(() -> http.get(server.url("/gate")));
                await("the first request is at the server", () -> server.gated.get() == 1);
                Task<Response> waiting = Coro.spawn(() -> http.get(server.url("/gate?w")));
                await("the second request waits", () -> http.waiting() == 1);
                // One after the other: cancelled together, the waiter might get the slot the other frees first.
                waiting.cancel();
                assertThat(catchThrowable(waiting::join)).isInstanceOf(CancellationException.class);
                inFlight.cancel();
                assertThat(catchThrowable(inFlight::join)).isInstanceOf(CancellationException.class);
                return null;
            });
            assertThat(rec.finished).extracting(Recorder.Finished::outcome)
                    .containsExactly(RequestOutcome.CANCELLED, RequestOutcome.CANCELLED);
            assertThat(rec.slots).hasSize(1);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
        }
    }

    /** A task already cancelled never reaches the slot queue: its request is not reported. */
    @Test
    void aRequestByAnAlreadyCancelledTask_isNotReported() {
        Recorder rec = new Recorder();
        try (AsyncHttpClient http = client(rec).build()) {
            Throwable t = catchThrowable(() -> run(() -> {
                Coro.currentTask().cancel();
                return http.get(server.url("/bytes?n=1"));
            }));
            assertThat(t).isInstanceOf(CancellationException.class);
            assertThat(rec.finished).isEmpty();
            assertThat(rec.queued).isEmpty();
            assertThat(rec.slots).isEmpty();
            assertThat(server.requests.get()).isZero();
        }
    }

    @Test
    void aRetriedRequest_reportsEachAttempt_andTheRetryBetween() {
        Recorder rec = new Recorder();
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .retryOnStatus(503).build();
        try (AsyncHttpClient http = client(rec).retry(retry).build()) {
            Response r = run(() -> http.get(server.url("/retry?key=single&fails=1&status=503")));
            assertThat(r.attempts()).isEqualTo(2);
            List<Response> all = run(() -> http.getAll(List.of(server.url("/retry?key=fan&fails=2&status=503"))));
            assertThat(all.get(0).attempts()).isEqualTo(3);
            String host = host(server.url("/"));
            assertThat(rec.finished).extracting(Recorder.Finished::outcome).containsExactly(
                    RequestOutcome.SERVER_ERROR, RequestOutcome.SUCCESS,
                    RequestOutcome.SERVER_ERROR, RequestOutcome.SERVER_ERROR, RequestOutcome.SUCCESS);
            assertThat(rec.retries).containsExactly(host + " GET 1", host + " GET 1", host + " GET 2");
            assertThat(rec.slots).hasSize(5);
        }
    }

    // ---- the pool per host ----

    @Test
    void twentyRequests_perHostLimit5_fiveActiveAndFifteenQueued_exactly_thenAllSucceed() {
        checkPool(false);
    }

    /**
     * A client closed before a retry is due: "an attempt that never reaches the slot queue is not
     * reported: ... one made on a closed client", and {@code retrying} means "the next attempt
     * starts now", which it does not. So the observer hears of the first attempt only, alone and
     * in a fan-out (reported, the retry would break HttpClientMetrics' "calls = requests - retries",
     * and the single request reported an UNKNOWN attempt that the fan-out did not).
     */
    @Test
    void aClientClosedBeforeARetry_reportsNoRetryAndNoFurtherAttempt() throws IOException {
        String refused;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            refused = "http://127.0.0.1:" + s.getLocalPort() + "/";
        }
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(10), Duration.ofMillis(10)).build();
        for (boolean fanOut : new boolean[] {false, true}) {
            AtomicReference<AsyncHttpClient> ref = new AtomicReference<>();
            Recorder rec = new Recorder() {
                @Override
                public void requestFinished(String host, String method, int status, RequestOutcome outcome, long nanos) {
                    super.requestFinished(host, method, status, outcome, nanos);
                    if (finished.size() == 1) { // the first attempt ended: close the client before its retry
                        Thread closer = Thread.ofPlatform().start(() -> ref.get().close());
                        try {
                            closer.join(5_000);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }
            };
            AsyncHttpClient http = client(rec).retry(policy).build();
            ref.set(http);
            Throwable e = catchThrowable(() -> run(() -> fanOut ? http.getAll(List.of(refused)) : http.get(refused)));
            assertThat(http.isClosed()).isTrue();
            assertThat(e).as("fanOut=%s", fanOut).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("this AsyncHttpClient is closed");
            assertThat(e.getSuppressed()).as("fanOut=%s", fanOut).singleElement().isInstanceOf(HttpConnectException.class);
            assertThat(rec.finished).as("fanOut=%s", fanOut).extracting(Recorder.Finished::outcome)
                    .containsExactly(RequestOutcome.IO_ERROR);
            assertThat(rec.retries).as("fanOut=%s", fanOut).isEmpty();
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * A request that waited for its slot while the client was closed gets the slot, then is refused:
     * slotAcquired ("it got its slot, at once or after waiting"; not called only for an attempt that
     * gave up waiting) is reported for it like any slot, alone as in a fan-out, which did already
     * (alone, the slot was never reported, so HttpClientMetrics' slot.wait missed it).
     */
    @Test
    void aRequestRefusedAsClosedWhenItGetsItsSlot_reportsThatSlot_aloneAndInAFanOut() {
        for (boolean fanOut : new boolean[] {false, true}) {
            Recorder rec = new Recorder();
            AsyncHttpClient http = client(rec).maxInFlightPerHost(1).build();
            server.resetCounters();
            server.closeGate(); // the first request holds the slot until the client is closing
            List<Throwable> failures = run(() -> {
                Task<List<Throwable>> requests = Coro.spawn(() -> {
                    List<Throwable> out = new ArrayList<>();
                    if (fanOut) {
                        for (Outcome<Response> o : http.getAllSettled(List.of(server.url("/gate"), server.url("/bytes?n=1")))) {
                            out.add(o instanceof Outcome.Failure<Response> f ? f.exception() : null);
                        }
                    } else {
                        Task<Response> holder = Coro.spawn(() -> http.get(server.url("/gate")));
                        await("the first request at the server", () -> server.gated.get() == 1);
                        Task<Response> waiter = Coro.spawn(() -> http.get(server.url("/bytes?n=1")));
                        out.add(catchThrowable(holder::join));
                        out.add(catchThrowable(waiter::join));
                    }
                    return out;
                });
                await("the first request at the server, the second queued", () -> server.gated.get() == 1 && http.waiting() == 1);
                Task<Void> opener = Coro.spawn(() -> {
                    await("the client is closing", http::isClosed);
                    server.openGate();
                    return null;
                });
                http.close(); // waits for the request in flight
                opener.join();
                return requests.join();
            });
            assertThat(failures.get(0)).as("fanOut=%s: the request in flight completes", fanOut).isNull();
            assertThat(failures.get(1)).as("fanOut=%s", fanOut).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("this AsyncHttpClient is closed");
            assertThat(rec.finished).as("fanOut=%s", fanOut).extracting(Recorder.Finished::outcome)
                    .containsExactlyInAnyOrder(RequestOutcome.SUCCESS, RequestOutcome.UNKNOWN);
            assertThat(rec.queued).as("fanOut=%s", fanOut).hasSize(1);
            assertThat(rec.slots).as("fanOut=%s: both requests got a slot", fanOut).hasSize(2);
            assertThat(http.inFlight()).isZero();
        }
    }

    @Test
    void aFanOutOfTwenty_perHostLimit5_fiveActiveAndFifteenQueued_exactly_thenAllSucceed() {
        checkPool(true);
    }

    private void checkPool(boolean fanOut) {
        Recorder rec = new Recorder();
        server.closeGate();
        String host = host(server.url("/"));
        try (AsyncHttpClient http = client(rec).maxInFlightPerHost(5).build()) {
            run(() -> {
                List<Task<?>> tasks = new ArrayList<>();
                if (fanOut) {
                    List<String> urls = new ArrayList<>();
                    for (int i = 0; i < 20; i++) {
                        urls.add(server.url("/gate?i=" + i));
                    }
                    tasks.add(Coro.spawn(() -> http.getAll(urls)));
                } else {
                    for (int i = 0; i < 20; i++) {
                        String url = server.url("/gate?i=" + i);
                        tasks.add(Coro.spawn(() -> http.get(url)));
                    }
                }
                await("5 at the server and 15 queued",
                        () -> server.gated.get() == 5 && http.queuedRequests(host) == 15);
                assertThat(http.activeRequests(host)).isEqualTo(5);
                assertThat(http.queuedRequests(host)).isEqualTo(15);
                assertThat(http.poolStats()).containsExactly(new HostStats(host, 5, 15));
                assertThat(http.activeRequests("http://elsewhere:80")).isZero();
                await("15 queued reports", () -> rec.queued.size() == 15);
                assertThat(rec.slots).hasSize(5);
                assertThat(rec.finished).isEmpty();
                server.openGate();
                for (Task<?> t : tasks) {
                    t.join();
                }
                return null;
            });
            assertThat(rec.finished).hasSize(20).allSatisfy(f -> {
                assertThat(f.outcome()).isEqualTo(RequestOutcome.SUCCESS);
                assertThat(f.host()).isEqualTo(host);
            });
            assertThat(rec.slots).hasSize(20);
            assertThat(rec.queued).hasSize(15).containsOnly(host);
            assertThat(http.activeRequests(host)).isZero();
            assertThat(http.queuedRequests(host)).isZero();
            assertThat(http.poolStats()).isEmpty();
        }
    }

    @Test
    void aFanOutsOutcomes_areReportedOncePerUrl_andAnInvalidUrlIsNot() {
        Recorder rec = new Recorder();
        try (AsyncHttpClient http = client(rec).build()) {
            // Only the stall has a short timeout: a first request to a cold server on a busy machine can take 500 ms.
            List<Outcome<Response>> out = run(() -> http.sendAllSettled(List.of(
                    Request.get(server.url("/bytes?n=1")), Request.get(server.url("/status?code=404")),
                    Request.get(faults.url("/reset")),
                    Request.builder("GET", faults.url("/stall")).timeout(Duration.ofMillis(300)).build(),
                    Request.get("not a url"))));
            assertThat(out).hasSize(5);
            assertThat(rec.finished).extracting(f -> f.outcome()).containsExactlyInAnyOrder(
                    RequestOutcome.SUCCESS, RequestOutcome.CLIENT_ERROR, RequestOutcome.IO_ERROR, RequestOutcome.TIMEOUT);
            assertThat(rec.slots).hasSize(4);
        }
    }

    // ---- the observer itself ----

    @Test
    void anObserverThatThrows_breaksNoRequest_andLeaksNoSlot() {
        AtomicInteger calls = new AtomicInteger();
        HttpClientObserver broken = new HttpClientObserver() {
            @Override
            public void requestQueued(String host) {
                calls.incrementAndGet();
                throw new IllegalStateException("broken observer");
            }

            @Override
            public void slotAcquired(String host, long waitNanos) {
                calls.incrementAndGet();
                throw new IllegalStateException("broken observer");
            }

            @Override
            public void requestFinished(String host, String method, int status, RequestOutcome outcome, long durationNanos) {
                calls.incrementAndGet();
                throw new AssertionError("broken observer");
            }
        };
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        ConcurrentLinkedQueue<Throwable> reported = new ConcurrentLinkedQueue<>();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
        try (AsyncHttpClient http = client(new Recorder()).maxInFlightPerHost(2).build()) {
            http.setObserver(broken);
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                urls.add(server.url("/bytes?n=" + i));
            }
            List<Response> single = run(() -> {
                List<Task<Response>> tasks = new ArrayList<>();
                for (String url : urls) {
                    tasks.add(Coro.spawn(() -> http.get(url)));
                }
                List<Response> rs = new ArrayList<>();
                for (Task<Response> t : tasks) {
                    rs.add(t.join());
                }
                return rs;
            });
            List<Response> fanned = run(() -> http.getAll(urls));
            assertThat(single).extracting(Response::status).containsOnly(200).hasSize(10);
            assertThat(fanned).extracting(Response::status).containsOnly(200).hasSize(10);
            assertThat(calls.get()).as("slot and end of 20 requests, plus the queued ones").isGreaterThanOrEqualTo(40);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
            // Reported at most once (to the thread's handler, which may be its own rather than the default).
            assertThat(reported).hasSizeLessThanOrEqualTo(1);
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
    }

    @Test
    void theObserver_isSetReplacedAndRemoved_atomically() {
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        try (AsyncHttpClient http = AsyncHttpClient.create()) {
            assertThat(http.observer()).isNull();
            assertThat(http.compareAndSetObserver(b, a)).isFalse();
            assertThat(http.compareAndSetObserver(null, a)).isTrue();
            assertThat(http.observer()).isSameAs(a);
            assertThat(http.compareAndSetObserver(null, b)).isFalse();
            assertThat(http.compareAndSetObserver(a, null)).isTrue();
            assertThat(http.observer()).isNull();
            http.setObserver(b);
            assertThat(http.observer()).isSameAs(b);
            run(() -> http.get(server.url("/bytes?n=1")));
            http.setObserver(null);
            run(() -> http.get(server.url("/bytes?n=1")));
            assertThat(a.finished).isEmpty();
            assertThat(b.finished).hasSize(1);
        }
    }

    /**
     * setObserver: "an attempt already started reports to the observer it started with", and a
     * fan-out's first attempts start with it. Replaced while the fan-out queues its requests, the
     * new observer hears of none of them: each queued request's requestQueued goes, with its
     * slotAcquired and requestFinished, to the observer the fan-out started with.
     */
    @Test
    void anObserverReplacedDuringAFanOut_hearsNothingOfIt_norOfItsQueuedRequests() {
        Recorder b = new Recorder();
        AtomicReference<AsyncHttpClient> ref = new AtomicReference<>();
        Recorder a = new Recorder() {
            @Override
            public void slotAcquired(String host, long waitNanos) {
                super.slotAcquired(host, waitNanos);
                ref.get().setObserver(b); // the first request's slot, granted while the fan-out queues the rest
            }
        };
        try (AsyncHttpClient http = client(a).maxInFlightPerHost(1).build()) {
            ref.set(http);
            List<String> urls = List.of(server.url("/bytes?n=1"), server.url("/bytes?n=2"), server.url("/bytes?n=3"));
            assertThat(run(() -> http.getAll(urls))).hasSize(3);
            assertThat(a.finished).hasSize(3);
            assertThat(a.slots).hasSize(3);
            assertThat(b.queued).as("requestQueued heard by the new observer").isEmpty();
            assertThat(a.queued).as("requestQueued heard by the fan-out's observer").hasSize(2);
        }
    }
}
