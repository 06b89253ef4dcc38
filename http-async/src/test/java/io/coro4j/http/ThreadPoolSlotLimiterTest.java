package io.coro4j.http;

/** {@link SlotLimiterContract} on the threadpool scheduler. */
class ThreadPoolSlotLimiterTest extends SlotLimiterContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
