package io.coro4j.http;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One HTTP request: a method, a URL, headers, a body, and optionally its own timeout and retry
 * policy (the client's are used otherwise).
 *
 * <p>The URL is kept as the string given and checked only when the request is sent: a malformed
 * URL is bad <em>input</em>, and fails that one request with an {@link InvalidUrlException}
 * (so that, in a {@code gather} over many URLs, only its own result is an error). Programming
 * errors (a null, an invalid method or header name, a header that {@link java.net.http} reserves
 * to itself) throw at once.
 *
 * <p>Immutable and thread-safe; the {@link Builder} is not thread-safe.
 */
public final class Request {

    /** Headers {@link java.net.http.HttpClient} sets itself and refuses from callers. */
    private static final Set<String> RESTRICTED = Set.of("connection", "content-length", "expect", "host", "upgrade");

    private final String method;
    private final String url;
    private final Map<String, List<String>> headers;
    private final RequestBody body;
    private final Duration timeout;
    private final RetryPolicy retry;

    private Request(Builder b) {
        this.method = b.method;
        this.url = b.url;
        Map<String, List<String>> copy = new LinkedHashMap<>();
        b.headers.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        this.headers = Collections.unmodifiableMap(copy);
        this.body = b.body;
        this.timeout = b.timeout;
        this.retry = b.retry;
    }

    /** A GET of {@code url}. */
    public static Request get(String url) {
        return builder("GET", url).build();
    }

    /** A HEAD of {@code url}. */
    public static Request head(String url) {
        return builder("HEAD", url).build();
    }

    /** A POST of {@code body} to {@code url}. */
    public static Request post(String url, RequestBody body) {
        return builder("POST", url).body(body).build();
    }

    /**
     * A builder for a request of any method (e.g. {@code "PUT"}, {@code "PATCH"}, {@code "OPTIONS"}).
     *
     * @throws IllegalArgumentException if {@code method} is not an HTTP token, or is {@code CONNECT}
     *     (which {@link java.net.http.HttpClient} does not support)
     */
    public static Builder builder(String method, String url) {
        return new Builder(method, url);
    }

    /** The method, e.g. {@code "GET"}. */
    public String method() {
        return method;
    }

    /** The URL as given. */
    public String url() {
        return url;
    }

    /** The headers set on this request (not those the client adds), in the order set. */
    public Map<String, List<String>> headers() {
        return headers;
    }

    /** The body ({@link RequestBody#empty()} if none). */
    public RequestBody body() {
        return body;
    }

    /** This request's own timeout, or null to use the client's. */
    public Duration timeout() {
        return timeout;
    }

    /** This request's own retry policy, or null to use the client's. */
    public RetryPolicy retry() {
        return retry;
    }

    /** Whether the request sets header {@code name} (case-insensitive). */
    boolean hasHeader(String name) {
        if (headers.isEmpty()) {
            return false;
        }
        for (String k : headers.keySet()) {
            if (k.equalsIgnoreCase(name)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return method + " " + url;
    }

    /** Builds a {@link Request}. Not thread-safe. */
    public static final class Builder {
        private final String method;
        private final String url;
        private final Map<String, List<String>> headers = new LinkedHashMap<>();
        private RequestBody body = RequestBody.empty();
        private Duration timeout;
        private RetryPolicy retry;

        private Builder(String method, String url) {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(url, "url");
            checkMethodName(method);
            if (method.equalsIgnoreCase("CONNECT")) {
                throw new IllegalArgumentException("method CONNECT is not supported by java.net.http.HttpClient");
            }
            this.method = method;
            this.url = url;
        }

        /**
         * Adds a header value (a second call with the same name adds another value).
         *
         * @throws IllegalArgumentException if the name is not a valid header name, the value holds
         *     a line break or another control character, or the header is one
         *     {@link java.net.http.HttpClient} sets itself
         *     ({@code Connection}, {@code Content-Length}, {@code Expect}, {@code Host}, {@code Upgrade})
         */
        public Builder header(String name, String value) {
            Objects.requireNonNull(name, "header name");
            Objects.requireNonNull(value, "value of header " + name);
            if (!isToken(name)) {
                throw new IllegalArgumentException("\"" + name + "\" is not a valid header name");
            }
            if (RESTRICTED.contains(name.toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("header " + name + " is set by java.net.http.HttpClient itself"
                        + " and cannot be set on a request");
            }
            checkValue(name, value);
            String key = name;
            for (String k : headers.keySet()) {
                if (k.equalsIgnoreCase(name)) {
                    key = k;
                }
            }
            headers.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
            return this;
        }

        /** The body to send; its content type is used unless a {@code Content-Type} header is set. */
        public Builder body(RequestBody body) {
            this.body = Objects.requireNonNull(body, "body");
            return this;
        }

        /**
         * The whole-request timeout for this request, instead of the client's.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder timeout(Duration timeout) {
            this.timeout = AsyncHttpClient.positive(timeout, "timeout");
            return this;
        }

        /** The retry policy for this request, instead of the client's ({@link RetryPolicy#none()} turns retries off). */
        public Builder retry(RetryPolicy retry) {
            this.retry = Objects.requireNonNull(retry, "retry");
            return this;
        }

        /** The request. */
        public Request build() {
            return new Request(this);
        }
    }

    /**
     * Refuses a value that java.net.http would refuse for header {@code name} when the request is
     * sent (after it has taken a slot, with a message that does not name the header): a line break,
     * another control character, or a character above U+00FF.
     *
     * @throws IllegalArgumentException naming the header and what is wrong with the value
     */
    static void checkValue(String name, String value) {
        if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("the value of header " + name + " must not contain a line break");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            // What java.net.http accepts: visible characters, spaces, tabs and obs-text.
            if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff) {
                throw new IllegalArgumentException(String.format("the value of header %s holds U+%04X: only visible"
                        + " characters, spaces and tabs are allowed", name, (int) c));
            }
        }
    }

    /**
     * Refuses a method name that is not an HTTP token.
     *
     * @throws IllegalArgumentException naming the method
     */
    static void checkMethodName(String method) {
        if (!isToken(method)) {
            throw new IllegalArgumentException("method \"" + method + "\" is not a valid HTTP method name");
        }
    }

    private static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
