package io.coro4j.metrics;

import static io.coro4j.http.testing.Polling.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.HttpClientObserver;
import io.coro4j.http.HttpIoException;
import io.coro4j.http.HttpRejectedException;
import io.coro4j.http.Request;
import io.coro4j.http.RequestTimeoutException;
import io.coro4j.http.Response;
import io.coro4j.http.RetryPolicy;
import io.coro4j.http.SlotWaitTimeoutException;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * {@link HttpClientMetrics} against real servers on 127.0.0.1: exact gauge values while requests
 * are held at the server, exact timer counts by outcome, the host limit, and clean removal.
 * Run once per scheduler by a subclass. Every wait is on a condition with a deadline.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
abstract class HttpClientMetricsContract {

    Scheduler scheduler;
    LoopbackServer server;
    MeterRegistry registry;
    AsyncHttpClient http;
    HttpClientMetrics metrics;

    /** "threadpool" or "loom". */
    abstract String schedulerKind();

    @BeforeAll
    void start() throws IOException {
        scheduler = Schedulers.create(schedulerKind(), SchedulerConfig.builder()
                .name(getClass().getSimpleName()).parallelism(2).daemon(true).build());
        server = new LoopbackServer();
    }

    @AfterAll
    void stop() throws IOException {
        server.close();
        scheduler.close();
    }

    @BeforeEach
    void bind() {
        registry = new SimpleMeterRegistry();
    }

    @AfterEach
    void unbind() {
        server.openGate();
        if (metrics != null) {
            metrics.close();
            metrics = null;
        }
        if (http != null) {
            http.close();
            http = null;
        }
    }

    /** A client with {@code b}'s settings, metered as {@code client=test}. */
    AsyncHttpClient metered(AsyncHttpClient.Builder b, int maxHosts) {
        http = b.connectTimeout(Duration.ofSeconds(5)).build();
        metrics = new HttpClientMetrics(http, "test", maxHosts);
        metrics.bindTo(registry);
        return http;
    }

    AsyncHttpClient metered(AsyncHttpClient.Builder b) {
        return metered(b, HttpClientMetrics.DEFAULT_MAX_HOSTS);
    }

    <T> T run(Callable<T> main) {
        return Coro.run(scheduler, main);
    }

    double active(String host) {
        return registry.get("coro4j.http.client.requests.active").tag("client", "test").tag("host", host).gauge().value();
    }

    double queued(String host) {
        return registry.get("coro4j.http.client.requests.queued").tag("client", "test").tag("host", host).gauge().value();
    }

    Timer requests(String host, String method, String status, String outcome) {
        return registry.get("coro4j.http.client.requests").tag("client", "test").tag("host", host)
                .tag("method", method).tag("status", status).tag("outcome", outcome).timer();
    }

    Timer slotWait(String host) {
        return registry.get("coro4j.http.client.slot.wait").tag("client", "test").tag("host", host).timer();
    }

    long requestCount() {
        return registry.find("coro4j.http.client.requests").timers().stream().mapToLong(Timer::count).sum();
    }

    // ---- the pool ----

    @Test
    void twentyHeld_perHostLimit5_gaugesReadFiveActiveAndFifteenQueued_thenTwentySuccesses() {
        metered(AsyncHttpClient.builder().maxInFlightPerHost(5));
        String host = server.host();
        server.closeGate();
        run(() -> {
            List<Task<Response>> tasks = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                String url = server.url("/gate?i=" + i);
                tasks.add(Coro.spawn(() -> http.get(url)));
            }
            await("5 at the server and 15 queued", () -> server.held.get() == 5 && http.queuedRequests(host) == 15);
            assertThat(active(host)).isEqualTo(5.0);
            assertThat(queued(host)).isEqualTo(15.0);
            assertThat(slotWait(host).count()).isEqualTo(5);
            assertThat(requestCount()).isZero();
            server.openGate();
            for (Task<Response> t : tasks) {
                assertThat(t.join().status()).isEqualTo(200);
            }
            return null;
        });
        assertThat(requests(host, "GET", "200", "SUCCESS").count()).isEqualTo(20);
        assertThat(requestCount()).isEqualTo(20);
        assertThat(slotWait(host).count()).isEqualTo(20);
        assertThat(slotWait(host).max(TimeUnit.NANOSECONDS)).as("the queued ones waited").isPositive();
        assertThat(active(host)).isZero();
        assertThat(queued(host)).isZero();
    }

    @Test
    void aFanOutOfTwenty_perHostLimit5_isMeteredTheSame() {
        metered(AsyncHttpClient.builder().maxInFlightPerHost(5));
        String host = server.host();
        server.closeGate();
        List<String> urls = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            urls.add(server.url("/gate?i=" + i));
        }
        run(() -> {
            Task<List<Response>> all = Coro.spawn(() -> http.getAll(urls));
            await("5 at the server and 15 queued", () -> server.held.get() == 5 && http.queuedRequests(host) == 15);
            assertThat(active(host)).isEqualTo(5.0);
            assertThat(queued(host)).isEqualTo(15.0);
            server.openGate();
            assertThat(all.join()).hasSize(20);
            return null;
        });
        assertThat(requests(host, "GET", "200", "SUCCESS").count()).isEqualTo(20);
        assertThat(slotWait(host).count()).isEqualTo(20);
        assertThat(active(host)).isZero();
        assertThat(queued(host)).isZero();
    }

    // ---- outcomes ----

    @Test
    void a404_isCLIENT_ERROR_anda503_isSERVER_ERROR() {
        metered(AsyncHttpClient.builder());
        String host = server.host();
        run(() -> {
            assertThat(http.get(server.url("/status?code=404")).status()).isEqualTo(404);
            assertThat(http.head(server.url("/status?code=503")).status()).isEqualTo(503);
            assertThat(http.get(server.url("/status?code=503")).status()).isEqualTo(503);
            return null;
        });
        assertThat(requests(host, "GET", "404", "CLIENT_ERROR").count()).isEqualTo(1);
        assertThat(requests(host, "HEAD", "503", "SERVER_ERROR").count()).isEqualTo(1);
        assertThat(requests(host, "GET", "503", "SERVER_ERROR").count()).isEqualTo(1);
        assertThat(requestCount()).isEqualTo(3);
    }

    @Test
    void aStallPastTheRequestTimeout_isTIMEOUT_andAConnectionReset_isIO_ERROR() {
        metered(AsyncHttpClient.builder());
        String host = server.host();
        // Only the stall has a short timeout: a first request to a cold server on a busy machine can take 300 ms.
        assertThat(catchThrowable(() -> run(() -> http.send(
                Request.builder("GET", server.url("/stall")).timeout(Duration.ofMillis(300)).build()))))
                .isInstanceOf(RequestTimeoutException.class);
        assertThat(catchThrowable(() -> run(() -> http.get(server.url("/reset")))))
                .isInstanceOf(HttpIoException.class);
        Timer timeout = requests(host, "GET", HttpClientMetrics.NO_STATUS, "TIMEOUT");
        assertThat(timeout.count()).isEqualTo(1);
        // From its slot; the deadline counts from a moment just before, hence the margin.
        assertThat(timeout.totalTime(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(250);
        assertThat(requests(host, "GET", HttpClientMetrics.NO_STATUS, "IO_ERROR").count()).isEqualTo(1);
        assertThat(requestCount()).isEqualTo(2);
        assertThat(active(host)).isZero();
    }

    @Test
    void aFullQueue_isREJECTED_andAWaitThatExpires_isSLOT_TIMEOUT() {
        // The third request must come while the second still waits: a wait of 1 s leaves room
        // for a busy machine.
        metered(AsyncHttpClient.builder().maxInFlightPerHost(1).maxWaiting(1).slotWaitTimeout(Duration.ofSeconds(1)));
        String host = server.host();
        server.closeGate();
        run(() -> {
            Task<Response> holder = Coro.spawn(() -> http.get(server.url("/gate")));
            await("the first request is at the server", () -> server.held.get() == 1);
            Task<Response> waiter = Coro.spawn(() -> http.get(server.url("/gate?w")));
            await("the second request waits", () -> http.queuedRequests(host) == 1);
            assertThat(queued(host)).isEqualTo(1.0);
            assertThat(catchThrowable(() -> http.get(server.url("/gate?r")))).isInstanceOf(HttpRejectedException.class);
            assertThat(catchThrowable(waiter::join)).isInstanceOf(SlotWaitTimeoutException.class);
            server.openGate();
            holder.join();
            return null;
        });
        assertThat(requests(host, "GET", HttpClientMetrics.NO_STATUS, "REJECTED").count()).isEqualTo(1);
        Timer slotTimeout = requests(host, "GET", HttpClientMetrics.NO_STATUS, "SLOT_TIMEOUT");
        assertThat(slotTimeout.count()).isEqualTo(1);
        assertThat(slotTimeout.totalTime(TimeUnit.MILLISECONDS)).as("its wait").isGreaterThanOrEqualTo(1000);
        assertThat(requests(host, "GET", "200", "SUCCESS").count()).isEqualTo(1);
        assertThat(slotWait(host).count()).as("only the request that got a slot").isEqualTo(1);
        assertThat(active(host)).isZero();
        assertThat(queued(host)).isZero();
    }

    @Test
    void aCancelledCaller_isCANCELLED_inFlightAndWaiting() {
        metered(AsyncHttpClient.builder().maxInFlightPerHost(1));
        String host = server.host();
        server.closeGate();
        run(() -> {
            Task<Response> inFlight = Coro.spawn(() -> http.get(server.url("/gate")));
            await("the first request is at the server", () -> server.held.get() == 1);
            Task<Response> waiting = Coro.spawn(() -> http.get(server.url("/gate?w")));
            await("the second request waits", () -> http.queuedRequests(host) == 1);
            // One after the other: cancelled together, the waiter might get the slot the other frees first.
            waiting.cancel();
            assertThat(catchThrowable(waiting::join)).isInstanceOf(CancellationException.class);
            inFlight.cancel();
            assertThat(catchThrowable(inFlight::join)).isInstanceOf(CancellationException.class);
            return null;
        });
        assertThat(requests(host, "GET", HttpClientMetrics.NO_STATUS, "CANCELLED").count()).isEqualTo(2);
        assertThat(requestCount()).isEqualTo(2);
        assertThat(active(host)).isZero();
        assertThat(queued(host)).isZero();
    }

    @Test
    void aCancelledFanOut_isOneCANCELLEDPerAttempt_inFlightAndWaiting() {
        metered(AsyncHttpClient.builder().maxInFlightPerHost(2));
        String host = server.host();
        server.closeGate();
        List<String> urls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            urls.add(server.url("/gate?i=" + i));
        }
        run(() -> {
            Task<List<Response>> all = Coro.spawn(() -> http.getAll(urls));
            await("2 at the server and 4 queued", () -> server.held.get() == 2 && http.queuedRequests(host) == 4);
            assertThat(queued(host)).isEqualTo(4.0);
            all.cancel();
            assertThat(catchThrowable(all::join)).isInstanceOf(CancellationException.class);
            return null;
        });
        assertThat(requests(host, "GET", HttpClientMetrics.NO_STATUS, "CANCELLED").count()).isEqualTo(6);
        assertThat(requestCount()).isEqualTo(6);
        // Cancelled together, a waiter may get a slot that a cancelled exchange freed first.
        assertThat(slotWait(host).count()).isBetween(2L, 6L);
        assertThat(active(host)).isZero();
        assertThat(queued(host)).isZero();
    }

    @Test
    void retries_areCounted_andEachAttemptIsTimedWithItsOwnOutcome() {
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(2).backoff(Duration.ofMillis(1), Duration.ofMillis(2))
                .retryOnStatus(503).build();
        metered(AsyncHttpClient.builder().retry(retry));
        String host = server.host();
        Response r = run(() -> http.get(server.url("/status?code=503")));
        assertThat(r.attempts()).isEqualTo(2);
        assertThat(requests(host, "GET", "503", "SERVER_ERROR").count()).isEqualTo(2);
        assertThat(registry.get("coro4j.http.client.retries").tag("client", "test").tag("host", host)
                .tag("method", "GET").counter().count()).isEqualTo(1.0);
    }

    @Test
    void aCallCancelledDuringItsBackoff_countsNoRetry_aloneAndInAFanOut() {
        // calls = requests - retries must hold for a call whose retry never started.
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofSeconds(20), Duration.ofSeconds(20))
                .retryOnStatus(503).build();
        metered(AsyncHttpClient.builder().retry(retry));
        run(() -> {
            Task<Response> call = Coro.spawn(() -> http.get(server.url("/status?code=503")));
            await("the call's first attempt ended", () -> requestCount() == 1);
            call.cancel();
            assertThat(catchThrowable(call::join)).isInstanceOf(CancellationException.class);
            Task<List<Response>> fanOut = Coro.spawn(() -> http.getAll(List.of(server.url("/status?code=503"))));
            await("the fan-out's first attempt ended", () -> requestCount() == 2);
            fanOut.cancel();
            assertThat(catchThrowable(fanOut::join)).isInstanceOf(CancellationException.class);
            return null;
        });
        assertThat(requestCount()).isEqualTo(2);
        assertThat(registry.find("coro4j.http.client.retries").counters().stream()
                .mapToDouble(Counter::count).sum()).as("retries").isZero();
    }

    /**
     * A fan-out cancelled after an attempt's response came in and before the fan-out handled it:
     * it handles it (a retry is due, so it spawns the retry task), then stops, cancelling that
     * task before it has run. A task cancelled before it starts never runs its body, so the
     * retry's outcome must be recorded by the fan-out itself; waited for, it never comes, and the
     * fan-out waits for it for ever (uninterruptibly, and its parent with it). Threadpool with one
     * carrier: the controlling task holds the carrier from the response's wake-up to the cancel.
     */
    @Test
    void aFanOutCancelledWhenARetryIsDue_endsCancelled() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(schedulerKind().equals("threadpool"),
                "runs once, on a one-carrier threadpool scheduler of its own, whose run queue shows the wake-up");
        Scheduler one = Schedulers.create("threadpool", SchedulerConfig.builder()
                .name(getClass().getSimpleName() + "-one-carrier").parallelism(1).daemon(true).build());
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(2).backoff(Duration.ofSeconds(20), Duration.ofSeconds(20))
                .retryOnStatus(200).build();
        metered(AsyncHttpClient.builder().retry(retry));
        String host = server.host();
        server.closeGate();
        java.util.concurrent.CompletableFuture<Throwable> ended = new java.util.concurrent.CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                Coro.run(one, () -> {
                    Task<List<Response>> fanOut = Coro.spawn(() -> http.getAll(List.of(server.url("/gate"))));
                    await("the attempt is at the server", () -> server.held.get() == 1);
                    server.openGate();
                    // Holding the only carrier: the fan-out, woken by the response, waits in the run queue.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (one.stats().queueDepth() == 0) {
                        if (System.nanoTime() - deadline > 0) {
                            throw new AssertionError("the response never woke the fan-out");
                        }
                        Thread.onSpinWait();
                    }
                    fanOut.cancel();
                    return catchThrowable(fanOut::join);
                });
                ended.complete(null);
            } catch (Throwable t) {
                ended.complete(t);
            }
        });
        Throwable failure;
        try {
            failure = ended.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("the cancelled fan-out never ended: it waits for the outcome of a retry"
                    + " task that was cancelled before it started");
        }
        assertThat(failure).isNull();
        one.close();
        assertThat(requests(host, "GET", "200", "SUCCESS").count()).as("the one attempt").isEqualTo(1);
        assertThat(registry.find("coro4j.http.client.retries").counters()).as("no retry started").isEmpty();
    }

    // ---- hosts, binding, removal ----

    @Test
    void hostsBeyondMaxHosts_areMeteredAsOther_andTheirGaugesSumThem() throws IOException {
        try (LoopbackServer b = new LoopbackServer(); LoopbackServer c = new LoopbackServer()) {
            metered(AsyncHttpClient.builder().maxInFlightPerHost(2), 1);
            String a = server.host();
            run(() -> http.get(server.url("/ok"))); // the first host seen: it gets meters of its own
            server.closeGate();
            b.closeGate();
            c.closeGate();
            run(() -> {
                List<Task<Response>> tasks = new ArrayList<>();
                // One held at the metered host too: "other" must not count it.
                tasks.add(Coro.spawn(() -> http.get(server.url("/gate"))));
                for (int i = 0; i < 3; i++) {
                    String url = b.url("/gate?i=" + i);
                    tasks.add(Coro.spawn(() -> http.get(url)));
                }
                tasks.add(Coro.spawn(() -> http.get(c.url("/gate"))));
                await("1 + 2 + 1 at the servers, 1 queued", () -> server.held.get() == 1 && b.held.get() == 2
                        && c.held.get() == 1 && http.queuedRequests(b.host()) == 1);
                assertThat(active(HttpClientMetrics.OTHER_HOST)).isEqualTo(3.0);
                assertThat(queued(HttpClientMetrics.OTHER_HOST)).isEqualTo(1.0);
                assertThat(active(a)).isEqualTo(1.0);
                server.openGate();
                b.openGate();
                c.openGate();
                for (Task<Response> t : tasks) {
                    t.join();
                }
                return null;
            });
            assertThat(requests(a, "GET", "200", "SUCCESS").count()).isEqualTo(2);
            assertThat(requests(HttpClientMetrics.OTHER_HOST, "GET", "200", "SUCCESS").count()).isEqualTo(4);
            assertThat(slotWait(HttpClientMetrics.OTHER_HOST).count()).isEqualTo(4);
            assertThat(registry.getMeters()).extracting(m -> m.getId().getTag("host"))
                    .containsOnly(a, HttpClientMetrics.OTHER_HOST);
            assertThat(active(HttpClientMetrics.OTHER_HOST)).isZero();
            assertThat(queued(HttpClientMetrics.OTHER_HOST)).isZero();
        }
    }

    @Test
    void close_removesEveryMeter_andTakesTheObserverOff() {
        metered(AsyncHttpClient.builder());
        run(() -> {
            http.get(server.url("/ok"));
            http.get(server.url("/status?code=404"));
            return catchThrowable(() -> http.get(server.url("/reset")));
        });
        assertThat(registry.getMeters()).extracting(m -> m.getId().getName()).contains(
                "coro4j.http.client.requests.active", "coro4j.http.client.requests.queued",
                "coro4j.http.client.slot.wait", "coro4j.http.client.requests");
        assertThat(registry.getMeters()).allSatisfy(m -> assertThat(m.getId().getTag("client")).isEqualTo("test"));
        metrics.close();
        assertThat(registry.getMeters()).isEmpty();
        assertThat(http.observer()).isNull();
        run(() -> http.get(server.url("/ok")));
        assertThat(registry.getMeters()).isEmpty();
        metrics.close(); // idempotent
        assertThatThrownBy(() -> metrics.bindTo(registry)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void bindTo_refusesASecondRegistry_andAClientWithAnotherObserver() {
        metered(AsyncHttpClient.builder());
        assertThatThrownBy(() -> metrics.bindTo(new SimpleMeterRegistry())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("bound already");
        try (AsyncHttpClient other = AsyncHttpClient.builder().observer(new HttpClientObserver() {}).build();
             HttpClientMetrics m = new HttpClientMetrics(other)) {
            assertThatThrownBy(() -> m.bindTo(new SimpleMeterRegistry())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has an observer already");
        }
        assertThatThrownBy(() -> new HttpClientMetrics(http, "x", -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxHosts -1 should not be negative");
    }

    /** Two clients metered under one name would share gauges: the second's pool would read as the first's. */
    @Test
    void bindTo_refusesAClientNameTakenOnTheRegistry_untilItsBinderIsClosed() {
        metered(AsyncHttpClient.builder());
        try (AsyncHttpClient second = AsyncHttpClient.builder().build()) {
            HttpClientMetrics sameName = new HttpClientMetrics(second, "test");
            assertThatThrownBy(() -> sameName.bindTo(registry)).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("client name \"test\" is taken on this registry by " + metrics
                            + ": give each client a name of its own (new HttpClientMetrics(client, name)),"
                            + " or close that binder first");
            assertThat(second.observer()).as("a refused binder observes nothing").isNull();
            try (AsyncHttpClient third = AsyncHttpClient.builder().build();
                 HttpClientMetrics otherName = new HttpClientMetrics(second, "second");
                 HttpClientMetrics otherRegistry = new HttpClientMetrics(third, "test")) {
                otherName.bindTo(registry);
                otherRegistry.bindTo(new SimpleMeterRegistry());
            }
            metrics.close();
            sameName.bindTo(registry); // the name is free again
            sameName.close();
        }
    }

    /**
     * A client replaced by a new one metered under the same name: the old binder closes while the
     * new one binds and sends. Half way through the close, the old meters not yet removed have the
     * new binder's ids: registered then, the new binder is handed them (its gauges reading the old
     * client), and the rest of the close removes them, so the new client ends up unmetered.
     */
    @Test
    void aBinderBindingWhileTheBinderOfItsNameCloses_endsWithAllItsMeters() throws Exception {
        PausingRegistry r = new PausingRegistry();
        String host = server.host();
        try (AsyncHttpClient oldClient = AsyncHttpClient.builder().build();
             AsyncHttpClient newClient = AsyncHttpClient.builder().build();
             HttpClientMetrics oldMetrics = new HttpClientMetrics(oldClient, "test");
             HttpClientMetrics newMetrics = new HttpClientMetrics(newClient, "test")) {
            oldMetrics.bindTo(r);
            run(() -> oldClient.get(server.url("/ok")));

            Thread closer = Thread.ofPlatform().name("closer").start(oldMetrics::close);
            r.awaitPaused();
            Throwable refused = catchThrowable(() -> newMetrics.bindTo(r));
            if (refused == null) {
                run(() -> newClient.get(server.url("/ok"))); // bound: metered now
            }
            r.resume();
            closer.join();
            if (refused != null) {
                assertThat(refused).isExactlyInstanceOf(IllegalStateException.class).hasMessageContaining("is taken");
                newMetrics.bindTo(r);
                run(() -> newClient.get(server.url("/ok")));
            }
            run(() -> newClient.get(server.url("/ok")));

            long expected = 2; // the new client's two requests, whether it bound at once or after the close
            assertThat(r.find("coro4j.http.client.requests").tag("client", "test").tag("host", host)
                    .tag("outcome", "SUCCESS").timers()).as("the new client's request timer")
                    .singleElement().satisfies(t -> assertThat(t.count()).isEqualTo(expected));
            assertThat(r.find("coro4j.http.client.slot.wait").tag("host", host).timers()).singleElement()
                    .satisfies(t -> assertThat(t.count()).isEqualTo(expected));
            assertThat(r.find("coro4j.http.client.requests.active").tag("host", host).gauges()).hasSize(1);
            assertThat(r.find("coro4j.http.client.requests.queued").tag("host", host).gauges()).hasSize(1);
        }
    }

    /**
     * A blank client name would tag every meter {@code client=""} or {@code client=" "}: an empty
     * label is no label to Prometheus, and the dashboard's client variable lists neither. Refused,
     * as a blank scheduler name is (SchedulerConfig).
     */
    @Test
    void aBlankClientName_isRefusedWithAMessage() {
        try (AsyncHttpClient client = AsyncHttpClient.builder().build()) {
            for (String blank : List.of("", " ")) {
                assertThatThrownBy(() -> new HttpClientMetrics(client, blank))
                        .isExactlyInstanceOf(IllegalArgumentException.class)
                        .hasMessage("clientName should not be blank: give the client a name, or use"
                                + " new HttpClientMetrics(client) for \"default\"");
            }
            assertThatThrownBy(() -> new HttpClientMetrics(client, null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("clientName");
            assertThatThrownBy(() -> new HttpClientMetrics(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("client");
            assertThatThrownBy(() -> new HttpClientMetrics(client).bindTo(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("registry");
            assertThat(client.observer()).isNull();
        }
    }

    @Test
    void prometheus_rendersTheMeters() {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry = prometheus;
        metered(AsyncHttpClient.builder());
        run(() -> http.get(server.url("/ok")));
        String host = server.host();
        String scrape = prometheus.scrape();
        assertThat(scrape).contains(
                "coro4j_http_client_requests_seconds_count{client=\"test\",host=\"" + host
                        + "\",method=\"GET\",outcome=\"SUCCESS\",status=\"200\"} 1",
                "coro4j_http_client_slot_wait_seconds_count{client=\"test\",host=\"" + host + "\"} 1",
                "coro4j_http_client_requests_active{client=\"test\",host=\"" + host + "\"} 0",
                "coro4j_http_client_requests_queued{client=\"test\",host=\"" + host + "\"} 0");
        metrics.close();
        metrics = null;
        assertThat(prometheus.getMeters()).isEmpty();
    }
}
