package io.coro4j.http;

/** {@link FaultInjectionContract} on the threadpool scheduler. */
class ThreadPoolFaultInjectionTest extends FaultInjectionContract {
    @Override
    String schedulerKind() {
        return "threadpool";
    }
}
