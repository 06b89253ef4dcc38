package io.coro4j.internal;

import io.coro4j.spi.Scheduler;

/**
 * Holds the JVM-wide default scheduler, which {@code Schedulers.defaultScheduler()} creates, so
 * that the schedulers' {@code shutdown()} can refuse to shut it down. Not an API for users; a scheduler
 * implementation calls {@link #refuseShutdown} first in its {@code shutdown()} (and in {@code close()}
 * if it overrides the SPI's), as {@link Scheduler#shutdown()} asks. Thread-safe.
 */
public final class DefaultScheduler {

    private static volatile Scheduler instance;

    private DefaultScheduler() {}

    /** The default scheduler, or null until {@code Schedulers.defaultScheduler()} has created it. */
    public static Scheduler get() {
        return instance;
    }

    /** Records {@code s} as the default scheduler; called once, by {@code Schedulers}, which creates it. */
    public static void set(Scheduler s) {
        instance = s;
    }

    /**
     * Refuses to shut {@code s} down if it is the default scheduler: every {@code Coro.run} and
     * generator that names no scheduler shares it for the JVM's life, and a shut-down one would
     * refuse them all, far from the mistake.
     *
     * @throws IllegalStateException if {@code s} is the default scheduler
     */
    public static void refuseShutdown(Scheduler s) {
        if (s == instance) {
            throw new IllegalStateException("scheduler \"" + s.name() + "\" is the default scheduler, shared by every"
                    + " Coro.run and generator that names no scheduler for the JVM's life, and is never shut down:"
                    + " create a scheduler of your own with Schedulers.create(...) to shut it down or close it");
        }
    }
}
