package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(ClearedStressProperties.class)
class StressTimeoutTest {

    @AfterEach
    void clearTheInterruptStatus() {
        Thread.interrupted();
    }

    @Test
    void theLimitIsTheBaseTimesTheMultiplier_neverLessThanTheBase() {
        StressTimeout timeout = new StressTimeout();
        assertThat(timeout.limit()).isEqualTo(Duration.ofSeconds(180));
        System.setProperty(Stress.PROPERTY, "10");
        assertThat(timeout.limit()).isEqualTo(Duration.ofSeconds(1_800));
        System.setProperty(Stress.RUN_FACTOR, "0.05");
        assertThat(timeout.limit()).as("10 x 0.05").isEqualTo(Duration.ofSeconds(180));
        System.setProperty(Stress.PROPERTY, "1");
        assertThat(timeout.limit()).as("a run factor below one does not shorten it").isEqualTo(Duration.ofSeconds(180));
    }

    @Test
    void aTestThatEndsInTimeGivesItsOutcome_withoutAnInterrupt() throws Throwable {
        StressTimeout timeout = new StressTimeout(Duration.ofSeconds(30));
        assertThat(timeout.run(() -> 42, "quick()")).isEqualTo(42);
        assertThat(Thread.currentThread().isInterrupted()).isFalse();
        IllegalStateException failure = new IllegalStateException("its own failure");
        assertThatThrownBy(() -> timeout.run(() -> {
            throw failure;
        }, "failing()")).isSameAs(failure);
    }

    @Test
    void aTestThatRunsPastItsLimitIsInterruptedAndFailsSayingWhereItWas() {
        StressTimeout timeout = new StressTimeout(Duration.ofMillis(200));
        AtomicBoolean interrupted = new AtomicBoolean();
        assertThatThrownBy(() -> timeout.run(() -> {
            try {
                Thread.sleep(Duration.ofSeconds(60));
            } catch (InterruptedException e) {
                interrupted.set(true);
            }
            return null;
        }, "sleepy()"))
                .isExactlyInstanceOf(TimeoutException.class)
                .hasMessage("sleepy() timed out after 200 ms (200 ms times the stress multiplier,"
                        + " -Dcoro4j.stress.multiplier); the stack trace is where its thread was then")
                .satisfies(e -> assertThat(e.getStackTrace()).anySatisfy(frame ->
                        assertThat(frame.getMethodName()).isEqualTo("sleep")));
        assertThat(interrupted).isTrue();
        assertThat(Thread.currentThread().isInterrupted()).as("the alarm's interrupt is cleared").isFalse();
    }

    @Test
    void aTimedOutTestsOwnFailureIsSuppressedOnTheTimeout() {
        StressTimeout timeout = new StressTimeout(Duration.ofMillis(100));
        assertThatThrownBy(() -> timeout.run(() -> {
            Thread.sleep(Duration.ofSeconds(60)); // the interrupt escapes
            return null;
        }, "sleepy()"))
                .isExactlyInstanceOf(TimeoutException.class)
                .satisfies(e -> assertThat(e.getSuppressed()).singleElement()
                        .isExactlyInstanceOf(InterruptedException.class));
    }
}
