package io.coro4j.http;

/** {@link FaultInjectionContract} on the loom scheduler. */
class LoomFaultInjectionTest extends FaultInjectionContract {
    @Override
    String schedulerKind() {
        return "loom";
    }
}
