package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Review findings (rev-http): behaviours that contradict the javadoc. Run once per scheduler. */
abstract class ReviewFindingsContract extends SchedulerFixture {

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
}
