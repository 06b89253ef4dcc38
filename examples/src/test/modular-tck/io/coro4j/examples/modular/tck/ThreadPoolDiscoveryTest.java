package io.coro4j.examples.modular.tck;

import io.coro4j.tck.DiscoveryTck;

/** The kit's discovery suite for the threadpool scheduler. */
public class ThreadPoolDiscoveryTest extends DiscoveryTck {
    @Override
    protected String providerName() {
        return "threadpool";
    }
}
