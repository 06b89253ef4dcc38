package io.coro4j.scheduler.loom;

import io.coro4j.tck.DiscoveryTck;

class LoomDiscoveryTckTest extends DiscoveryTck {
    @Override
    protected String providerName() {
        return "loom";
    }
}
