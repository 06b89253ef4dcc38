package io.coro4j.scheduler.loom;

/** The carriers of the JDK's virtual-thread scheduler, on which every loom fiber and generator body runs. */
final class JdkCarriers {

    private JdkCarriers() {}

    /**
     * Whether the JDK's scheduler has more than one carrier: its parallelism is
     * {@code -Djdk.virtualThreadScheduler.parallelism}, or else the available processors (one with
     * {@code -XX:ActiveProcessorCount=1}, or in a container limited to one CPU).
     */
    static boolean moreThanOne() {
        return Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
                Runtime.getRuntime().availableProcessors()) > 1;
    }
}
