package io.coro4j.http;

import java.time.Duration;

/**
 * The request waited longer than the slot-wait timeout ({@link
 * AsyncHttpClient.Builder#slotWaitTimeout}) for a free slot under the client's in-flight limits;
 * it left the wait queue and nothing was sent. Immutable.
 */
public final class SlotWaitTimeoutException extends HttpTimeoutException {
    private static final long serialVersionUID = 1L;

    SlotWaitTimeoutException(String method, String url, Duration timeout, String limits) {
        super(method, url, "no free slot within " + AsyncHttpClient.format(timeout) + " (" + limits + ")", timeout, null);
    }
}
