package io.coro4j.http;

/**
 * The request found every slot taken and the wait queue full ({@link
 * AsyncHttpClient.Builder#maxWaiting}), and was refused at once rather than queued without bound.
 * Nothing was sent. Raise the limits, or submit fewer requests at a time. Immutable.
 */
public final class HttpRejectedException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    private final int maxWaiting;

    HttpRejectedException(String method, String url, int maxWaiting) {
        super(method, url, "rejected: all slots are taken and " + maxWaiting
                + " requests are already waiting for one (maxWaiting)", null);
        this.maxWaiting = maxWaiting;
    }

    /** The size of the wait queue that was full. */
    public int maxWaiting() {
        return maxWaiting;
    }
}
