package io.coro4j.http;

/** {@link HttpClientContract} on the loom scheduler. */
class LoomHttpClientTest extends HttpClientContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
