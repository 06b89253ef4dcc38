package io.coro4j.scheduler.threadpool;

import io.coro4j.tck.DiscoveryTck;

class ThreadPoolDiscoveryTckTest extends DiscoveryTck {
    @Override
    protected String providerName() {
        return "threadpool";
    }
}
