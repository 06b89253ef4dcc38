package io.coro4j;

import java.util.NoSuchElementException;

/**
 * What one resumption of a {@link Generator} produced: a {@link Yielded yielded value}, or the
 * generator's {@link Returned return value} once its body has finished. Completion is a value, not
 * an exception the caller must catch.
 *
 * @param <Y> the type of yielded values
 * @param <R> the type of the return value
 */
public sealed interface Step<Y, R> {

    /** The body paused at a {@code yield} and handed out {@code value}. */
    record Yielded<Y, R>(Y value) implements Step<Y, R> {}

    /**
     * The body has finished; {@code returnValue} is what it returned ({@code null} if it was
     * closed before returning, or failed).
     */
    record Returned<Y, R>(R returnValue) implements Step<Y, R> {}

    /** Whether the generator has finished (this is a {@link Returned}). */
    default boolean isDone() {
        return this instanceof Returned;
    }

    /**
     * The yielded value.
     *
     * @throws NoSuchElementException if the generator has finished instead
     */
    default Y value() {
        throw new NoSuchElementException("the generator has finished and yielded nothing; check isDone() or read returnValue()");
    }

    /**
     * The return value.
     *
     * @throws IllegalStateException if the generator yielded instead of finishing
     */
    default R returnValue() {
        throw new IllegalStateException("the generator yielded a value and has not finished; check isDone() or read value()");
    }
}
