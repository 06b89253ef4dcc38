/** Micrometer meters for coro4j schedulers and, optionally, its HTTP client. */
module io.coro4j.metrics {
    requires transitive io.coro4j;
    requires transitive micrometer.core;
    // Optional: only HttpClientMetrics needs it.
    requires static io.coro4j.http;

    exports io.coro4j.metrics;
}
