package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.TimeoutExceededException;
import io.coro4j.http.testing.Polling;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A server that misbehaves, and fan-out at scale: each fault gives its own exception, nothing
 * hangs, and every connection the client opened is closed again (counted on the server side); the
 * limits hold as the server counts them; a fail-fast gather cancels its siblings promptly and the
 * server sees their connections close. Run once per scheduler by a subclass.
 */
abstract class FaultInjectionContract extends SchedulerFixture {

    FaultServer faults;
    TestHttpServer server;

    @BeforeAll
    void startServers() throws IOException {
        faults = new FaultServer();
        server = TestHttpServer.http();
    }

    @AfterAll
    void stopServers() throws IOException {
        faults.close();
        server.close();
    }

    @BeforeEach
    void reset() {
        faults.resetCounters();
        server.resetCounters();
    }

    @AfterEach
    void noConnectionLeft() throws InterruptedException {
        assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).as("connections still open on the fault server").isZero();
    }

    static AsyncHttpClient.Builder client() {
        // Long enough that an IO error, which comes at once, is never outrun by the timeout on a
        // busy machine; the stall tests set their own short one.
        return AsyncHttpClient.builder().connectTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(5));
    }

    /** Runs one GET of {@code path} on the fault server and returns what it threw. */
    private Throwable fault(AsyncHttpClient http, String path) {
        long start = System.nanoTime();
        Throwable e = catchThrowable(() -> run(() -> http.get(faults.url(path))));
        assertThat(System.nanoTime() - start).as("returned in bounded time").isLessThan(TimeUnit.SECONDS.toNanos(10));
        assertThat(http.inFlight()).isZero();
        return e;
    }

    @Test
    void connectionReset_isAnIoError() throws InterruptedException {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/reset")).isInstanceOf(HttpIoException.class)
                    .hasMessage("GET " + faults.url("/reset") + ": connection reset by the server");
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
        }
    }

    @Test
    void closedWithoutAResponse_isAnIoError() throws InterruptedException {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/close")).isInstanceOf(HttpIoException.class)
                    .hasMessage("GET " + faults.url("/close") + ": connection closed by the server before any response");
        }
    }

    @Test
    void notHttp_isAnIoError() {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/garbage")).isInstanceOf(HttpIoException.class)
                    .hasMessageStartingWith("GET " + faults.url("/garbage") + ": ");
        }
    }

    @Test
    void stallBeforeHeaders_isARequestTimeout_andTheConnectionIsClosed() throws InterruptedException {
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofMillis(500)).build()) {
            assertThat(fault(http, "/stall")).isInstanceOf(RequestTimeoutException.class)
                    .hasMessage("GET " + faults.url("/stall") + ": no complete response within 500 ms");
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).as("the aborted exchange's connection").isZero();
        }
    }

    @Test
    void stallMidBody_isARequestTimeout_andTheConnectionIsClosed() throws InterruptedException {
        // The JDK's own request timeout ends at the headers; the client's covers the body too.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofMillis(500)).build()) {
            assertThat(fault(http, "/stall-body")).isInstanceOf(RequestTimeoutException.class)
                    .hasMessage("GET " + faults.url("/stall-body") + ": no complete response within 500 ms");
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
        }
    }

    @Test
    void fewerBytesThanContentLength_isAnIoError() {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/short")).isInstanceOf(HttpIoException.class)
                    .hasMessageStartingWith("GET " + faults.url("/short") + ": connection closed before the response was complete");
        }
    }

    /**
     * A server that answers before it has read the request's body (a 413 to an upload) ends the
     * exchange with the body's stream half read: the stream is closed all the same (the JDK closes
     * it only once it has read it to the end).
     */
    @Test
    void aStreamBodyTheServerAnswersBeforeReading_isClosed() {
        try (AsyncHttpClient http = client().build()) {
            HttpClientContract.EndlessStream body = new HttpClientContract.EndlessStream();
            Throwable e = catchThrowable(() -> {
                Response r = run(() -> http.post(faults.url("/answer-early"), RequestBody.ofInputStream(() -> body, "text/plain")));
                assertThat(r.status()).isEqualTo(413);
            });
            // The answer, or the upload's broken connection if the close came first: either way, the attempt is over.
            if (e != null) {
                assertThat(e).isInstanceOf(HttpIoException.class);
            }
            run(() -> {
                Polling.await("the body's stream closed", body.closed::get);
                return null;
            });
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * A Content-Length within the limit is a promise the server may not keep: the client does not
     * reserve that much memory at the headers (before, a 1 GiB array per such response, so a few
     * lying servers could exhaust the heap), but grows the body as bytes arrive.
     */
    @Test
    void aHugeContentLengthWithFewBytes_doesNotAllocateWhatItPromised() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (AsyncHttpClient http = client().maxBodySize(Integer.MAX_VALUE - 8).build()) {
            assertThat(fault(http, "/ok")).isNull(); // the client's own first-use allocations, outside the count
            long before = threads.getTotalThreadAllocatedBytes();
            assertThat(fault(http, "/short-huge")).isInstanceOf(HttpIoException.class)
                    .hasMessageStartingWith("GET " + faults.url("/short-huge") + ": connection closed before the response was complete");
            long allocated = threads.getTotalThreadAllocatedBytes() - before;
            assertThat(allocated).as("bytes allocated by all threads for a response of 10 bytes promising 1 GiB")
                    .isLessThan(64L << 20);
        }
    }

    /**
     * A HEAD response has no body whatever its Content-Length says, and java.net.http, which
     * frames the response, takes the method case-insensitively ("head" reads no body either): the
     * body reader must agree, or it refuses a Content-Length that does not apply (it compared the
     * method case-sensitively, and failed "head" with a BodyTooLargeException for a bodiless 200).
     */
    @Test
    void aHeadSpelledInLowerCase_hasNoBody_whateverItsContentLength() {
        try (AsyncHttpClient http = client().maxBodySize(100).build()) {
            Response r = run(() -> http.send(Request.builder("head", faults.url("/short-huge")).build()));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyLength()).isZero();
            assertThat(http.inFlight()).isZero();
        }
    }

    /** A Content-Length that is not a number: a malformed response, not a bare NumberFormatException. */
    @Test
    void anInvalidContentLength_isAnIoError_andTheConnectionIsClosed() throws InterruptedException {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/bad-length")).isInstanceOf(HttpIoException.class)
                    .hasMessage("GET " + faults.url("/bad-length") + ": malformed response (Content-Length: abc)");
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
        }
    }

    @Test
    void brokenChunkedEncoding_isAnIoError_andTheConnectionIsClosed() throws InterruptedException {
        try (AsyncHttpClient http = client().build()) {
            assertThat(fault(http, "/bad-chunked")).isInstanceOf(HttpIoException.class)
                    .hasMessageStartingWith("GET " + faults.url("/bad-chunked") + ": malformed response");
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
        }
    }

    @Test
    void everyFaultAtOnce_eachUrlGetsItsOwnError_andTheGoodOnesSucceed() throws InterruptedException {
        List<String> paths = List.of("/ok", "/reset", "/close", "/stall", "/stall-body", "/short", "/bad-chunked", "/ok");
        List<String> urls = paths.stream().map(faults::url).toList();
        // The stalls time out after 2 s: time enough for the others on a busy machine.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(2)).build()) {
            List<Outcome<Response>> out = run(() -> http.getAllSettled(urls));
            assertThat(out.get(0).getOrThrow().bodyAsString()).isEqualTo("ok");
            assertThat(out.get(7).getOrThrow().bodyAsString()).isEqualTo("ok");
            List<Class<?>> types = new ArrayList<>();
            for (int i = 1; i < 7; i++) {
                Throwable e = ((Outcome.Failure<Response>) out.get(i)).exception();
                assertThat(e).hasMessageStartingWith("GET " + urls.get(i) + ": ");
                types.add(e.getClass());
            }
            assertThat(types).containsExactly(HttpIoException.class, HttpIoException.class, RequestTimeoutException.class,
                    RequestTimeoutException.class, HttpIoException.class, HttpIoException.class);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
        }
        // The two /ok connections stayed pooled until the client closed.
        assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
    }

    @Test
    void keepAlive_reusesOneConnection_andCloseClosesIt() throws InterruptedException {
        try (AsyncHttpClient http = client().build()) {
            run(() -> {
                for (int i = 0; i < 50; i++) {
                    assertThat(http.get(faults.url("/ok")).status()).isEqualTo(200);
                }
                return null;
            });
            assertThat(faults.accepted.get()).isEqualTo(1);
            assertThat(faults.open.get()).isEqualTo(1);
        }
        assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
    }

    /**
     * try-with-resources inside a task that a timeout cancels: close() runs while the cancellation
     * is pending, and must still close the pooled connections (a later close() does nothing).
     */
    @Test
    void close_inATaskWhoseCancellationIsPending_stillClosesThePooledConnections() throws InterruptedException {
        AsyncHttpClient http = client().build();
        assertThat(run(() -> http.get(faults.url("/ok"))).status()).isEqualTo(200);
        assertThat(faults.open.get()).as("the keep-alive connection in the pool").isEqualTo(1);
        Throwable e = catchThrowable(() -> run(() -> Coro.withTimeout(Duration.ofMillis(100), () -> {
            try (http) {
                Coro.sleep(Duration.ofSeconds(20));
                return null;
            }
        })));
        assertThat(e).isInstanceOf(TimeoutExceededException.class);
        assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).as("connections open after close()").isZero();
        http.close(); // idempotent
    }

    @Test
    void cancellingATask_abortsItsRequest_andFreesItsConnectionAndSlot() throws InterruptedException {
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(20)).build()) {
            Throwable e = catchThrowable(() -> run(() -> {
                Task<Response> t = Coro.spawn(() -> http.get(faults.url("/stall")));
                Polling.await("the request stalled at the server", () -> faults.stalled.get() > 0);
                assertThat(http.inFlight()).isEqualTo(1);
                t.cancel();
                return t.join();
            }));
            assertThat(e).isInstanceOf(CancellationException.class);
            assertThat(http.inFlight()).isZero();
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).as("the server saw the connection close").isZero();
        }
    }

    @Test
    void cancellingAFanOut_stopsTheQueuedAndTheRunning_andFreesEverything() throws InterruptedException {
        // 50 requests that stall, 5 at a time: cancel the caller once 5 are in flight; 45 are queued.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(20)).maxInFlightPerHost(5).build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                urls.add(faults.url("/stall?i=" + i));
            }
            Throwable e = catchThrowable(() -> run(() -> {
                Task<List<Response>> fanOut = Coro.spawn(() -> http.getAll(urls));
                // Both, not just the five at the server: the other 45 children may still be on
                // their way to the slot queue when the first five arrive there (seen on loom).
                Polling.await("5 requests stalled at the server and 45 in the slot queue",
                        () -> faults.stalled.get() >= 5 && http.waiting() >= 45);
                assertThat(faults.stalled.get()).isEqualTo(5);
                assertThat(http.waiting()).isEqualTo(45);
                fanOut.cancel();
                return fanOut.join();
            }));
            assertThat(e).isInstanceOf(CancellationException.class);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
            assertThat(faults.accepted.get()).as("the queued ones never started").isEqualTo(5);
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(5))).isZero();
        }
    }

    @Test
    void aFanOutsQueuedRequests_timeOutWaitingForASlot_eachWithItsOwnError() {
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(5)).maxInFlightPerHost(1)
                .slotWaitTimeout(Duration.ofMillis(200)).build()) {
            List<String> urls = List.of(server.url("/sleep?ms=600&id=a"), server.url("/sleep?ms=600&id=b"), server.url("/sleep?ms=600&id=c"));
            List<Outcome<Response>> out = run(() -> http.getAllSettled(urls));
            assertThat(out.get(0).getOrThrow().bodyAsString()).isEqualTo("a");
            for (int i = 1; i < 3; i++) {
                Throwable e = ((Outcome.Failure<Response>) out.get(i)).exception();
                assertThat(e).isInstanceOf(SlotWaitTimeoutException.class).hasMessageStartingWith("GET " + urls.get(i) + ": no free slot within 200 ms");
            }
            assertThat(server.requests.get()).isEqualTo(1);
            assertThat(http.waiting()).isZero();
        }
    }

    @Test
    void anEmptyFanOut_returnsAnEmptyList() {
        try (AsyncHttpClient http = client().build()) {
            assertThat(run(() -> http.getAll(List.of()))).isEmpty();
            assertThat(run(() -> http.getAllSettled(List.of()))).isEmpty();
        }
    }

    // ---- limits ----

    @Test
    void thousandRequests_perHostLimit10_neverMoreThan10InFlightAtTheServer() {
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(20)).maxInFlightPerHost(10).build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                urls.add(server.url("/sleep?ms=2&id=" + i));
            }
            List<Response> rs = run(() -> http.getAll(urls));
            assertThat(rs).hasSize(1000);
            for (int i = 0; i < 1000; i++) {
                assertThat(rs.get(i).bodyAsString()).isEqualTo(String.valueOf(i));
            }
            assertThat(server.requests.get()).isEqualTo(1000);
            assertThat(server.maxActive.get()).as("most handlers running at once, counted by the server")
                    .isLessThanOrEqualTo(10).isGreaterThan(1);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
        }
    }

    @Test
    void overallLimit_holdsAcrossHosts() throws InterruptedException {
        // Two "hosts" (the two servers), per-host limit 10, overall 6: at most 6 at once in all.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(20)).maxInFlight(6).maxInFlightPerHost(10).build()) {
            int[] maxSeen = new int[1];
            run(() -> {
                List<Request> requests = new ArrayList<>();
                for (int i = 0; i < 60; i++) {
                    requests.add(Request.get(i % 2 == 0 ? server.url("/sleep?ms=10") : faults.url("/ok")));
                }
                Task<List<Response>> all = Coro.spawn(() -> http.sendAll(requests));
                while (!all.isDone()) {
                    maxSeen[0] = Math.max(maxSeen[0], http.inFlight());
                    Coro.sleep(Duration.ofMillis(1));
                }
                return all.join();
            });
            assertThat(maxSeen[0]).isLessThanOrEqualTo(6);
            assertThat(server.maxActive.get()).isLessThanOrEqualTo(6);
        }
    }

    @Test
    void failFastGather_oneOf100Fails_theOthersAreCancelledPromptly_andTheirConnectionsClosed() throws InterruptedException {
        // 99 requests stall (the server holds them until the client gives up: 30 s request timeout);
        // the 100th fails once the 99 are all in flight. gather must return at once, and the server
        // must see all 99 connections closed.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(30)).maxInFlightPerHost(100).build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                urls.add(i == 57 ? faults.url("/reset-when-stalled?n=99") : faults.url("/stall?i=" + i));
            }
            long[] returnedAfterFailure = new long[1];
            Throwable e = catchThrowable(() -> run(() -> {
                try {
                    return http.getAll(urls);
                } finally {
                    returnedAfterFailure[0] = System.nanoTime();
                }
            }));
            long failedAt = System.nanoTime();
            assertThat(e).isInstanceOf(HttpIoException.class).hasMessage("GET " + urls.get(57) + ": connection reset by the server");
            // The 99 others were cancelled by the client because of it: not failures of their own.
            assertThat(e.getSuppressed()).isEmpty();
            // 100, or 101 when the JDK retried the reset GET once by itself (it does so on a connection it thinks stale)
            assertThat(faults.accepted.get()).as("all 100 were in flight together").isBetween(100, 101);
            long start = System.nanoTime();
            // Bounds far under the 30 s the stalled requests would take on their own, and far over what
            // an idle machine needs (well under a second), so that a loaded one does not fail them.
            assertThat(faults.awaitOpen(0, Duration.ofSeconds(20))).as("the server saw every connection close").isZero();
            long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(closeMs).as("connections closed promptly (ms)").isLessThan(15_000);
            assertThat(http.inFlight()).isZero();
            assertThat(failedAt - returnedAfterFailure[0]).isLessThan(TimeUnit.SECONDS.toNanos(15));
        }
    }

    @Test
    void failFastGather_returnsFarSoonerThanTheSlowRequests() {
        // Timing view, on the JDK's server: 99 requests of 10 s each and one with a 1 s timeout
        // of its own: gather returns soon after 1 s, not after 10 s.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(30)).maxInFlightPerHost(100).build()) {
            List<Request> requests = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Request.Builder b = Request.builder("GET", server.url("/sleep?ms=10000&id=" + i));
                requests.add(i == 42 ? b.timeout(Duration.ofMillis(1000)).build() : b.build());
            }
            long start = System.nanoTime();
            Throwable e = catchThrowable(() -> run(() -> http.sendAll(requests)));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(e).isInstanceOf(RequestTimeoutException.class).hasMessageContaining("id=42");
            // Under the 10 s of the slow ones, with room for a loaded machine (about 1.1 s idle).
            assertThat(ms).as("gather returned after (ms)").isLessThan(8000);
            assertThat(server.maxActive.get()).as("the slow ones were in flight").isGreaterThan(10);
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
        }
    }
}
