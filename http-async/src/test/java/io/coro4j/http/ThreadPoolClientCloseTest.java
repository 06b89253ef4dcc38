package io.coro4j.http;

/** {@link ClientCloseContract} on the threadpool scheduler. */
class ThreadPoolClientCloseTest extends ClientCloseContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
