package io.coro4j.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;

/** The outcome mapping, and how the client calls an observer: timing, outcomes, a throwing observer reported once. */
class ObservationTest {

    @Test
    void statuses_mapToTheirClass_andOthersToUNKNOWN() {
        assertThat(RequestOutcome.ofStatus(101)).isEqualTo(RequestOutcome.INFORMATIONAL);
        assertThat(RequestOutcome.ofStatus(200)).isEqualTo(RequestOutcome.SUCCESS);
        assertThat(RequestOutcome.ofStatus(299)).isEqualTo(RequestOutcome.SUCCESS);
        assertThat(RequestOutcome.ofStatus(304)).isEqualTo(RequestOutcome.REDIRECTION);
        assertThat(RequestOutcome.ofStatus(404)).isEqualTo(RequestOutcome.CLIENT_ERROR);
        assertThat(RequestOutcome.ofStatus(503)).isEqualTo(RequestOutcome.SERVER_ERROR);
        assertThat(RequestOutcome.ofStatus(-1)).isEqualTo(RequestOutcome.UNKNOWN);
        assertThat(RequestOutcome.ofStatus(99)).isEqualTo(RequestOutcome.UNKNOWN);
        assertThat(RequestOutcome.ofStatus(600)).isEqualTo(RequestOutcome.UNKNOWN);
    }

    @Test
    void failures_mapToTheReasonThereWasNoResponse() {
        Duration d = Duration.ofSeconds(1);
        assertThat(RequestOutcome.ofFailure(new RequestTimeoutException("GET", "u", d, null))).isEqualTo(RequestOutcome.TIMEOUT);
        assertThat(RequestOutcome.ofFailure(new ConnectTimeoutException("GET", "u", d, null))).isEqualTo(RequestOutcome.TIMEOUT);
        assertThat(RequestOutcome.ofFailure(new SlotWaitTimeoutException("GET", "u", d, "limits"))).isEqualTo(RequestOutcome.SLOT_TIMEOUT);
        assertThat(RequestOutcome.ofFailure(new HttpRejectedException("GET", "u", 0))).isEqualTo(RequestOutcome.REJECTED);
        assertThat(RequestOutcome.ofFailure(new HttpIoException("GET", "u", "reset", null))).isEqualTo(RequestOutcome.IO_ERROR);
        assertThat(RequestOutcome.ofFailure(new HttpConnectException("GET", "u", "refused", null))).isEqualTo(RequestOutcome.IO_ERROR);
        assertThat(RequestOutcome.ofFailure(new CancellationException())).isEqualTo(RequestOutcome.CANCELLED);
        assertThat(RequestOutcome.ofFailure(new IllegalStateException())).isEqualTo(RequestOutcome.UNKNOWN);
    }

    @Test
    void eventsAreTimedAndClassified() {
        List<String> events = new ArrayList<>();
        Observation obs = new Observation(new HttpClientObserver() {
            @Override
            public void slotAcquired(String host, long waitNanos) {
                events.add("slot " + host + " " + (waitNanos >= 0));
            }

            @Override
            public void requestFinished(String host, String method, int status, RequestOutcome outcome, long durationNanos) {
                events.add(host + " " + method + " " + status + " " + outcome + " " + (durationNanos >= 0));
            }
        });
        long start = obs.slotAcquired("http://h:80", System.nanoTime());
        obs.finished("http://h:80", "GET", 503, start);
        obs.failed("http://h:80", "PUT", new CancellationException(), start);
        obs.queued("http://h:80"); // the default method: nothing
        assertThat(events).containsExactly("slot http://h:80 true", "http://h:80 GET 503 SERVER_ERROR true",
                "http://h:80 PUT -1 CANCELLED true");
    }

    @Test
    void aThrowingObserver_isSwallowed_andReportedOnceToTheThreadsHandler() {
        Observation obs = new Observation(new HttpClientObserver() {
            int n;

            @Override
            public void requestQueued(String host) {
                throw new IllegalStateException("broken " + ++n);
            }

            @Override
            public void slotAcquired(String host, long waitNanos) {
                throw new StackOverflowError("broken too");
            }
        });
        Thread me = Thread.currentThread();
        Thread.UncaughtExceptionHandler before = me.getUncaughtExceptionHandler();
        List<Throwable> reported = new ArrayList<>();
        me.setUncaughtExceptionHandler((t, e) -> reported.add(e));
        try {
            obs.queued("h");
            obs.queued("h");
            obs.slotAcquired("h", System.nanoTime());
            obs.queued("h");
        } finally {
            me.setUncaughtExceptionHandler(before);
        }
        assertThat(reported).singleElement().satisfies(e -> assertThat(e).hasMessage("broken 1"));
    }
}
