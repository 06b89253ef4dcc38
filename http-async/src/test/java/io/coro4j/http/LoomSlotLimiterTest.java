package io.coro4j.http;

/** {@link SlotLimiterContract} on the loom scheduler. */
class LoomSlotLimiterTest extends SlotLimiterContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
