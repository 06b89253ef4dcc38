package io.coro4j;

import java.util.Objects;

/**
 * How a task ended, as {@link Coro#gatherSettled} reports it: a {@link Success value} or a
 * {@link Failure failure} (a cancelled task is a failure with a
 * {@link java.util.concurrent.CancellationException}).
 *
 * @param <T> the type of the value
 */
public sealed interface Outcome<T> {

    /** The task returned {@code value}. */
    record Success<T>(T value) implements Outcome<T> {}

    /** The task failed with {@code exception} (never null). */
    record Failure<T>(Throwable exception) implements Outcome<T> {
        public Failure {
            Objects.requireNonNull(exception, "exception");
        }
    }

    /** Whether this is a {@link Success}. */
    default boolean isSuccess() {
        return this instanceof Success;
    }

    /**
     * The value, or the failure rethrown (unchecked as it is, checked in a
     * {@link java.util.concurrent.CompletionException}).
     */
    default T getOrThrow() {
        if (this instanceof Success<T> s) {
            return s.value();
        }
        throw Task.rethrow(((Failure<T>) this).exception());
    }
}
