package io.coro4j.metrics;

/** {@link HttpClientMetricsContract} on the threadpool scheduler. */
class ThreadPoolHttpClientMetricsTest extends HttpClientMetricsContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
