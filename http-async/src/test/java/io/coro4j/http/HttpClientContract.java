package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Outcome;
import io.coro4j.Task;
import io.coro4j.http.testing.Polling;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link AsyncHttpClient} does for a well-behaved server and for bad input: methods and
 * bodies, decoding, status, gather, bad input, retries, timeouts and limits. Run once per scheduler
 * by a subclass.
 */
abstract class HttpClientContract extends SchedulerFixture {

    TestHttpServer server;

    @BeforeAll
    void startServer() throws IOException {
        server = TestHttpServer.http();
    }

    @AfterAll
    void stopServer() {
        server.close();
    }

    @BeforeEach
    void resetServer() {
        server.resetCounters();
    }

    static AsyncHttpClient.Builder client() {
        return AsyncHttpClient.builder().connectTimeout(Duration.ofSeconds(5)).requestTimeout(Duration.ofSeconds(10));
    }

    // ---- requests and bodies ----

    @Test
    void get_returnsStatusHeadersAndBody_asBytesStringAndStream() throws IOException {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.get(server.url("/bytes?n=1024")));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.isSuccess()).isTrue();
            assertThat(r.header("content-length")).hasValue("1024");
            assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(1024));
            assertThat(r.bodyLength()).isEqualTo(1024);
            assertThat(r.bodyAsString()).isEqualTo(new String(TestHttpServer.pattern(1024), StandardCharsets.US_ASCII));
            assertThat(r.bodyStream().readAllBytes()).isEqualTo(TestHttpServer.pattern(1024));
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
            assertThat(r.attempts()).isEqualTo(1);
            assertThat(http.inFlight()).isZero();
        }
    }

    @Test
    void chunkedBody_isReadWhole() {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.get(server.url("/chunked?n=100000")));
            assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(100000));
        }
    }

    @Test
    void text_isDecodedInTheCharsetOfItsContentType() {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.get(server.url("/text")));
            assertThat(r.bodyAsString()).isEqualTo("h\u00e9llo w\u00f6rld");
        }
    }

    @Test
    void post_sendsStringBytesAndStreamBodies_withTheirContentTypes() {
        try (AsyncHttpClient http = client().build()) {
            List<Response> rs = run(() -> List.of(
                    http.post(server.url("/echo"), RequestBody.ofString("caf\u00e9")),
                    http.post(server.url("/echo"), RequestBody.ofBytes(new byte[] {1, 2, 3})),
                    http.post(server.url("/echo"), RequestBody.ofInputStream(
                            () -> new ByteArrayInputStream(TestHttpServer.pattern(70000)), "application/x-test")),
                    http.send(Request.builder("POST", server.url("/echo"))
                            .header("Content-Type", "application/json")
                            .body(RequestBody.ofString("{}", "text/plain")).build())));
            assertThat(rs.get(0).bodyAsString(StandardCharsets.UTF_8)).isEqualTo("caf\u00e9");
            assertThat(rs.get(0).header("X-Content-Type")).hasValue("text/plain; charset=UTF-8");
            assertThat(rs.get(1).bodyBytes()).containsExactly(1, 2, 3);
            assertThat(rs.get(1).header("X-Content-Type")).hasValue("application/octet-stream");
            assertThat(rs.get(2).bodyBytes()).isEqualTo(TestHttpServer.pattern(70000));
            assertThat(rs.get(2).header("X-Content-Type")).hasValue("application/x-test");
            assertThat(rs.get(3).header("X-Content-Type")).as("an explicit header wins").hasValue("application/json");
            assertThat(rs).allSatisfy(r -> assertThat(r.header("X-Method")).hasValue("POST"));
        }
    }

    /**
     * A request body that cannot be read (its stream fails, or its supplier cannot open one) is a
     * failure of that URL like any other: an HttpIoException naming the method and URL, which a
     * settled fan-out hands back as that URL's HttpRequestException; not the JDK's bare
     * UncheckedIOException.
     */
    @Test
    void aRequestBodyThatCannotBeRead_isAnIoErrorNamingTheUrl_aloneAndInAFanOut() {
        try (AsyncHttpClient http = client().build()) {
            String url = server.url("/echo");
            RequestBody failingStream = RequestBody.ofInputStream(() -> new InputStream() {
                private int n;

                @Override
                public int read() throws IOException {
                    if (n++ < 10) {
                        return 'x';
                    }
                    throw new IOException("disk gone");
                }
            }, "text/plain");
            RequestBody noStream = RequestBody.ofInputStream(() -> {
                throw new UncheckedIOException(new IOException("no such file"));
            }, "text/plain");
            assertThat(catchThrowable(() -> run(() -> http.post(url, failingStream))))
                    .isInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (java.io.IOException: disk gone)");
            List<Outcome<Response>> settled = run(() -> http.sendAllSettled(List.of(
                    Request.post(url, noStream), Request.post(url, RequestBody.ofString("ok")))));
            assertFailure(settled.get(0), HttpIoException.class,
                    "POST " + url + ": the request body could not be read (java.io.IOException: no such file)");
            assertThat(settled.get(1).isSuccess()).isTrue();
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * A stream body's supplier that throws an unchecked exception other than UncheckedIOException,
     * or returns null, and a stream whose read throws one, are bodies that "cannot be opened or
     * read": an HttpIoException naming the method and URL, alone and in a settled fan-out (one
     * HttpRequestException per URL). Before, the supplier's own IllegalStateException came out as
     * it was (in a settled fan-out too, and indistinguishable from the client's own "closed"), and
     * null was "connection failed: IOException: streamSupplier returned null".
     */
    @Test
    void aStreamSupplierThatThrowsOrReturnsNull_orAReadThatThrows_isAnIoErrorNamingTheUrl() {
        try (AsyncHttpClient http = client().build()) {
            String url = server.url("/echo");
            RequestBody throwing = RequestBody.ofInputStream(() -> {
                throw new IllegalStateException("no file");
            }, "text/plain");
            RequestBody nullStream = RequestBody.ofInputStream(() -> null, "text/plain");
            RequestBody badRead = RequestBody.ofInputStream(() -> new InputStream() {
                @Override
                public int read() {
                    throw new IllegalArgumentException("bad read");
                }
            }, "text/plain");
            assertThat(catchThrowable(() -> run(() -> http.post(url, throwing))))
                    .isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (its stream supplier threw"
                            + " java.lang.IllegalStateException: no file)");
            assertThat(catchThrowable(() -> run(() -> http.post(url, nullStream))))
                    .isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (its stream supplier returned null)");
            assertThat(catchThrowable(() -> run(() -> http.post(url, badRead))))
                    .isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (java.lang.IllegalArgumentException: bad read)");
            List<Outcome<Response>> settled = run(() -> http.sendAllSettled(List.of(
                    Request.post(url, throwing), Request.post(url, RequestBody.ofString("ok")))));
            assertFailure(settled.get(0), HttpIoException.class, "POST " + url
                    + ": the request body could not be read (its stream supplier threw java.lang.IllegalStateException: no file)");
            assertThat(settled.get(1).isSuccess()).isTrue();
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * A stream body whose close throws, when java.net.http closes it at its end, fails the attempt
     * as a read that throws does: with an HttpIoException naming the method and URL, an unchecked
     * exception as a checked one, alone and in a settled fan-out. Before, an unchecked one came out
     * as it was (IllegalStateException, as the client's own "closed"; in a settled fan-out as that
     * URL's outcome, documented to be an HttpRequestException).
     */
    @Test
    void aStreamWhoseCloseThrows_isAnIoErrorNamingTheUrl_checkedOrNot() {
        try (AsyncHttpClient http = client().build()) {
            String url = server.url("/echo");
            RequestBody unchecked = RequestBody.ofInputStream(() -> new java.io.ByteArrayInputStream(new byte[10]) {
                @Override
                public void close() {
                    throw new IllegalStateException("close failed");
                }
            }, "text/plain");
            RequestBody checked = RequestBody.ofInputStream(() -> new java.io.ByteArrayInputStream(new byte[10]) {
                @Override
                public void close() throws IOException {
                    throw new IOException("close failed");
                }
            }, "text/plain");
            assertThat(catchThrowable(() -> run(() -> http.post(url, unchecked))))
                    .isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (java.lang.IllegalStateException: close failed)");
            assertThat(catchThrowable(() -> run(() -> http.post(url, checked))))
                    .isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("POST " + url + ": the request body could not be read (java.io.IOException: close failed)");
            List<Outcome<Response>> settled = run(() -> http.sendAllSettled(List.of(
                    Request.post(url, unchecked), Request.post(url, RequestBody.ofString("ok")))));
            assertFailure(settled.get(0), HttpIoException.class,
                    "POST " + url + ": the request body could not be read (java.lang.IllegalStateException: close failed)");
            assertThat(settled.get(1).isSuccess()).isTrue();
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * A request body stream that the exchange stops reading (the calling task is cancelled, or the
     * request timeout passes, mid-upload) is closed all the same, and read no more: RequestBody
     * promises to close the stream of each attempt, and a stream over a file or a socket left open
     * leaks its descriptor until a garbage collection, one per abandoned upload.
     */
    @Test
    void aStreamBodyAbandonedMidUpload_isClosed_whenTheCallerIsCancelled_orTheRequestTimesOut() {
        try (AsyncHttpClient http = client().build()) {
            EndlessStream cancelled = new EndlessStream();
            Throwable e = catchThrowable(() -> run(() -> {
                Task<Response> t = Coro.spawn(() -> http.post(server.url("/echo"),
                        RequestBody.ofInputStream(() -> cancelled, "text/plain")));
                Polling.await("the upload to be under way", () -> cancelled.reads.get() >= 3);
                t.cancel();
                return t.join();
            }));
            assertThat(e).isInstanceOf(CancellationException.class);
            EndlessStream timedOut = new EndlessStream();
            Throwable f = catchThrowable(() -> run(() -> http.send(Request.builder("POST", server.url("/echo"))
                    .timeout(Duration.ofMillis(300)).body(RequestBody.ofInputStream(() -> timedOut, "text/plain")).build())));
            assertThat(f).isInstanceOf(RequestTimeoutException.class);
            run(() -> {
                Polling.await("both streams closed", () -> cancelled.closed.get() && timedOut.closed.get());
                return null;
            });
            int reads = cancelled.reads.get() + timedOut.reads.get();
            run(() -> {
                Coro.sleep(Duration.ofMillis(100));
                return null;
            });
            assertThat(cancelled.reads.get() + timedOut.reads.get()).as("reads after the close").isLessThanOrEqualTo(reads + 2);
            assertThat(http.inFlight()).isZero();
        }
    }

    /**
     * The close of an abandoned upload's stream may block (a stream over a connection may drain
     * it): it does not hold up the cancelled task, whose carrier would otherwise wait in it.
     */
    @Test
    void aStreamBodyWhoseCloseBlocks_doesNotHoldUpTheCancelledCaller() {
        java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch mayClose = new java.util.concurrent.CountDownLatch(1);
        EndlessStream body = new EndlessStream() {
            @Override
            public void close() {
                closing.countDown();
                try {
                    mayClose.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                super.close();
            }
        };
        try (AsyncHttpClient http = client().build()) {
            Throwable e = catchThrowable(() -> run(() -> {
                Task<Response> t = Coro.spawn(() -> http.post(server.url("/echo"), RequestBody.ofInputStream(() -> body, "text/plain")));
                Polling.await("the upload to be under way", () -> body.reads.get() >= 3);
                t.cancel();
                try {
                    return Coro.withTimeout(Duration.ofSeconds(5), t::join);
                } finally {
                    assertThat(closing.getCount()).as("the close began").isLessThanOrEqualTo(1);
                }
            }));
            assertThat(e).isInstanceOf(CancellationException.class);
            mayClose.countDown();
            run(() -> {
                Polling.await("the stream closed", body.closed::get);
                return null;
            });
        } finally {
            mayClose.countDown();
        }
    }

    /**
     * A stream body read to the end is closed once. java.net.http closes such a stream itself, at
     * times twice (it looks for more after the end a second time, and each look closes the
     * stream); before, each of those closes reached the caller's stream: about one upload in
     * three here, on both schedulers.
     */
    @Test
    void aStreamBodyReadToTheEnd_isClosedOnce() throws InterruptedException {
        int uploads = 40;
        List<AtomicInteger> closes = new ArrayList<>();
        try (AsyncHttpClient http = client().build()) {
            for (int i = 0; i < uploads; i++) {
                AtomicInteger c = new AtomicInteger();
                closes.add(c);
                RequestBody body = RequestBody.ofInputStream(() -> new java.io.ByteArrayInputStream(TestHttpServer.pattern(10)) {
                    @Override
                    public void close() {
                        c.incrementAndGet();
                    }
                }, "text/plain");
                assertThat(run(() -> http.post(server.url("/echo"), body)).bodyLength()).isEqualTo(10);
            }
            run(() -> {
                Polling.await("every stream closed", () -> closes.stream().allMatch(c -> c.get() >= 1));
                return null;
            });
        }
        Thread.sleep(200); // a second close runs on a virtual thread of its own: time to show up
        assertThat(closes.stream().mapToInt(AtomicInteger::get).boxed().toList())
                .as("closes of each stream").containsOnly(1);
    }

    /** An endless request body, 1 KiB per read every 10 ms, that records its close. */
    static class EndlessStream extends InputStream {
        final AtomicInteger reads = new AtomicInteger();
        final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        @Override
        public int read() throws IOException {
            byte[] b = new byte[1];
            return read(b, 0, 1) < 0 ? -1 : b[0];
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed.get()) {
                throw new IOException("stream closed");
            }
            reads.incrementAndGet();
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException("interrupted");
            }
            int k = Math.min(len, 1024);
            java.util.Arrays.fill(b, off, off + k, (byte) 'x');
            return k;
        }

        @Override
        public void close() {
            closed.set(true);
        }
    }

    /**
     * A 307 resends the body: a stream body asks its supplier for a second stream, and both are
     * closed once the request is over.
     */
    @Test
    void a307_resendsAStreamBody_fromAFreshStream_andClosesBoth() {
        try (AsyncHttpClient http = client().build()) {
            List<java.util.concurrent.atomic.AtomicBoolean> closed = new CopyOnWriteArrayList<>();
            Response r = run(() -> http.post(server.url("/redirect307"), RequestBody.ofInputStream(() -> {
                java.util.concurrent.atomic.AtomicBoolean c = new java.util.concurrent.atomic.AtomicBoolean();
                closed.add(c);
                return new ByteArrayInputStream(TestHttpServer.pattern(5000)) {
                    @Override
                    public void close() {
                        c.set(true);
                    }
                };
            }, "text/plain")));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.uri().getPath()).isEqualTo("/echo");
            assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(5000));
            run(() -> {
                Polling.await("both streams closed", () -> closed.size() == 2 && closed.stream().allMatch(c -> c.get()));
                return null;
            });
        }
    }

    /**
     * Cancelling a task while the server is still sending the body (a chunked body that never
     * ends), and a withTimeout around a fan-out of two such: each exchange is aborted (the server's
     * next write fails), its slot is free, and close() has nothing left to wait for.
     */
    @Test
    void cancellingWhileTheBodyStreams_abortsTheExchange_andLeavesNothingForClose() {
        AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(20)).build();
        try {
            Throwable cancelled = catchThrowable(() -> run(() -> {
                Task<Response> t = Coro.spawn(() -> http.get(server.url("/drip")));
                Polling.await("the body streaming", () -> server.dripping.get() == 1);
                Coro.sleep(Duration.ofMillis(50));
                t.cancel();
                return t.join();
            }));
            assertThat(cancelled).isInstanceOf(CancellationException.class);
            Throwable timedOut = catchThrowable(() -> run(() -> Coro.withTimeout(Duration.ofMillis(300),
                    () -> http.getAll(List.of(server.url("/drip?a"), server.url("/drip?b"))))));
            assertThat(timedOut).isInstanceOf(io.coro4j.TimeoutExceededException.class);
            assertThat(http.inFlight()).isZero();
            run(() -> {
                Polling.await("the server's writes failed", () -> server.dripping.get() == 0);
                return null;
            });
            long start = System.nanoTime();
            http.close();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close() waited for an exchange").isLessThan(Duration.ofSeconds(2));
        } finally {
            http.close();
        }
    }

    @Test
    void head_hasStatusAndHeadersButNoBody() {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.head(server.url("/bytes?n=5000")));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("Content-Length")).hasValue("5000");
            assertThat(r.bodyLength()).isZero();
        }
    }

    @Test
    void generalRequest_anyMethodWithHeaders() {
        try (AsyncHttpClient http = client().build()) {
            List<String> methods = run(() -> {
                List<String> seen = new ArrayList<>();
                for (String m : List.of("PUT", "DELETE", "PATCH", "OPTIONS")) {
                    Response r = http.send(Request.builder(m, server.url("/echo")).header("X-Test", "a").header("x-test", "b")
                            .body(RequestBody.ofString(m)).build());
                    seen.add(r.header("X-Method").orElseThrow() + ":" + r.bodyAsString() + ":" + r.header("X-Test").orElseThrow());
                }
                return seen;
            });
            assertThat(methods).containsExactly("PUT:PUT:[a, b]", "DELETE:DELETE:[a, b]", "PATCH:PATCH:[a, b]", "OPTIONS:OPTIONS:[a, b]");
        }
    }

    @Test
    void request_refusesHeadersTheJdkReserves_andInvalidNames() {
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("Host", "y"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Host");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("a b", "y"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a b");
        assertThatThrownBy(() -> Request.builder("GE T", "http://x/"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("GE T");
        assertThatThrownBy(() -> Request.builder("CONNECT", "http://x/"))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("method CONNECT is not supported by java.net.http.HttpClient");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("X-Test", "a\u0001b"))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("the value of header X-Test holds U+0001: only visible characters, spaces and tabs are allowed");
        assertThat(Request.builder("GET", "http://x/").header("X-Test", "tab\tand caf\u00e9").build().headers())
                .containsEntry("X-Test", List.of("tab\tand caf\u00e9"));
    }

    /** The exact messages of the header refusals above, and of a null name or value: each names the header. */
    @Test
    void request_headerRefusalsSayWhatWasWrong() {
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("Host", "y"))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("header Host is set by java.net.http.HttpClient itself and cannot be set on a request");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("a b", "y"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("\"a b\" is not a valid header name");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("X-Test", "a\r\nb"))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("the value of header X-Test must not contain a line break");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header(null, "y"))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("header name");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").header("X-Test", null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("value of header X-Test");
    }

    /** A null URL or request among many is refused before any is sent, naming what was null. */
    @Test
    void fanOut_refusesANullElementNamingIt() {
        try (AsyncHttpClient http = client().build()) {
            assertThatThrownBy(() -> run(() -> http.getAll(java.util.Arrays.asList(server.url("/bytes?n=1"), null))))
                    .isExactlyInstanceOf(NullPointerException.class).hasMessage("a URL in urls");
            assertThatThrownBy(() -> run(() -> http.sendAllSettled(java.util.Arrays.asList(Request.get(server.url("/bytes?n=1")), null))))
                    .isExactlyInstanceOf(NullPointerException.class).hasMessage("a request in requests");
            assertThatThrownBy(() -> run(() -> http.getAll(null)))
                    .isExactlyInstanceOf(NullPointerException.class).hasMessage("urls");
            assertThat(http.inFlight()).isZero();
        }
    }

    @Test
    void aPortOutOfRange_isAnInvalidUrl_forThatRequestOnly() {
        String bad = "http://127.0.0.1:99999/x";
        try (AsyncHttpClient http = client().build()) {
            assertThatThrownBy(() -> run(() -> http.get(bad))).isExactlyInstanceOf(InvalidUrlException.class)
                    .hasMessage("GET " + bad + ": port 99999 out of range: it must be from 1 to 65535");
            List<Outcome<Response>> out = run(() -> http.getAllSettled(List.of(bad, server.url("/bytes?n=3"))));
            assertFailure(out.get(0), InvalidUrlException.class, "GET " + bad + ": port 99999 out of range: it must be from 1 to 65535");
            assertThat(out.get(1).getOrThrow().bodyLength()).isEqualTo(3);
        }
    }

    @Test
    void close_whileARequestWaitsForASlot_refusesItWhenItGetsOne() {
        AsyncHttpClient http = client().maxInFlightPerHost(1).build();
        server.closeGate(); // the first request holds the slot until the client is closing
        Throwable waiterFailure = run(() -> {
            Task<Response> holder = Coro.spawn(() -> http.get(server.url("/gate")));
            Polling.await("the first request at the server", () -> server.gated.get() == 1);
            Task<Response> waiter = Coro.spawn(() -> http.get(server.url("/bytes?n=1")));
            Polling.await("the second request queued", () -> http.waiting() == 1);
            Task<Void> opener = Coro.spawn(() -> {
                Polling.await("the client is closing", http::isClosed);
                server.openGate();
                return null;
            });
            http.close(); // waits for the request in flight
            opener.join();
            assertThat(holder.join().status()).as("the request in flight completes").isEqualTo(200);
            return catchThrowable(waiter::join);
        });
        assertThat(waiterFailure).isExactlyInstanceOf(IllegalStateException.class).hasMessage("this AsyncHttpClient is closed");
        assertThat(http.inFlight()).isZero();
    }

    @Test
    void redirects_areFollowed() {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.get(server.url("/redirect")));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyAsString()).isEqualTo("abc");
            assertThat(r.uri().getPath()).isEqualTo("/bytes");
            assertThat(r.request().url()).endsWith("/redirect");
        }
    }

    // ---- decoding ----

    @Test
    void gzipAndDeflate_areRequestedAndDecoded() {
        try (AsyncHttpClient http = client().build()) {
            List<Response> rs = run(() -> http.getAll(List.of(
                    server.url("/gzip?n=5000"), server.url("/deflate?n=5000"), server.url("/deflate?n=5000&raw"))));
            assertThat(rs).allSatisfy(r -> assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(5000)));
            assertThat(rs.get(0).header("X-Accept-Encoding")).hasValue("gzip, deflate");
            assertThat(rs.get(0).header("Content-Encoding")).as("headers stay as received").hasValue("gzip");
        }
    }

    @Test
    void unknownContentEncoding_isAnErrorNamingIt_unlessTheCallerAskedForIt() {
        try (AsyncHttpClient http = client().build()) {
            Throwable e = catchThrowable(() -> run(() -> http.get(server.url("/br"))));
            assertThat(e).isExactlyInstanceOf(HttpIoException.class).hasMessage("GET " + server.url("/br")
                    + ": unsupported Content-Encoding 'br' (gzip and deflate are decoded; the request asked for those only)");
            Response asked = run(() -> http.send(Request.builder("GET", server.url("/br")).header("Accept-Encoding", "br").build()));
            assertThat(asked.bodyBytes()).containsExactly(1, 2, 3);
        }
    }

    /** A body that is not in the coding its Content-Encoding names is an I/O error of that request that says so. */
    @Test
    void aBodyNotInItsContentEncoding_isAnIoErrorSayingSo() {
        try (AsyncHttpClient http = client().build()) {
            Throwable e = catchThrowable(() -> run(() -> http.get(server.url("/notgzip"))));
            assertThat(e).isExactlyInstanceOf(HttpIoException.class)
                    .hasMessage("GET " + server.url("/notgzip") + ": the body is not valid gzip (Content-Encoding): Not in GZIP format");
            assertThat(run(() -> http.get(server.url("/bytes?n=3"))).bodyLength()).as("the client goes on").isEqualTo(3);
        }
    }

    @Test
    void decompressOff_returnsTheBodyAsReceived() {
        try (AsyncHttpClient http = client().decompress(false).build()) {
            Response r = run(() -> http.get(server.url("/gzip?n=5000")));
            assertThat(r.header("X-Accept-Encoding")).hasValue("null");
            assertThat(r.bodyLength()).isLessThan(5000);
            assertThat(r.bodyBytes()[0] & 0xFF).isEqualTo(0x1f); // the gzip magic number
        }
    }

    // ---- status ----

    @Test
    void raiseForStatus_throwsWithStatusAndUrl_forErrorsOnly() {
        try (AsyncHttpClient http = client().build()) {
            Response notFound = run(() -> http.get(server.url("/status?code=404")));
            assertThat(notFound.status()).isEqualTo(404);
            assertThat(notFound.isSuccess()).isFalse();
            HttpStatusException e = (HttpStatusException) catchThrowable(notFound::raiseForStatus);
            assertThat(e.status()).isEqualTo(404);
            assertThat(e.url()).isEqualTo(server.url("/status?code=404"));
            assertThat(e.response()).isSameAs(notFound);
            assertThat(e).hasMessage("GET " + server.url("/status?code=404") + ": HTTP status 404 (client error)");
            Response ok = run(() -> http.get(server.url("/status?code=204")));
            assertThat(ok.raiseForStatus()).isSameAs(ok);
            assertThat(catchThrowable(() -> run(() -> http.get(server.url("/status?code=503")).raiseForStatus())))
                    .isInstanceOf(HttpStatusException.class).hasMessageContaining("503 (server error)");
        }
    }

    // ---- gather ----

    @Test
    void getAll_returnsResultsInInputOrder_notCompletionOrder() {
        try (AsyncHttpClient http = client().build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                urls.add(server.url("/sleep?ms=" + (8 - i) * 15 + "&id=" + i));
            }
            List<Response> rs = run(() -> http.getAll(urls));
            assertThat(rs).extracting(Response::bodyAsString).containsExactly("0", "1", "2", "3", "4", "5", "6", "7");
        }
    }

    @Test
    void getAll_throwsAFailureThatIsTheLastOutcomeToArrive() throws IOException {
        // The failure that completes the fan-out must still be thrown, not dropped as a null result:
        // one recorded while queueing (an invalid URL) and one recorded from its exchange (refused).
        String bad = "http://127.0.0.1:99999/x";
        String refused = "http://127.0.0.1:" + freePort() + "/";
        try (AsyncHttpClient http = client().maxInFlightPerHost(1).build()) {
            assertThatThrownBy(() -> run(() -> http.getAll(List.of(bad)))).isExactlyInstanceOf(InvalidUrlException.class)
                    .hasMessage("GET " + bad + ": port 99999 out of range: it must be from 1 to 65535");
            assertThatThrownBy(() -> run(() -> http.getAll(List.of(refused)))).isExactlyInstanceOf(HttpConnectException.class)
                    .hasMessage("GET " + refused + ": connection refused");
        }
    }

    @Test
    void getAllSettled_eachBadUrlGetsItsOwnClearError_theOthersAreUnaffected() throws IOException {
        int refusedPort = freePort();
        String unknownHost = "http://no-such-host.invalid/x";
        String malformed = "http://exa mple.com/";
        String ftp = "ftp://127.0.0.1/file";
        String relative = "/just/a/path";
        String noHost = "http:///path";
        String refused = "http://127.0.0.1:" + refusedPort + "/";
        String tooLarge = server.url("/bytes?n=2000");
        try (AsyncHttpClient http = client().maxBodySize(1000).build()) {
            List<String> urls = List.of(server.url("/bytes?n=10"), malformed, ftp, relative, noHost, unknownHost, refused,
                    tooLarge, server.url("/bytes?n=20"));
            List<Outcome<Response>> out = run(() -> http.getAllSettled(urls));
            assertThat(out.get(0).getOrThrow().bodyLength()).isEqualTo(10);
            assertThat(out.get(8).getOrThrow().bodyLength()).isEqualTo(20);
            assertFailure(out.get(1), InvalidUrlException.class, "GET " + malformed + ": malformed URL: Illegal character in authority at index 10");
            assertFailure(out.get(2), InvalidUrlException.class, "GET " + ftp + ": unsupported scheme 'ftp': only http and https are supported");
            assertFailure(out.get(3), InvalidUrlException.class, "GET " + relative + ": not an absolute URL: it has no scheme (http:// or https://)");
            assertFailure(out.get(4), InvalidUrlException.class, "GET " + noHost + ": no valid host in the URL");
            assertFailure(out.get(5), HttpConnectException.class, "GET " + unknownHost + ": unknown host 'no-such-host.invalid' (it does not resolve)");
            assertFailure(out.get(6), HttpConnectException.class, "GET " + refused + ": connection refused");
            assertFailure(out.get(7), BodyTooLargeException.class,
                    "GET " + tooLarge + ": response body exceeds the limit of 1000 bytes (Content-Length: 2000)");
            assertThat(http.inFlight()).isZero();
            assertThat(http.waiting()).isZero();
        }
    }

    static void assertFailure(Outcome<Response> o, Class<? extends HttpRequestException> type, String message) {
        assertThat(o.isSuccess()).as("%s", o).isFalse();
        Throwable e = ((Outcome.Failure<Response>) o).exception();
        assertThat(e).isInstanceOf(type).hasMessage(message);
    }

    @Test
    void bodyOverTheLimit_withoutContentLength_orOnlyOnceDecoded_isRefused() {
        try (AsyncHttpClient http = client().maxBodySize(1000).build()) {
            Throwable chunked = catchThrowable(() -> run(() -> http.get(server.url("/chunked?n=5000"))));
            assertThat(chunked).isInstanceOf(BodyTooLargeException.class)
                    .hasMessage("GET " + server.url("/chunked?n=5000") + ": response body exceeds the limit of 1000 bytes"
                            + " (more than 1000 bytes arrived)");
            assertThat(((BodyTooLargeException) chunked).limit()).isEqualTo(1000);
            // 100,000 bytes of a pattern gzip to a few hundred: the decoded size is what counts.
            Throwable bomb = catchThrowable(() -> run(() -> http.get(server.url("/gzip?n=100000"))));
            assertThat(bomb).isInstanceOf(BodyTooLargeException.class).hasMessageContaining("decodes (gzip) to more");
            assertThat(run(() -> http.get(server.url("/bytes?n=1000"))).bodyLength()).isEqualTo(1000);
        }
    }

    // ---- retries ----

    @Test
    void retry_429WithRetryAfter_succeedsOnTheSecondAttempt_afterTheDelayAsked() {
        try (AsyncHttpClient http = client().retry(RetryPolicy.idempotent()).build()) {
            long start = System.nanoTime();
            Response r = run(() -> http.get(server.url("/retry?key=a&status=429&retryAfter=1")));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.attempts()).isEqualTo(2);
            assertThat(server.attempts("a")).isEqualTo(2);
            assertThat(ms).as("Retry-After: 1 was honoured").isGreaterThanOrEqualTo(950);
        }
    }

    @Test
    void retry_503WithoutRetryAfter_backsOff_andGivesUpAfterMaxAttempts_returningTheLastResponse() {
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(10), Duration.ofMillis(40)).build();
        try (AsyncHttpClient http = client().retry(policy).build()) {
            Response r = run(() -> http.get(server.url("/retry?key=b&status=503&fails=5")));
            assertThat(r.status()).isEqualTo(503);
            assertThat(r.attempts()).isEqualTo(3);
            assertThat(server.attempts("b")).isEqualTo(3);
        }
    }

    @Test
    void retry_postIsNeverRetried_unlessAskedExplicitly() {
        try (AsyncHttpClient http = client().retry(RetryPolicy.idempotent()).build()) {
            Response r = run(() -> http.post(server.url("/retry?key=c&status=503&retryAfter=0"), RequestBody.ofString("x")));
            assertThat(r.status()).isEqualTo(503);
            assertThat(server.attempts("c")).isEqualTo(1);
            RetryPolicy withPost = RetryPolicy.builder().alsoRetry("POST").build();
            Response again = run(() -> http.send(Request.builder("POST", server.url("/retry?key=d&status=503&retryAfter=0"))
                    .body(RequestBody.ofString("x")).retry(withPost).build()));
            assertThat(again.status()).isEqualTo(200);
            assertThat(server.attempts("d")).isEqualTo(2);
        }
    }

    @Test
    void retry_offByDefault() {
        try (AsyncHttpClient http = client().build()) {
            Response r = run(() -> http.get(server.url("/retry?key=e&status=429&retryAfter=0")));
            assertThat(r.status()).isEqualTo(429);
            assertThat(server.attempts("e")).isEqualTo(1);
        }
    }

    @Test
    void retry_aRetryAfterLongerThanAllowed_returnsTheResponse() {
        RetryPolicy policy = RetryPolicy.builder().maxRetryAfter(Duration.ofSeconds(5)).build();
        try (AsyncHttpClient http = client().retry(policy).build()) {
            Response r = run(() -> http.get(server.url("/retry?key=f&status=429&retryAfter=3600")));
            assertThat(r.status()).isEqualTo(429);
            assertThat(server.attempts("f")).isEqualTo(1);
        }
    }

    @Test
    void retry_connectFailures_allAttemptsReported() throws IOException {
        String refused = "http://127.0.0.1:" + freePort() + "/";
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(5), Duration.ofMillis(20)).build();
        try (AsyncHttpClient http = client().retry(policy).build()) {
            Throwable e = catchThrowable(() -> run(() -> http.get(refused)));
            assertThat(e).isInstanceOf(HttpConnectException.class).hasMessage("GET " + refused + ": connection refused");
            assertThat(e.getSuppressed()).hasSize(2).allSatisfy(s -> assertThat(s).isInstanceOf(HttpConnectException.class));
            Throwable post = catchThrowable(() -> run(() -> http.post(refused, RequestBody.ofString("x"))));
            assertThat(post).isInstanceOf(HttpConnectException.class);
            assertThat(post.getSuppressed()).as("POST: no retry").isEmpty();
        }
    }

    @Test
    void retry_aLastAttemptThatFailsOtherwise_carriesTheEarlierFailures() throws IOException {
        // Attempt 1 is refused; before attempt 2 a server that resets every connection starts on
        // that port, so attempt 2 fails in a way no policy retries. Alone and in a fan-out.
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(2).backoff(Duration.ofMillis(20), Duration.ofMillis(20)).build();
        for (boolean fanOut : new boolean[] {false, true}) {
            int port = freePort();
            String url = "http://127.0.0.1:" + port + "/x";
            List<ServerSocket> late = new CopyOnWriteArrayList<>();
            HttpClientObserver startsAServerBeforeTheRetry = new HttpClientObserver() {
                @Override
                public void retrying(String host, String method, int attempt) {
                    late.add(resettingServerOn(port));
                }
            };
            try (AsyncHttpClient http = client().retry(policy).observer(startsAServerBeforeTheRetry).build()) {
                Throwable e = fanOut
                        ? ((Outcome.Failure<Response>) run(() -> http.getAllSettled(List.of(url))).get(0)).exception()
                        : catchThrowable(() -> run(() -> http.get(url)));
                assertThat(late).as("fanOut=%s: the server started before attempt 2", fanOut).hasSize(1);
                assertThat(e).as("fanOut=%s: attempt 2, reset", fanOut).isInstanceOf(HttpIoException.class);
                assertThat(e.getSuppressed()).as("fanOut=%s: attempt 1's refusal", fanOut).singleElement()
                        .isInstanceOf(HttpConnectException.class);
            } finally {
                for (ServerSocket ss : late) {
                    ss.close();
                }
            }
        }
    }

    /** A server on {@code port} that reads each request's head and resets the connection. */
    private static ServerSocket resettingServerOn(int port) {
        try {
            ServerSocket ss = new ServerSocket();
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
            Thread.ofPlatform().daemon().name("resetting-server").start(() -> {
                while (!ss.isClosed()) {
                    try {
                        Socket s = ss.accept();
                        Thread.ofVirtual().start(() -> {
                            try (s) {
                                InputStream in = s.getInputStream();
                                int crlf = 0; // CR LF CR LF ends the head
                                while (crlf < 4) {
                                    int c = in.read();
                                    if (c < 0) {
                                        return;
                                    }
                                    crlf = c == (crlf % 2 == 0 ? '\r' : '\n') ? crlf + 1 : 0;
                                }
                                s.setSoLinger(true, 0); // close() now sends RST
                            } catch (IOException e) {
                                // the client went away first
                            }
                        });
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            });
            return ss;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void retry_insideAFanOut_eachRequestRetriedOnItsOwn() throws IOException {
        String refused = "http://127.0.0.1:" + freePort() + "/";
        RetryPolicy policy = RetryPolicy.builder().backoff(Duration.ofMillis(5), Duration.ofMillis(20)).build();
        try (AsyncHttpClient http = client().retry(policy).build()) {
            List<Outcome<Response>> out = run(() -> http.getAllSettled(List.of(
                    server.url("/retry?key=g&status=503&retryAfter=0"), server.url("/retry?key=h&status=429&fails=2"),
                    refused, server.url("/bytes?n=7"))));
            assertThat(out.get(0).getOrThrow().attempts()).isEqualTo(2);
            assertThat(out.get(1).getOrThrow().attempts()).isEqualTo(3);
            assertThat(out.get(1).getOrThrow().bodyAsString()).isEqualTo("attempt 3");
            Throwable e = ((Outcome.Failure<Response>) out.get(2)).exception();
            assertThat(e).isInstanceOf(HttpConnectException.class).hasMessage("GET " + refused + ": connection refused");
            assertThat(e.getSuppressed()).hasSize(2);
            assertThat(out.get(3).getOrThrow().attempts()).isEqualTo(1);
            assertThat(server.attempts("g")).isEqualTo(2);
            assertThat(server.attempts("h")).isEqualTo(3);
        }
    }

    @Test
    void retry_insideAFanOut_neverRetriesAFailureThatMayHaveReachedTheServer() throws IOException {
        // The fan-out asks the policy about every failed attempt, not only about the connect
        // failures that send() passes on: a reset after the request went out must not be retried.
        int port = freePort();
        String url = "http://127.0.0.1:" + port + "/x";
        AtomicInteger retries = new AtomicInteger();
        HttpClientObserver countsRetries = new HttpClientObserver() {
            @Override
            public void retrying(String host, String method, int attempt) {
                retries.incrementAndGet();
            }
        };
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build();
        try (ServerSocket resetting = resettingServerOn(port);
             AsyncHttpClient http = client().retry(policy).observer(countsRetries).build()) {
            Throwable e = ((Outcome.Failure<Response>) run(() -> http.getAllSettled(List.of(url))).get(0)).exception();
            assertThat(e).isInstanceOf(HttpIoException.class);
            assertThat(e.getSuppressed()).as("no earlier attempt").isEmpty();
            assertThat(retries.get()).isZero();
        }
    }

    /**
     * A backoff with no cap (a maximum too long to count in nanoseconds, such as
     * {@code ChronoUnit.FOREVER}) backs off as one that long would, as a timeout that long waits:
     * the retry happens; the request does not fail with the {@link ArithmeticException} of
     * {@link Duration#toNanos()}.
     */
    @Test
    void retry_aBackoffWithNoCap_retriesASingleRequest() {
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(2)
                .backoff(Duration.ofMillis(5), java.time.temporal.ChronoUnit.FOREVER.getDuration()).build();
        try (AsyncHttpClient http = client().retry(policy).build()) {
            Response r = run(() -> http.get(server.url("/retry?key=nocap1&status=503")));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.attempts()).isEqualTo(2);
        }
    }

    /**
     * The same backoff in a fan-out: the fan-out's own handling of the first attempt's response
     * asks the policy for the delay; when that failed, the fan-out stopped and waited for the
     * outcome of the request being handled, which nobody would record: it waited for ever,
     * uninterruptibly (cancelling its task did nothing). Run on a scheduler of its own, in a thread
     * of its own, so that a hang fails this test and leaves the other tests alone.
     */
    @Test
    void retry_aBackoffWithNoCap_retriesInAFanOut_insteadOfHangingIt() throws Exception {
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(2)
                .backoff(Duration.ofMillis(5), java.time.temporal.ChronoUnit.FOREVER.getDuration()).build();
        io.coro4j.spi.Scheduler own = io.coro4j.Schedulers.create(schedulerKind(), io.coro4j.spi.SchedulerConfig.builder()
                .name(getClass().getSimpleName() + "-no-cap").daemon(true).build());
        try (AsyncHttpClient http = client().retry(policy).build()) {
            java.util.concurrent.CompletableFuture<Object> outcome = new java.util.concurrent.CompletableFuture<>();
            AtomicReference<Task<?>> caller = new AtomicReference<>();
            Thread.ofPlatform().daemon().name("fan-out-with-no-cap").start(() -> {
                try {
                    outcome.complete(Coro.run(own, () -> {
                        caller.set(Coro.currentTask());
                        return http.getAllSettled(List.of(server.url("/retry?key=nocap2&status=503")));
                    }));
                } catch (Throwable e) {
                    outcome.complete(e);
                }
            });
            Object out;
            try {
                out = outcome.get(20, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException hung) {
                caller.get().cancel();
                boolean endedOnCancel = catchThrowable(() -> outcome.get(5, TimeUnit.SECONDS)) == null;
                throw new AssertionError("the fan-out hung after its first attempt (" + server.attempts("nocap2")
                        + " attempt(s) made); cancelling its task " + (endedOnCancel ? "ended it" : "did not end it either"));
            }
            assertThat(out).isInstanceOf(List.class);
            @SuppressWarnings("unchecked")
            Response r = ((List<Outcome<Response>>) out).get(0).getOrThrow();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.attempts()).isEqualTo(2);
            own.close();
        } finally {
            own.shutdown(); // closed above if nothing hung; a hung fiber is left to its daemon thread
        }
    }

    // ---- timeouts ----

    @Test
    void requestTimeout_isAnHttpTimeoutNamingTheUrl() {
        // The bound only tells "gave up at its timeout" from "waited for the response": the
        // response takes 30 s, and the bound, 15 s, leaves room for a cold client on a loaded
        // machine (2.4 s seen where an idle one takes about the 300 ms of the timeout). The
        // server's close interrupts the handler still sleeping; resetCounters forgets it.
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofMillis(300)).build()) {
            String url = server.url("/sleep?ms=30000");
            long start = System.nanoTime();
            Throwable e = catchThrowable(() -> run(() -> http.get(url)));
            assertThat(e).isInstanceOf(RequestTimeoutException.class).hasMessage("GET " + url + ": no complete response within 300 ms");
            assertThat(((HttpTimeoutException) e).timeout()).isEqualTo(Duration.ofMillis(300));
            assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(15));
        }
    }

    @Test
    void perRequestTimeout_overridesTheClients() {
        try (AsyncHttpClient http = client().requestTimeout(Duration.ofSeconds(10)).build()) {
            String url = server.url("/sleep?ms=3000");
            Throwable e = catchThrowable(() -> run(() -> http.send(Request.builder("GET", url).timeout(Duration.ofMillis(200)).build())));
            assertThat(e).isInstanceOf(RequestTimeoutException.class).hasMessage("GET " + url + ": no complete response within 200 ms");
        }
    }

    @Test
    void slotWaitTimeout_isDistinctFromTheRequestTimeout_andSendsNothing() {
        try (AsyncHttpClient http = client().maxInFlightPerHost(1).slotWaitTimeout(Duration.ofMillis(200))
                .requestTimeout(Duration.ofSeconds(5)).build()) {
            String slow = server.url("/sleep?ms=1000&id=slow");
            String waiting = server.url("/sleep?ms=10&id=waiting");
            Throwable e = catchThrowable(() -> run(() -> {
                Task<Response> holder = Coro.spawn(() -> http.get(slow));
                // at the server, so that cancelling it later cannot unsend it
                Polling.await("the slow request at the server", () -> server.requests.get() > 0);
                try {
                    return http.get(waiting);
                } finally {
                    holder.cancel();
                }
            }));
            assertThat(e).isInstanceOf(SlotWaitTimeoutException.class).isNotInstanceOf(RequestTimeoutException.class)
                    .hasMessageStartingWith("GET " + waiting + ": no free slot within 200 ms (1 of 100 slots in flight overall, 1 of 1 for http://127.0.0.1:");
            assertThat(server.requests.get()).as("only the slow request reached the server").isEqualTo(1);
            assertThat(http.waiting()).isZero();
            assertThat(http.inFlight()).isZero();
        }
    }

    @Test
    void waitingForASlot_doesNotEatIntoTheRequestDeadline() {
        // The second request waits ~600 ms for the slot, then takes ~600 ms: 1.2 s in all, more than
        // its 1 s request timeout, which starts only once it has the slot. (A first request opens
        // the connection and runs the fan-out once, so that neither connecting nor the first use
        // of the client's code eats into the margins; it has a long timeout of its own, as the
        // first request of a client on a loaded machine can take more than the 1 s.)
        try (AsyncHttpClient http = client().maxInFlightPerHost(1).requestTimeout(Duration.ofMillis(1000)).build()) {
            List<Response> rs = run(() -> {
                http.sendAll(List.of(Request.builder("GET", server.url("/bytes?n=1")).timeout(Duration.ofSeconds(30)).build()));
                long start = System.nanoTime();
                List<Response> both = http.getAll(List.of(server.url("/sleep?ms=600&id=first"), server.url("/sleep?ms=600&id=second")));
                assertThat(System.nanoTime() - start).as("the second waited for the first").isGreaterThan(TimeUnit.MILLISECONDS.toNanos(1000));
                return both;
            });
            assertThat(rs).extracting(Response::bodyAsString).containsExactly("first", "second");
        }
    }

    @Test
    void connectTimeout_isAConnectTimeoutNamingTheUrl() throws IOException {
        // A listening socket whose accept queue is full drops new SYNs: connecting hangs.
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            List<Socket> fillers = new ArrayList<>();
            try {
                boolean hangs = false;
                for (int i = 0; i < 20 && !hangs; i++) {
                    Socket s = new Socket();
                    try {
                        s.connect(full.getLocalSocketAddress(), 200);
                        fillers.add(s);
                    } catch (SocketTimeoutException e) {
                        s.close();
                        hangs = true;
                    }
                }
                org.junit.jupiter.api.Assumptions.assumeTrue(hangs, "this OS does not drop SYNs on a full accept queue");
                String url = "http://127.0.0.1:" + full.getLocalPort() + "/";
                try (AsyncHttpClient http = client().connectTimeout(Duration.ofMillis(300)).build()) {
                    Throwable e = catchThrowable(() -> run(() -> http.get(url)));
                    assertThat(e).isInstanceOf(ConnectTimeoutException.class).hasMessage("GET " + url + ": could not connect within 300 ms");
                }
            } finally {
                for (Socket s : fillers) {
                    s.close();
                }
            }
        }
    }

    /**
     * Every timeout takes any positive duration, "no bound" included (ChronoUnit.FOREVER, as the
     * retry backoff does): a connect timeout too long to count in nanoseconds is that long, not an
     * overflow that fails every request as a connection failure (which a retry policy retries).
     */
    @Test
    void timeoutsTooLongToCountInNanoseconds_meanNoBound() {
        Duration forever = java.time.temporal.ChronoUnit.FOREVER.getDuration();
        try (AsyncHttpClient http = AsyncHttpClient.builder().connectTimeout(forever).requestTimeout(forever)
                .slotWaitTimeout(forever).build()) {
            assertThat(run(() -> http.get(server.url("/bytes?n=3"))).bodyAsString()).isEqualTo("abc");
        }
    }

    // ---- limits ----

    @Test
    void aFullWaitQueue_rejectsAtOnce() {
        try (AsyncHttpClient http = client().maxInFlight(2).maxWaiting(3).build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                urls.add(server.url("/sleep?ms=500&id=" + i));
            }
            List<Outcome<Response>> out = run(() -> http.getAllSettled(urls));
            long ok = out.stream().filter(Outcome::isSuccess).count();
            assertThat(ok).isEqualTo(5);
            List<Throwable> rejected = out.stream().filter(o -> !o.isSuccess()).map(o -> ((Outcome.Failure<Response>) o).exception()).toList();
            assertThat(rejected).hasSize(3).allSatisfy(e -> assertThat(e).isInstanceOf(HttpRejectedException.class)
                    .hasMessageEndingWith(": rejected: all slots are taken and 3 requests are already waiting for one (maxWaiting)"));
        }
    }

    /**
     * The window between a fan-out's stop and a grant: the fan-out's caller is cancelled and waits
     * for the limiter's monitor (held here) to take its queued requests out of the queue when a
     * release grants the first of them a slot. The stopped fan-out must give that slot back and
     * send nothing.
     */
    @Test
    void aFanOutCancelledAsAQueuedRequestIsGrantedASlot_givesTheSlotBack_andSendsNothing() throws Exception {
        try (AsyncHttpClient http = client().maxInFlight(1).build()) {
            SlotLimiter slots = http.slots();
            // The only slot, taken here: every request of the fan-out queues for it.
            SlotLimiter.Permit held = run(() -> slots.acquire("held-by-the-test", Duration.ofSeconds(20), null, "GET", "-", null));
            AtomicReference<Task<?>> caller = new AtomicReference<>();
            AtomicReference<Thread> callerThread = new AtomicReference<>();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread runner = Thread.ofPlatform().name("fan-out-runner").start(() -> {
                try {
                    run(() -> {
                        caller.set(Coro.currentTask());
                        callerThread.set(Thread.currentThread());
                        return http.getAllSettled(List.of(server.url("/bytes?n=1"), server.url("/bytes?n=2")));
                    });
                } catch (Throwable t) {
                    thrown.set(t);
                }
            });
            Polling.await("both requests queued", () -> slots.waiting() == 2);
            synchronized (slots) { // this thread is no carrier: the caller's carrier only waits for it
                caller.get().cancel();
                assertThat(Polling.blockedWithin(callerThread.get(), SlotLimiter.class, Duration.ofSeconds(10)))
                        .as("the stopping fan-out blocks on the monitor to take its requests out of the queue").isTrue();
                held.release(); // grants the first queued request, which the fan-out can then no longer take back
            }
            runner.join(20_000);
            assertThat(runner.isAlive()).isFalse();
            assertThat(thrown.get()).isInstanceOf(CancellationException.class);
            assertThat(http.inFlight()).as("the slot granted to the stopped fan-out was given back").isZero();
            assertThat(http.waiting()).isZero();
            assertThat(server.requests.get()).as("requests sent").isZero();
        }
    }

    /**
     * A close() that comes after a request got its slot, but before the request reached the JDK
     * client, refuses it as closed: it is not an I/O error (nothing went to the network). The
     * observer's slotAcquired runs in that window; it closes the client from another thread, as a
     * concurrent close() would.
     */
    @Test
    void aCloseBetweenTheSlotAndTheSend_refusesTheRequestAsClosed_notAsAnIoError() {
        AtomicReference<AsyncHttpClient> ref = new AtomicReference<>();
        HttpClientObserver closesMeanwhile = new HttpClientObserver() {
            @Override
            public void slotAcquired(String host, long waitNanos) {
                Thread closer = Thread.ofPlatform().start(() -> ref.get().close());
                try {
                    closer.join(5_000);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
        AsyncHttpClient http = client().observer(closesMeanwhile).build();
        ref.set(http);
        Throwable e = catchThrowable(() -> run(() -> http.get(server.url("/bytes?n=1"))));
        assertThat(http.isClosed()).isTrue();
        assertThat(e).isExactlyInstanceOf(IllegalStateException.class).hasMessage("this AsyncHttpClient is closed");
        assertThat(server.requests.get()).as("requests that reached the server").isZero();
    }

    @Test
    void outsideATask_orAfterClose_isAnIllegalState() {
        AsyncHttpClient http = client().build();
        assertThatThrownBy(() -> http.get(server.url("/bytes")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("outside a task");
        http.close();
        http.close();
        assertThatThrownBy(() -> run(() -> http.get(server.url("/bytes"))))
                .isInstanceOf(IllegalStateException.class).hasMessage("this AsyncHttpClient is closed");
    }

    /**
     * "The request methods must be called inside a task; outside one they throw
     * IllegalStateException", and after close() too: the programming error is what the caller is
     * told, whatever the URL, by a single request as by a fan-out (a single request looked at its
     * URL first, and blamed a bad one instead).
     */
    @Test
    void outsideATask_orAfterClose_isAnIllegalState_evenForABadUrl() {
        AsyncHttpClient http = client().build();
        assertThatThrownBy(() -> http.get("not a url")).as("single, outside a task")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("outside a task");
        assertThatThrownBy(() -> http.getAll(List.of("not a url"))).as("fan-out, outside a task")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("outside a task");
        http.close();
        assertThatThrownBy(() -> run(() -> http.get("not a url"))).as("single, closed")
                .isInstanceOf(IllegalStateException.class).hasMessage("this AsyncHttpClient is closed");
        assertThatThrownBy(() -> run(() -> http.getAll(List.of("not a url")))).as("fan-out, closed")
                .isInstanceOf(IllegalStateException.class).hasMessage("this AsyncHttpClient is closed");
    }

    @Test
    void close_insideATask_suspendsInsteadOfBlocking() {
        AsyncHttpClient http = client().build();
        int status = run(() -> {
            int s = http.get(server.url("/bytes")).status();
            http.close();
            return s;
        });
        assertThat(status).isEqualTo(200);
    }

    // ---- TLS ----

    @Test
    void https_withTheServersCertificateTrusted() throws Exception {
        Tls tls = Tls.get();
        try (TestHttpServer secure = TestHttpServer.https(tls.server);
             AsyncHttpClient http = client().sslContext(tls.client).build()) {
            Response r = run(() -> http.get(secure.url("/gzip?n=3000")));
            assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(3000));
            assertThat(r.uri().getScheme()).isEqualTo("https");
            // Without trusting it: a TLS failure naming the URL.
            try (AsyncHttpClient untrusting = client().build()) {
                Throwable e = catchThrowable(() -> run(() -> untrusting.get(secure.url("/bytes"))));
                assertThat(e).isInstanceOf(HttpIoException.class).hasMessageStartingWith("GET " + secure.url("/bytes") + ": TLS failure: ");
            }
        }
    }

    @Test
    void http2_overTls_whenNginxIsInstalled() throws Exception {
        java.nio.file.Path nginx = TlsNginx.find();
        org.junit.jupiter.api.Assumptions.assumeTrue(nginx != null,
                "nginx is not installed (apt-get install -y nginx): the JDK has no HTTP/2 server to test against");
        Tls tls = Tls.get();
        try (TlsNginx h2 = TlsNginx.start(nginx, tls.keys, Tls.PASSWORD);
             AsyncHttpClient http = client().sslContext(tls.client).maxInFlightPerHost(50).build()) {
            List<String> urls = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                urls.add(h2.url("/1k?i=" + i));
            }
            List<Response> rs = run(() -> http.getAll(urls));
            assertThat(rs).hasSize(200).allSatisfy(r -> {
                assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
                assertThat(r.bodyBytes()).isEqualTo(TestHttpServer.pattern(1024));
            });
        }
    }

    /** A self-signed certificate for 127.0.0.1, made once per JVM with the JDK's keytool. */
    static final class Tls {
        private static Tls instance;
        static final char[] PASSWORD = "changeit".toCharArray();
        final SSLContext server;
        final SSLContext client;
        final KeyStore keys;

        private Tls(SSLContext server, SSLContext client, KeyStore keys) {
            this.server = server;
            this.client = client;
            this.keys = keys;
        }

        static synchronized Tls get() throws Exception {
            if (instance == null) {
                Path dir = Files.createTempDirectory("coro4j-http-tls");
                Path ks = dir.resolve("server.p12");
                char[] pw = "changeit".toCharArray();
                Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                        "-genkeypair", "-alias", "test", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-keystore", ks.toString(),
                        "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit")
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("keytool failed: " + out);
                }
                KeyStore keys = KeyStore.getInstance("PKCS12");
                try (var in = Files.newInputStream(ks)) {
                    keys.load(in, pw);
                }
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, pw);
                SSLContext server = SSLContext.getInstance("TLS");
                server.init(kmf.getKeyManagers(), null, null);
                KeyStore trust = KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                trust.setCertificateEntry("test", keys.getCertificate("test"));
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
                SSLContext client = SSLContext.getInstance("TLS");
                client.init(null, tmf.getTrustManagers(), null);
                Files.delete(ks);
                Files.delete(dir);
                instance = new Tls(server, client, keys);
            }
            return instance;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }
}
