package io.coro4j.http;

/** {@link ReviewFindingsContract} on the threadpool scheduler. */
class ThreadPoolReviewFindingsTest extends ReviewFindingsContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
