package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The retry policy, header parsing and argument checks, without a server or a scheduler. */
class HttpRulesTest {

    static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");

    @Test
    void timeoutsInMessages_keepASubMillisecondPart_andReadInSecondsFromOneSecondOn() {
        assertThat(AsyncHttpClient.format(Duration.ZERO)).isEqualTo("0 ms");
        assertThat(AsyncHttpClient.format(Duration.ofNanos(500_000))).isEqualTo("0.5 ms");
        assertThat(AsyncHttpClient.format(Duration.ofNanos(1))).isEqualTo("0.000001 ms");
        assertThat(AsyncHttpClient.format(Duration.ofMillis(1).plusNanos(250_000))).isEqualTo("1.25 ms");
        assertThat(AsyncHttpClient.format(Duration.ofMillis(100))).isEqualTo("100 ms");
        assertThat(AsyncHttpClient.format(Duration.ofMillis(999))).isEqualTo("999 ms");
        assertThat(AsyncHttpClient.format(Duration.ofSeconds(2))).isEqualTo("2 s");
        assertThat(AsyncHttpClient.format(Duration.ofMillis(1500))).isEqualTo("1.500 s");
    }

    @Test
    void none_retriesNothing_idempotent_coversExactlyTheIdempotentMethods() {
        assertThat(RetryPolicy.none().covers("GET")).isFalse();
        RetryPolicy p = RetryPolicy.idempotent();
        for (String m : List.of("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "get")) {
            assertThat(p.covers(m)).as(m).isTrue();
        }
        for (String m : List.of("POST", "PATCH", "CONNECT")) {
            assertThat(p.covers(m)).as(m).isFalse();
        }
        assertThat(RetryPolicy.builder().alsoRetry("post").build().covers("POST")).isTrue();
        assertThat(p.retriesStatus(429)).isTrue();
        assertThat(p.retriesStatus(503)).isTrue();
        assertThat(p.retriesStatus(500)).isFalse();
        assertThat(p.maxAttempts()).isEqualTo(3);
    }

    @Test
    void retryAfter_inSeconds_orAsAnHttpDate_orNeither() {
        assertThat(RetryPolicy.parseRetryAfter("120", NOW)).hasValue(Duration.ofSeconds(120));
        assertThat(RetryPolicy.parseRetryAfter(" 0 ", NOW)).hasValue(Duration.ZERO);
        assertThat(RetryPolicy.parseRetryAfter("Fri, 02 Jan 2026 03:04:35 GMT", NOW)).hasValue(Duration.ofSeconds(30));
        assertThat(RetryPolicy.parseRetryAfter("Fri, 02 Jan 2026 03:00:00 GMT", NOW)).as("in the past").hasValue(Duration.ZERO);
        assertThat(RetryPolicy.parseRetryAfter("soon", NOW)).isEmpty();
        assertThat(RetryPolicy.parseRetryAfter("-5", NOW)).isEmpty();
        assertThat(RetryPolicy.parseRetryAfter("99999999999999999999999", NOW).orElseThrow()).isGreaterThan(Duration.ofDays(365));
    }

    @Test
    void backoff_isExponential_capped_withEqualJitter() {
        RetryPolicy p = RetryPolicy.builder().backoff(Duration.ofMillis(100), Duration.ofMillis(1000)).build();
        assertThat(p.backoff(1, 0.0)).isEqualTo(Duration.ofMillis(50));
        assertThat(p.backoff(1, 0.999999)).isBetween(Duration.ofMillis(99), Duration.ofMillis(100));
        assertThat(p.backoff(2, 0.0)).isEqualTo(Duration.ofMillis(100));
        assertThat(p.backoff(3, 0.0)).isEqualTo(Duration.ofMillis(200));
        assertThat(p.backoff(4, 0.5)).isEqualTo(Duration.ofMillis(600));
        assertThat(p.backoff(5, 0.0)).as("capped").isEqualTo(Duration.ofMillis(500));
        assertThat(p.backoff(500, 0.0)).as("no overflow").isEqualTo(Duration.ofMillis(500));
        for (int i = 0; i < 1000; i++) {
            assertThat(p.backoff(3)).isBetween(Duration.ofMillis(200), Duration.ofMillis(400));
        }
    }

    @Test
    void backoff_tooLongToCountInNanoseconds_isAsLongAsCanBeCounted_notAnOverflow() {
        Duration forever = java.time.temporal.ChronoUnit.FOREVER.getDuration();
        RetryPolicy noCap = RetryPolicy.builder().backoff(Duration.ofMillis(100), forever).build();
        assertThat(noCap.backoff(1, 0.0)).isEqualTo(Duration.ofMillis(50));
        assertThat(noCap.backoff(3, 0.0)).isEqualTo(Duration.ofMillis(200));
        assertThat(noCap.backoff(500, 0.0)).as("doubling saturates").isEqualTo(Duration.ofNanos(Long.MAX_VALUE / 2));
        RetryPolicy huge = RetryPolicy.builder().backoff(forever, forever).build();
        assertThat(huge.backoff(1, 0.0)).isEqualTo(Duration.ofNanos(Long.MAX_VALUE / 2));
    }

    /**
     * A body's content type becomes the request's Content-Type header, so a value that header
     * could not hold is a programming error refused when the body is made, as Request.Builder.header
     * refuses it. Before, RequestBody took it, and each send of the body failed after taking a slot
     * with java.net.http's bare IllegalArgumentException ("invalid header value: ...", not naming the
     * header): in a settled fan-out as that URL's outcome, which is documented to be an
     * HttpRequestException, and reported to the observer as UNKNOWN.
     */
    @Test
    void requestBody_refusesAContentTypeTheHeaderCouldNotHold_atOnce() {
        String lineBreak = "the value of header Content-Type must not contain a line break";
        String euro = "the value of header Content-Type holds U+20AC: only visible characters, spaces and tabs are allowed";
        String control = "the value of header Content-Type holds U+0001: only visible characters, spaces and tabs are allowed";
        assertThatThrownBy(() -> RequestBody.ofString("x", "text/plain\r\nX-Evil: 1"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage(lineBreak);
        assertThatThrownBy(() -> RequestBody.ofString("x", "text/plain; name=\u20ac"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage(euro);
        assertThatThrownBy(() -> RequestBody.ofBytes(new byte[1], "text/\u0001plain"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage(control);
        assertThatThrownBy(() -> RequestBody.ofInputStream(java.io.InputStream::nullInputStream, "a/b\nc"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage(lineBreak);
        // What the header may hold is still taken: obs-text, spaces and tabs.
        assertThat(RequestBody.ofString("x", "text/plain;\tname=caf\u00e9").contentType()).hasValue("text/plain;\tname=caf\u00e9");
    }

    /**
     * ofString encodes in the content type's charset, or in UTF-8 where that charset is unknown to
     * this JVM; a charset the JVM knows but can only decode (x-JISAutoDetect, ISO-2022-CN) is no
     * more use for encoding than an unknown one. Before, ofString threw a bare
     * UnsupportedOperationException (no message) from String.getBytes for it.
     */
    @Test
    void requestBody_ofString_encodesInUtf8WhereTheCharsetCanOnlyDecode() {
        assertThat(java.nio.charset.Charset.forName("x-JISAutoDetect").canEncode()).as("precondition").isFalse();
        String text = "caf\u00e9"; // 4 characters: 5 bytes in UTF-8, 4 in ISO-8859-1
        assertThat(RequestBody.ofString(text, "text/plain; charset=ISO-8859-1").length()).isEqualTo(4);
        assertThat(RequestBody.ofString(text, "text/plain; charset=no-such-charset").length()).isEqualTo(5);
        RequestBody decodeOnly = RequestBody.ofString(text, "text/plain; charset=x-JISAutoDetect");
        assertThat(decodeOnly.length()).isEqualTo(5);
        assertThat(decodeOnly.contentType()).hasValue("text/plain; charset=x-JISAutoDetect");
    }

    /**
     * HttpStatusException says its response is null after deserialization (the response is not
     * serializable), and that status() is the status code: the status must survive on its own.
     * Before, status() read it from the response and threw NullPointerException once deserialized.
     */
    @Test
    void httpStatusException_keepsItsStatus_whenSerialized() throws Exception {
        Response r = new Response(Request.get("http://x/a"), 503,
                HttpHeaders.of(Map.of(), (k, v) -> true), URI.create("http://x/a"), HttpClient.Version.HTTP_1_1,
                new byte[0], 1);
        HttpStatusException e = org.assertj.core.api.Assertions.catchThrowableOfType(HttpStatusException.class, r::raiseForStatus);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(e);
        }
        HttpStatusException copy;
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            copy = (HttpStatusException) in.readObject();
        }
        assertThat(copy.response()).isNull();
        assertThat(copy.status()).isEqualTo(503);
        assertThat(copy.method()).isEqualTo("GET");
        assertThat(copy.url()).isEqualTo("http://x/a");
        assertThat(copy).hasMessage("GET http://x/a: HTTP status 503 (server error)");
    }

    @Test
    void builder_rejectsNonsense_namingTheValue() {
        assertThatThrownBy(() -> RetryPolicy.builder().maxAttempts(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxAttempts 0 should be at least 1");
        assertThatThrownBy(() -> RetryPolicy.builder().retryOnStatus(600))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("status 600 should be between 100 and 599");
        assertThatThrownBy(() -> RetryPolicy.builder().backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max at least initial");
        assertThatThrownBy(() -> RetryPolicy.builder().backoff(Duration.ofSeconds(-1), Duration.ofSeconds(1)))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("backoff PT-1S..PT1S should be non-negative, with max at least initial");
        assertThatThrownBy(() -> RetryPolicy.builder().maxRetryAfter(Duration.ofSeconds(-1)))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("maxRetryAfter PT-1S should not be negative");
        assertThatThrownBy(() -> RetryPolicy.builder().backoff(null, Duration.ofSeconds(1)))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("initial");
        assertThatThrownBy(() -> RetryPolicy.builder().maxRetryAfter(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("maxRetryAfter");
    }

    /**
     * A null array for the varargs setters, or a null method, is refused with a
     * NullPointerException naming the argument, as every other setter of the builder does. Before,
     * the two setters threw one from their for-each loop, naming a compiler-made local
     * ("Cannot read the array length because "<local2>" is null").
     */
    @Test
    void builder_refusesNullNamingTheArgument() {
        assertThatThrownBy(() -> RetryPolicy.builder().alsoRetry((String[]) null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("methods");
        assertThatThrownBy(() -> RetryPolicy.builder().retryOnStatus((int[]) null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("statuses");
        assertThatThrownBy(() -> RetryPolicy.builder().alsoRetry("POST", null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("method");
        assertThatThrownBy(() -> RetryPolicy.idempotent().covers(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("method");
    }

    @Test
    void builder_refusesAMethodNameThatIsNotOne_addingNone() {
        RetryPolicy.Builder b = RetryPolicy.builder();
        assertThatThrownBy(() -> b.alsoRetry("POST", ""))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("method \"\" is not a valid HTTP method name");
        assertThatThrownBy(() -> b.alsoRetry("PO ST"))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("method \"PO ST\" is not a valid HTTP method name");
        assertThat(b.build().covers("POST")).isFalse();
        assertThat(b.alsoRetry("post").build().covers("POST")).isTrue();
    }

    @Test
    void contentCodings_areUndoneLastAppliedFirst() {
        assertThat(BodySink.codings(List.of("gzip"))).containsExactly("gzip");
        assertThat(BodySink.codings(List.of("deflate, GZIP"))).containsExactly("gzip", "deflate");
        assertThat(BodySink.codings(List.of("identity"))).isEmpty();
    }

    @Test
    void hostKey_isSchemeHostAndPort() {
        assertThat(AsyncHttpClient.hostKey(java.net.URI.create("http://Example.COM/x"))).isEqualTo("http://example.com:80");
        assertThat(AsyncHttpClient.hostKey(java.net.URI.create("https://example.com/x"))).isEqualTo("https://example.com:443");
        assertThat(AsyncHttpClient.hostKey(java.net.URI.create("http://127.0.0.1:8080/"))).isEqualTo("http://127.0.0.1:8080");
    }

    @Test
    void clientBuilder_rejectsNonsense_namingTheValue() {
        assertThatThrownBy(() -> AsyncHttpClient.builder().maxInFlight(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxInFlight 0 should be at least 1");
        assertThatThrownBy(() -> AsyncHttpClient.builder().maxInFlightPerHost(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxInFlightPerHost -1 should be at least 1");
        assertThatThrownBy(() -> AsyncHttpClient.builder().requestTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("requestTimeout PT0S should be positive");
        assertThatThrownBy(() -> AsyncHttpClient.builder().maxBodySize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxBodySize 0 should be between 1 and ");
        assertThatThrownBy(() -> AsyncHttpClient.builder().maxWaiting(-1))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("maxWaiting -1 should not be negative");
        assertThatThrownBy(() -> AsyncHttpClient.builder().connectTimeout(Duration.ofSeconds(-1)))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout PT-1S should be positive");
        assertThatThrownBy(() -> AsyncHttpClient.builder().slotWaitTimeout(Duration.ZERO))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("slotWaitTimeout PT0S should be positive");
        assertThatThrownBy(() -> AsyncHttpClient.builder().connectTimeout(null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("connectTimeout");
        assertThatThrownBy(() -> Request.builder("GET", "http://x/").timeout(Duration.ZERO))
                .isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("timeout PT0S should be positive");
        assertThatThrownBy(() -> Request.builder("GET", null))
                .isExactlyInstanceOf(NullPointerException.class).hasMessage("url");
    }

    @Test
    void retryAfter_exactlyTheLongestAllowed_isWaitedFor_aSecondMore_isNot() {
        RetryPolicy p = RetryPolicy.builder().maxRetryAfter(Duration.ofSeconds(5)).build();
        assertThat(p.delayFor(withRetryAfter("5"), 1, NOW)).hasValue(Duration.ofSeconds(5));
        assertThat(p.delayFor(withRetryAfter("6"), 1, NOW)).isEmpty();
    }

    private static Response withRetryAfter(String value) {
        return new Response(Request.get("http://x/"), 503,
                HttpHeaders.of(Map.of("Retry-After", List.of(value)), (k, v) -> true),
                URI.create("http://x/"), HttpClient.Version.HTTP_1_1, new byte[0], 1);
    }

    @Test
    void retryOnStatus_acceptsTheBoundsOfTheRange() {
        assertThat(RetryPolicy.builder().retryOnStatus(100, 599).build().statuses()).containsExactlyInAnyOrder(100, 599);
        assertThatThrownBy(() -> RetryPolicy.builder().retryOnStatus(99))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("status 99 should be between 100 and 599");
    }

    @Test
    void aPolicyOfOneAttempt_coversNoMethod() {
        RetryPolicy once = RetryPolicy.builder().maxAttempts(1).alsoRetry("POST").build();
        for (String m : List.of("GET", "PUT", "POST")) {
            assertThat(once.covers(m)).as(m).isFalse();
        }
        assertThat(once.toString()).isEqualTo("RetryPolicy[none]");
    }

    @Test
    void validate_acceptsPorts1To65535_only() {
        assertThat(AsyncHttpClient.validate(Request.get("http://h:65535/")).getPort()).isEqualTo(65535);
        assertThat(AsyncHttpClient.validate(Request.get("http://h:1/")).getPort()).isEqualTo(1);
        assertThatThrownBy(() -> AsyncHttpClient.validate(Request.get("http://h:65536/")))
                .isInstanceOf(InvalidUrlException.class)
                .hasMessage("GET http://h:65536/: port 65536 out of range: it must be from 1 to 65535");
        assertThatThrownBy(() -> AsyncHttpClient.validate(Request.get("http://h:0/")))
                .isInstanceOf(InvalidUrlException.class)
                .hasMessage("GET http://h:0/: port 0 out of range: it must be from 1 to 65535");
    }
}
