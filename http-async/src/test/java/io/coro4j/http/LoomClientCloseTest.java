package io.coro4j.http;

/** {@link ClientCloseContract} on the loom scheduler. */
class LoomClientCloseTest extends ClientCloseContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
