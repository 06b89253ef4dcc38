package io.coro4j.http;

/** {@link CloseAfterBlockedBodyContract} on the loom scheduler. */
class LoomCloseAfterBlockedBodyTest extends CloseAfterBlockedBodyContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
