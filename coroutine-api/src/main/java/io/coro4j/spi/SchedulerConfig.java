package io.coro4j.spi;

/**
 * Settings for creating a scheduler. Immutable; build one with {@link #builder()}.
 *
 * @param name the instance name (the {@code name} metrics tag); {@code null} lets the provider choose
 * @param parallelism carrier threads for schedulers that own them (the threadpool); at least 1 and at
 *     most {@value #MAX_PARALLELISM}
 * @param daemon whether owned threads are daemon threads, so they do not keep the JVM alive; a
 *     non-daemon scheduler keeps it alive from its creation until it terminates, on every scheduler
 *     (loom's fibers are the JDK's daemon virtual threads: its timer thread is started at once)
 */
public record SchedulerConfig(String name, int parallelism, boolean daemon) {

    /**
     * The most carriers a configuration may ask for: {@code ForkJoinPool}'s limit. Carriers are
     * platform threads (one per processor is the default); far more would fail to start or exhaust
     * memory rather than run anything faster.
     */
    public static final int MAX_PARALLELISM = 0x7fff;

    /** Defaults: provider-chosen name, one carrier per available processor, daemon threads. */
    public static final SchedulerConfig DEFAULT = builder().build();

    public SchedulerConfig {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism " + parallelism + " should be at least 1");
        }
        if (parallelism > MAX_PARALLELISM) {
            throw new IllegalArgumentException("parallelism " + parallelism + " should be at most " + MAX_PARALLELISM
                    + " (ForkJoinPool's limit): carriers are platform threads, one per core is the default");
        }
        if (name != null && name.isBlank()) {
            throw new IllegalArgumentException("name should not be blank; pass null to let the provider choose one");
        }
    }

    /** A builder with the {@link #DEFAULT} settings. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link SchedulerConfig}; not thread-safe. */
    public static final class Builder {
        private String name;
        private int parallelism = Runtime.getRuntime().availableProcessors();
        private boolean daemon = true;

        private Builder() {}

        /** The instance name; {@code null}, the default, lets the provider choose one. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /**
         * The number of carrier threads (default: one per available processor); checked by
         * {@link #build()}, which refuses one below 1 or above {@value SchedulerConfig#MAX_PARALLELISM}.
         */
        public Builder parallelism(int parallelism) {
            this.parallelism = parallelism;
            return this;
        }

        /** Whether the scheduler's own threads are daemon threads (default {@code true}); see {@link SchedulerConfig#daemon()}. */
        public Builder daemon(boolean daemon) {
            this.daemon = daemon;
            return this;
        }

        /**
         * The configuration.
         *
         * @throws IllegalArgumentException if the parallelism is below 1 or above
         *     {@value SchedulerConfig#MAX_PARALLELISM}, or the name is blank (empty or only white space)
         */
        public SchedulerConfig build() {
            return new SchedulerConfig(name, parallelism, daemon);
        }
    }
}
