package io.coro4j;

/**
 * Raised at a paused {@code yield} by {@link Generator#close()} so that the body's {@code finally}
 * blocks run. A body should let it propagate (or return); yielding again after it is an error.
 *
 * <p>It is an {@link Error}, like Python's {@code GeneratorExit} is a {@code BaseException}, so
 * that {@code catch (Exception e)} in a body does not swallow it by accident. It carries no stack
 * trace: it is a control signal, not a fault. What fails while it unwinds the body and is
 * suppressed on it (a resource of try-with-resources that fails to close) is not lost:
 * {@link Generator#close()} throws it.
 */
public final class GeneratorExit extends Error {
    private static final long serialVersionUID = 1L;

    /** The signal {@link Generator#close()} raises; a body has no reason to make one itself. */
    public GeneratorExit() {
        super("generator closed", null, true, false);
    }
}
