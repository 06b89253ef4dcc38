package io.coro4j.http;

import io.coro4j.spi.TimerThread;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When to try a request again. Off by default ({@link #none()}); opted into with
 * {@link #idempotent()} or a {@link #builder()}.
 *
 * <p>A policy retries only requests whose method it covers: by default the idempotent ones
 * (GET, HEAD, PUT, DELETE, OPTIONS); {@code POST}, {@code PATCH} and the rest only when named with
 * {@link Builder#alsoRetry(String...)}, since a retry may then apply them twice. It retries:
 * <ul>
 *   <li>connection failures where nothing was sent ({@link HttpConnectException},
 *       {@link ConnectTimeoutException});</li>
 *   <li>responses with a status it lists (by default 429 and 503). Such a response's
 *       {@code Retry-After} header, in seconds or as an HTTP-date, sets the delay; a delay longer
 *       than {@link Builder#maxRetryAfter} is not waited for: the response is returned as it is.</li>
 * </ul>
 * It never retries a timeout of the whole request, a broken connection ({@link HttpIoException}),
 * or any other failure: the request may have reached the server.
 *
 * <p>Without {@code Retry-After}, attempt {@code n} (from 1) waits an exponential backoff with
 * "equal jitter": a random delay between half and all of {@code min(maxBackoff,
 * initialBackoff * 2^(n-1))}, so that clients that failed together do not retry together. When
 * all attempts are used, the last failure is thrown (the earlier ones
 * {@linkplain Throwable#getSuppressed() suppressed} in it) or the last response is returned.
 * Each attempt takes a slot and has the full request timeout; the waits between attempts hold no
 * slot and are cancellable like any {@link io.coro4j.Coro#sleep sleep}.
 *
 * <p>Immutable and thread-safe.
 */
public final class RetryPolicy {

    /** The methods an {@link #idempotent()} policy retries. */
    public static final Set<String> IDEMPOTENT_METHODS = Set.of("GET", "HEAD", "PUT", "DELETE", "OPTIONS");

    private static final RetryPolicy NONE = new RetryPolicy(1, Duration.ZERO, Duration.ZERO, Set.of(), Set.of(), Duration.ZERO);
    private static final RetryPolicy IDEMPOTENT = builder().build();

    private final int maxAttempts;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Set<Integer> statuses;
    private final Set<String> methods;
    private final Duration maxRetryAfter;

    private RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, Set<Integer> statuses,
                        Set<String> methods, Duration maxRetryAfter) {
        this.maxAttempts = maxAttempts;
        this.initialBackoff = initialBackoff;
        this.maxBackoff = maxBackoff;
        this.statuses = statuses;
        this.methods = methods;
        this.maxRetryAfter = maxRetryAfter;
    }

    /** No retries: every request is tried once (the client's default). */
    public static RetryPolicy none() {
        return NONE;
    }

    /**
     * The idempotent methods, up to 3 attempts, on connect failures and 429/503; backoff from
     * 100 ms up to 10 s; {@code Retry-After} honoured up to 60 s.
     */
    public static RetryPolicy idempotent() {
        return IDEMPOTENT;
    }

    /** A builder starting from {@link #idempotent()}'s settings. */
    public static Builder builder() {
        return new Builder();
    }

    /** The most attempts a request gets, the first included (1: no retries). */
    public int maxAttempts() {
        return maxAttempts;
    }

    /**
     * Whether requests of {@code method} are retried at all (case-insensitive).
     *
     * @throws NullPointerException if {@code method} is null
     */
    public boolean covers(String method) {
        Objects.requireNonNull(method, "method");
        return maxAttempts > 1 && methods.contains(method.toUpperCase(Locale.ROOT));
    }

    /** Whether a response with {@code status} is retried (for a method this policy covers). */
    public boolean retriesStatus(int status) {
        return statuses.contains(status);
    }

    /** The methods retried. */
    public Set<String> methods() {
        return methods;
    }

    /** The statuses retried. */
    public Set<Integer> statuses() {
        return statuses;
    }

    /** The jittered backoff before attempt {@code failedAttempt + 1}, where attempts count from 1. */
    Duration backoff(int failedAttempt) {
        return backoff(failedAttempt, ThreadLocalRandom.current().nextDouble());
    }

    /** {@link #backoff(int)} with the random draw {@code r} in [0, 1) given (for tests). */
    Duration backoff(int failedAttempt, double r) {
        // Saturated: a backoff too long to count in nanoseconds (ChronoUnit.FOREVER as "no cap")
        // is that long, as a timeout is, not an ArithmeticException for the request.
        long initial = TimerThread.saturatedNanos(initialBackoff);
        long cap = TimerThread.saturatedNanos(maxBackoff);
        long d = initial;
        for (int i = 1; i < failedAttempt && d < cap; i++) {
            d = d > Long.MAX_VALUE / 2 ? Long.MAX_VALUE : d * 2;
        }
        d = Math.min(d, cap);
        long half = d / 2;
        return Duration.ofNanos(half + (long) ((d - half) * r));
    }

    /**
     * The delay before retrying a response with a retryable status: its {@code Retry-After}, or
     * the backoff; empty if {@code Retry-After} asks for longer than {@link Builder#maxRetryAfter}.
     */
    Optional<Duration> delayFor(Response response, int failedAttempt, Instant now) {
        Optional<String> header = response.header("Retry-After");
        if (header.isPresent()) {
            Optional<Duration> asked = parseRetryAfter(header.get(), now);
            if (asked.isPresent()) {
                return asked.get().compareTo(maxRetryAfter) > 0 ? Optional.empty() : asked;
            }
        }
        return Optional.of(backoff(failedAttempt));
    }

    /**
     * Parses a {@code Retry-After} value: a number of seconds, or an HTTP-date (IMF-fixdate,
     * RFC 9110 section 5.6.7) measured from {@code now}; a date in the past means no delay.
     * Empty for a value that is neither.
     */
    static Optional<Duration> parseRetryAfter(String value, Instant now) {
        String v = value.trim();
        if (!v.isEmpty() && v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            try {
                return Optional.of(Duration.ofSeconds(Long.parseLong(v)));
            } catch (NumberFormatException e) {
                return Optional.of(Duration.ofSeconds(Long.MAX_VALUE / 1_000_000_000L)); // absurdly long: refused by maxRetryAfter
            }
        }
        try {
            Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration d = Duration.between(now, at);
            return Optional.of(d.isNegative() ? Duration.ZERO : d);
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        if (maxAttempts == 1) {
            return "RetryPolicy[none]";
        }
        return "RetryPolicy[maxAttempts=" + maxAttempts + ", methods=" + new TreeSet<>(methods) + ", statuses="
                + new TreeSet<>(statuses) + ", backoff=" + initialBackoff + ".." + maxBackoff
                + ", maxRetryAfter=" + maxRetryAfter + "]";
    }

    /** Builds a {@link RetryPolicy}; starts from {@link RetryPolicy#idempotent()}'s settings. Not thread-safe. */
    public static final class Builder {
        private int maxAttempts = 3;
        private Duration initialBackoff = Duration.ofMillis(100);
        private Duration maxBackoff = Duration.ofSeconds(10);
        private Set<Integer> statuses = Set.of(429, 503);
        private final Set<String> methods = new TreeSet<>(IDEMPOTENT_METHODS);
        private Duration maxRetryAfter = Duration.ofSeconds(60);

        private Builder() {}

        /**
         * The most attempts, the first included.
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder maxAttempts(int maxAttempts) {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts " + maxAttempts + " should be at least 1");
            }
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * The backoff before the first retry, doubled for each further one up to {@code max}.
         *
         * @throws IllegalArgumentException if {@code initial} is negative or {@code max} below it
         */
        public Builder backoff(Duration initial, Duration max) {
            Objects.requireNonNull(initial, "initial");
            Objects.requireNonNull(max, "max");
            if (initial.isNegative() || max.compareTo(initial) < 0) {
                throw new IllegalArgumentException("backoff " + initial + ".." + max
                        + " should be non-negative, with max at least initial");
            }
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /**
         * The statuses to retry, replacing 429 and 503 (e.g. add 502 and 504 for a flaky gateway).
         *
         * @throws IllegalArgumentException for a code outside 100..599
         * @throws NullPointerException if {@code statuses} is null
         */
        public Builder retryOnStatus(int... statuses) {
            Objects.requireNonNull(statuses, "statuses");
            for (int s : statuses) {
                if (s < 100 || s > 599) {
                    throw new IllegalArgumentException("status " + s + " should be between 100 and 599");
                }
            }
            this.statuses = Set.copyOf(Arrays.stream(statuses).boxed().toList());
            return this;
        }

        /**
         * Also retry these non-idempotent methods (e.g. {@code "POST"}): only for requests the
         * server can safely receive twice, e.g. those carrying an idempotency key.
         *
         * @throws NullPointerException if {@code methods} or one of them is null
         * @throws IllegalArgumentException if one of them is not a valid HTTP method name (as
         *     {@link Request#builder(String, String)} refuses it); none is added then
         */
        public Builder alsoRetry(String... methods) {
            Objects.requireNonNull(methods, "methods");
            for (String m : methods) {
                Request.checkMethodName(Objects.requireNonNull(m, "method"));
            }
            for (String m : methods) {
                this.methods.add(m.toUpperCase(Locale.ROOT));
            }
            return this;
        }

        /**
         * The longest {@code Retry-After} that is waited for; a longer one returns the response
         * as it is.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder maxRetryAfter(Duration maxRetryAfter) {
            Objects.requireNonNull(maxRetryAfter, "maxRetryAfter");
            if (maxRetryAfter.isNegative()) {
                throw new IllegalArgumentException("maxRetryAfter " + maxRetryAfter + " should not be negative");
            }
            this.maxRetryAfter = maxRetryAfter;
            return this;
        }

        /** The policy. */
        public RetryPolicy build() {
            return new RetryPolicy(maxAttempts, initialBackoff, maxBackoff, statuses, Set.copyOf(methods), maxRetryAfter);
        }
    }
}
