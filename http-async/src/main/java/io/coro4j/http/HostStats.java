package io.coro4j.http;

/**
 * The slots of one host at one moment, from {@link AsyncHttpClient#poolStats()}.
 *
 * @param host the host key: scheme, lower-case host name and port ({@code https://example.com:443})
 * @param active requests to the host holding a slot (being sent or read)
 * @param queued requests to the host waiting for a slot
 */
public record HostStats(String host, int active, int queued) {}
