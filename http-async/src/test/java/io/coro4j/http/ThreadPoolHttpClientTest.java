package io.coro4j.http;

/** {@link HttpClientContract} on the threadpool scheduler. */
class ThreadPoolHttpClientTest extends HttpClientContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
