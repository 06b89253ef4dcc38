package io.coro4j.examples.modular.tck;

import io.coro4j.tck.DiscoveryTck;

/** The kit's discovery suite for the loom scheduler. */
public class LoomDiscoveryTest extends DiscoveryTck {
    @Override
    protected String providerName() {
        return "loom";
    }
}
