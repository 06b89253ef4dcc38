/**
 * An HTTP client whose calls suspend the calling coroutine: {@link io.coro4j.http.AsyncHttpClient}.
 *
 * <p>Why it is built the way it is:
 * <ul>
 *   <li><b>{@code java.net.http} underneath, awaited.</b> Each exchange is
 *       {@code HttpClient.sendAsync}, and the task suspends in {@link io.coro4j.Coro#await} until
 *       its future completes: no carrier thread waits on a socket, on either scheduler. When the
 *       task is cancelled, {@code await} cancels the future with {@code cancel(true)}, which makes
 *       the JDK abort the exchange and close its connection: a cancelled request frees its
 *       connection at once.</li>
 *   <li><b>Our own whole-request deadline.</b> The JDK's {@code HttpRequest.timeout} stops at the
 *       response headers; a server that stalls in the middle of the body would hang the caller.
 *       The client's deadline covers connecting, headers and the whole body: when it passes, the
 *       exchange's future is cancelled as for a cancellation, and the caller gets a
 *       {@link io.coro4j.http.RequestTimeoutException}. The deadlines (of requests, and of waits
 *       for a slot) are kept in deadline-sorted lists with one scheduler timer for the earliest,
 *       not a timer per request.</li>
 *   <li><b>Bodies read whole, off the carrier, through one of the JDK's own subscribers.</b> The
 *       body goes to a consumer ({@code BodySubscribers.ofByteArrayConsumer}) that counts bytes
 *       against the size limit as they arrive (a {@code Content-Length} above it is refused at the
 *       headers) and decodes gzip/deflate at the end, with the decoded size bounded too, on the
 *       HTTP client's thread. A subscriber class of our own would cost two extra thread hops per
 *       response: the JDK runs the {@code getBody} of subscribers it does not know on its
 *       executor. A streaming {@code InputStream} body would block whichever thread reads it, a
 *       carrier on the threadpool scheduler; {@link io.coro4j.http.Response#bodyStream()} reads the
 *       bytes already in memory instead.</li>
 *   <li><b>Slots, not a semaphore per host.</b> One monitor-guarded structure holds the overall
 *       count, per-host counts and FIFO queues, and an index of the queue heads that wait only for
 *       the overall limit, so a request for an idle host is not stuck behind a busy host's queue,
 *       a waiter that is cancelled or times out leaves the queue (passing on a slot it was granted
 *       in the meantime), and the queue has a bound beyond which requests are refused. A slot is
 *       handed on as soon as the exchange's future completes, from the thread that completes it.</li>
 *   <li><b>A fan-out is an event loop on the calling task.</b> {@code getAll} puts every URL in
 *       the slot queue as a small entry; a grant and an exchange's completion each post an event
 *       to the caller, which starts the exchange or records its outcome without suspending. No
 *       task per URL (only a URL to be retried gets one): 10,000 URLs cost about one wake-up of the
 *       caller each, the shape of {@code sendAsync} with a semaphore.</li>
 *   <li><b>Retries are opt-in and conservative</b> ({@link io.coro4j.http.RetryPolicy}): only
 *       failures where nothing reached the server, or where the server said "later" (429, 503),
 *       and only idempotent methods unless told otherwise.</li>
 *   <li><b>Observation without a dependency.</b> The pool's per-host counts are read from the
 *       limiter ({@link io.coro4j.http.AsyncHttpClient#poolStats()}), and an
 *       {@link io.coro4j.http.HttpClientObserver} is told of each attempt's slot and outcome, on the
 *       thread where it happens and never under the limiter's lock; with none set a request pays a
 *       null check per event. coroutine-metrics turns both into Micrometer meters, so that this
 *       module needs no Micrometer.</li>
 * </ul>
 *
 * <p>Exceptions: one hierarchy under {@link io.coro4j.http.HttpRequestException}, unchecked, each
 * naming the method and URL.
 */
package io.coro4j.http;
