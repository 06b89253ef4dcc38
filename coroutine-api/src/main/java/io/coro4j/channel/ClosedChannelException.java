package io.coro4j.channel;

/**
 * Thrown by a send to a {@link Channel} that is closed, and by a receive from one that is closed
 * and has no item left. It is an {@link IllegalStateException}: the channel's state forbids the
 * operation.
 */
public class ClosedChannelException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    /** Creates the exception with {@code message}, which says which operation met the closed channel. */
    public ClosedChannelException(String message) {
        super(message);
    }
}
