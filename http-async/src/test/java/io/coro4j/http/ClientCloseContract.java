package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.http.testing.Polling;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Closing a client while its requests wait: in a retry backoff, or in flight when the close is
 * cancelled or interrupted. What the requests are told. Run once per scheduler.
 */
abstract class ClientCloseContract extends SchedulerFixture {

    TestHttpServer server;

    @BeforeAll
    void startServer() throws IOException {
        server = TestHttpServer.http();
    }

    @AfterAll
    void stopServer() {
        server.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * A request refused, then the client closed during its backoff: the caller is told the client
     * is closed, and (HttpRequestException: "when retries were made, the failures of the earlier
     * attempts are attached as suppressed") why the request had failed so far. Alone and in a fan-out.
     */
    @Test
    void aClientClosedDuringABackoff_keepsTheEarlierAttemptsFailures() throws IOException {
        String refused = "http://127.0.0.1:" + freePort() + "/";
        RetryPolicy policy = RetryPolicy.builder().maxAttempts(3).backoff(Duration.ofMillis(10), Duration.ofMillis(10)).build();
        for (boolean fanOut : new boolean[] {false, true}) {
            AsyncHttpClient[] ref = new AsyncHttpClient[1];
            HttpClientObserver closesBeforeTheRetry = new HttpClientObserver() {
                @Override
                public void retrying(String host, String method, int attempt) {
                    Thread closer = Thread.ofPlatform().start(() -> ref[0].close());
                    try {
                        closer.join(5_000);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            };
            AsyncHttpClient http = AsyncHttpClient.builder().retry(policy).observer(closesBeforeTheRetry).build();
            ref[0] = http;
            Throwable e = catchThrowable(() -> run(() -> fanOut ? http.getAll(List.of(refused)) : http.get(refused)));
            assertThat(http.isClosed()).isTrue();
            assertThat(e).as("fanOut=%s", fanOut).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessage("this AsyncHttpClient is closed");
            assertThat(e.getSuppressed()).as("fanOut=%s: the first attempt's failure", fanOut).hasSize(1)
                    .allSatisfy(s -> assertThat(s).isInstanceOf(HttpConnectException.class)
                            .hasMessage("GET " + refused + ": connection refused"));
        }
    }

    /**
     * close(): "if the task is cancelled during the wait, the exchanges still in progress are
     * aborted". Those requests must say that the client's close aborted them, not report an I/O
     * failure of the connection ("connection failed: IOException: shutdownNow").
     */
    @Test
    void exchangesAbortedByACancelledClose_sayTheCloseAbortedThem() {
        AsyncHttpClient http = AsyncHttpClient.builder().requestTimeout(Duration.ofSeconds(20)).build();
        server.closeGate();
        try {
            List<Throwable> failures = run(() -> {
                List<Task<Response>> requests = threeRequestsHeldAtTheServer(http);
                Task<Void> closer = Coro.spawn(() -> {
                    http.close();
                    return null;
                });
                Polling.await("the close waiting for the exchanges", http::closeWaiting);
                closer.cancel();
                assertThat(catchThrowable(closer::join)).isInstanceOf(CancellationException.class);
                return whatEachThrew(requests);
            });
            assertAbortedByTheClose(failures, http);
        } finally {
            server.openGate();
        }
    }

    /**
     * close() "waits for the exchanges in progress", and is idempotent: a second close() while the
     * first waits (two owners of a client, each closing it) waits too, as HttpClient.close() does;
     * both return once the exchanges have ended, which succeed. Before, the second returned at once,
     * while the exchanges were still in progress.
     */
    @Test
    void aSecondClose_whileTheFirstWaits_waitsForTheExchangesToo() {
        AsyncHttpClient http = AsyncHttpClient.builder().requestTimeout(Duration.ofSeconds(20)).build();
        server.closeGate();
        try {
            List<Throwable> failures = run(() -> {
                List<Task<Response>> requests = threeRequestsHeldAtTheServer(http);
                Thread first = Thread.ofPlatform().start(http::close);
                Polling.await("the first close waiting for the exchanges", http::closeWaiting);
                Thread second = Thread.ofPlatform().start(http::close);
                assertThat(second.join(Duration.ofMillis(500)))
                        .as("the second close returned while the exchanges were in progress").isFalse();
                server.openGate();
                List<Throwable> out = whatEachThrew(requests);
                assertThat(first.join(Duration.ofSeconds(10))).as("the first close returned").isTrue();
                assertThat(second.join(Duration.ofSeconds(10))).as("the second close returned").isTrue();
                return out;
            });
            assertThat(failures).as("what each held request threw").containsExactly(null, null, null);
            assertThat(http.inFlight()).isZero();
            http.close(); // and once more, on a closed client: returns at once
        } finally {
            server.openGate();
        }
    }

    /** What each of {@code requests} threw when joined (null for one that returned). */
    private static List<Throwable> whatEachThrew(List<Task<Response>> requests) {
        List<Throwable> out = new ArrayList<>();
        for (Task<Response> t : requests) {
            out.add(catchThrowable(t::join));
        }
        return out;
    }

    /** The three gated requests each failed saying the client's close aborted them, and no slot is held. */
    private void assertAbortedByTheClose(List<Throwable> failures, AsyncHttpClient http) {
        assertThat(failures).hasSize(3).allSatisfy(e -> assertThat(e).isInstanceOf(HttpIoException.class)
                .hasMessageStartingWith("GET " + server.url("/gate") + ": aborted: AsyncHttpClient.close()"));
        assertThat(http.inFlight()).isZero();
    }

    /** Spawns three GETs of the gate (closed) and waits until the server holds all three. */
    private List<Task<Response>> threeRequestsHeldAtTheServer(AsyncHttpClient http) {
        List<Task<Response>> requests = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            requests.add(Coro.spawn(() -> http.get(server.url("/gate"))));
        }
        Polling.await("3 requests held at the server", () -> server.gated.get() == 3);
        return requests;
    }

    /** The same for a plain thread whose close() is interrupted while it waits for the exchanges. */
    @Test
    void exchangesAbortedByAnInterruptedClose_outsideATask_sayTheCloseAbortedThem() throws InterruptedException {
        AsyncHttpClient http = AsyncHttpClient.builder().requestTimeout(Duration.ofSeconds(20)).build();
        server.closeGate();
        try {
            List<Throwable> failures = run(() -> {
                List<Task<Response>> requests = threeRequestsHeldAtTheServer(http);
                boolean[] interruptKept = new boolean[1];
                Thread closer = Thread.ofPlatform().start(() -> {
                    http.close();
                    interruptKept[0] = Thread.currentThread().isInterrupted();
                });
                Polling.await("close() waiting for the exchanges", () -> closer.getState() == Thread.State.TIMED_WAITING
                        || closer.getState() == Thread.State.WAITING);
                closer.interrupt();
                List<Throwable> out = whatEachThrew(requests);
                closer.join(5_000);
                assertThat(closer.isAlive()).isFalse();
                assertThat(interruptKept[0]).as("the interrupt status, kept").isTrue();
                return out;
            });
            assertAbortedByTheClose(failures, http);
        } finally {
            server.openGate();
        }
    }
}
