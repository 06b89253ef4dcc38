package io.coro4j.bench;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The helpers the benchmarks share: a failed invocation must fail the benchmark, not count as done. */
class HarnessTest {

    @Test
    void an_error_in_the_driving_virtual_thread_fails_the_invocation() {
        // An Error (OutOfMemoryError in a crowd of sleepers, StackOverflowError, an assertion) must
        // reach JMH, which then fails the benchmark; returning null instead measures work not done.
        assertThatThrownBy(() -> GeneratorRoundTripBenchmark.inVirtualThread(() -> {
            throw new OutOfMemoryError("simulated: unable to create a virtual thread");
        })).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("simulated");
    }
}
