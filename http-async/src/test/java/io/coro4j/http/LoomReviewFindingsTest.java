package io.coro4j.http;

/** {@link ReviewFindingsContract} on the loom scheduler. */
class LoomReviewFindingsTest extends ReviewFindingsContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
