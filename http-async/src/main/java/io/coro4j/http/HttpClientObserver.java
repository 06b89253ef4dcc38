package io.coro4j.http;

/**
 * What an {@link AsyncHttpClient} tells about its requests, for metrics and tracing without a
 * dependency: coroutine-metrics' {@code HttpClientMetrics} is one, on Micrometer. Set one with
 * {@link AsyncHttpClient.Builder#observer} or {@link AsyncHttpClient#setObserver}; every method
 * has an empty default, so an observer implements only what it needs.
 *
 * <p>What is reported, per <em>attempt</em> (a request retried by its {@link RetryPolicy} makes
 * several attempts, each reported with its own outcome and duration, and {@link #retrying} between
 * them):
 * <ul>
 *   <li>{@link #requestQueued}: the attempt found no free slot and joined the wait queue;</li>
 *   <li>{@link #slotAcquired}: it got its slot, at once or after waiting;</li>
 *   <li>{@link #requestFinished}: it ended, exactly once for every attempt that reached the slot
 *       queue, whether or not it got a slot.</li>
 * </ul>
 * An attempt that never reaches the slot queue is not reported: a request with an invalid URL (it
 * has no host), one made on a closed client or by a task already cancelled, and the requests of a
 * fan-out that stopped (its first failure, or its cancellation) before it got to queue them.
 *
 * <p>{@code host} is always the key of the per-host limit: scheme, lower-case host name and port,
 * as in {@code http://example.com:80}, the same string that {@link AsyncHttpClient#activeRequests}
 * takes.
 *
 * <p>Threads: the methods are called on whichever thread the event happens on (the calling
 * task's carrier, the HTTP client's threads, a scheduler's timer thread), concurrently, and never
 * while the client holds a lock; they must be thread-safe, short, and must not block or suspend.
 * Events of different attempts are not ordered among themselves; {@link #requestQueued} may rarely
 * come after {@link #slotAcquired} of the same attempt (a slot came free in between), the other
 * events of one attempt come in the order above.
 *
 * <p>Failures: whatever an observer method throws (errors included) is caught and does not affect
 * the request; the first throwable of each observer is passed to the current thread's
 * {@linkplain Thread.UncaughtExceptionHandler uncaught-exception handler}, later ones are dropped,
 * so that a broken observer is seen once and cannot flood the log.
 */
public interface HttpClientObserver {

    /** An attempt to {@code host} found every slot it may use taken, and waits in the queue. */
    default void requestQueued(String host) {}

    /**
     * An attempt to {@code host} got its slot after waiting {@code waitNanos} (about 0 when a slot
     * was free). Not called for an attempt that gave up waiting: that one is reported to
     * {@link #requestFinished} as {@link RequestOutcome#SLOT_TIMEOUT}, {@link RequestOutcome#REJECTED}
     * or {@link RequestOutcome#CANCELLED}.
     */
    default void slotAcquired(String host, long waitNanos) {}

    /**
     * An attempt ended.
     *
     * @param host the host key (see the class description)
     * @param method the request method, as given (for example {@code GET})
     * @param status the response status, or -1 if there was no response
     * @param outcome the status class of the response, or why there was none
     * @param durationNanos for an attempt that got a slot, the time from the slot to the outcome
     *     (the exchange: connecting, sending, the headers and the whole body), which is also what
     *     the request timeout bounds; for one that did not ({@code SLOT_TIMEOUT}, {@code REJECTED},
     *     cancelled while waiting), the time it waited
     */
    default void requestFinished(String host, String method, int status, RequestOutcome outcome, long durationNanos) {}

    /**
     * Attempt {@code attempt} (1 for the first) of a request to {@code host} ended, already reported
     * to {@link #requestFinished}, and its {@link RetryPolicy}'s delay has passed: the next attempt
     * starts now. A request whose caller is cancelled (or whose fan-out stops) during the delay is
     * not retried and not reported here.
     */
    default void retrying(String host, String method, int attempt) {}
}
