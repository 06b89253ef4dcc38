package io.coro4j.metrics;

/** {@link HttpClientMetricsContract} on the loom scheduler. */
class LoomHttpClientMetricsTest extends HttpClientMetricsContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
