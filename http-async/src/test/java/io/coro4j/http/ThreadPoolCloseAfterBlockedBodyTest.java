package io.coro4j.http;

/** {@link CloseAfterBlockedBodyContract} on the threadpool scheduler. */
class ThreadPoolCloseAfterBlockedBodyTest extends CloseAfterBlockedBodyContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
