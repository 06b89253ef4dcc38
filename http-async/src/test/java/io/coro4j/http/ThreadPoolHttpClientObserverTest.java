package io.coro4j.http;

/** {@link HttpClientObserverContract} on the threadpool scheduler. */
class ThreadPoolHttpClientObserverTest extends HttpClientObserverContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
