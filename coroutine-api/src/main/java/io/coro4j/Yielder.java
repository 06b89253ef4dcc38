package io.coro4j;

/**
 * The handle a generator body receives to suspend itself. Valid only inside that body while it
 * runs; using it anywhere else throws {@link IllegalStateException}.
 *
 * @param <Y> the type of yielded values
 * @param <S> the type of values sent in
 */
public interface Yielder<Y, S> {

    /**
     * Pauses the body and hands {@code value} to whoever resumed the generator.
     *
     * @return the value passed to the {@link Generator#send send} that resumes the body, or
     *     {@code null} when resumed by {@link Generator#next()}
     * @throws GeneratorExit when the generator is {@link Generator#close() closed} while paused here
     * @throws IllegalStateException if called outside this generator's running body
     */
    S yield(Y value);

    /**
     * Delegates to {@code sub} until it finishes (Python's {@code yield from}): each value it
     * yields is yielded from here, each value sent here is sent to it, an exception thrown in here
     * is thrown into it, and closing this generator closes it.
     *
     * @return {@code sub}'s return value
     * @throws IllegalStateException if called outside this generator's running body
     */
    <R2> R2 yieldFrom(Generator<? extends Y, ? super S, ? extends R2> sub);
}
