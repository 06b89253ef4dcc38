package io.coro4j.http;

/** {@link HttpClientObserverContract} on the loom scheduler. */
class LoomHttpClientObserverTest extends HttpClientObserverContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
