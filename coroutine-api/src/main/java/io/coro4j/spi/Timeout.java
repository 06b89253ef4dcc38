package io.coro4j.spi;

/** A pending timer action of {@link Scheduler#schedule}. Thread-safe. */
@FunctionalInterface
public interface Timeout {

    /**
     * Cancels the action if it has not run yet.
     *
     * @return {@code true} if this call prevented it from running
     */
    boolean cancel();
}
