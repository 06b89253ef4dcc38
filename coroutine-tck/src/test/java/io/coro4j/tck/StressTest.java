package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(ClearedStressProperties.class)
class StressTest {

    @Test
    void sizesAreTheBaseWithoutProperties() {
        assertThat(Stress.scaled(1_000)).isEqualTo(1_000);
    }

    @Test
    void theUsersMultiplierScalesARunsFactorInsteadOfReplacingIt() {
        System.setProperty(Stress.RUN_FACTOR, "0.05");
        assertThat(Stress.scaled(1_000_000)).isEqualTo(50_000);
        assertThat(Stress.scaled(3)).as("never below one").isEqualTo(1);
        System.setProperty(Stress.PROPERTY, "10");
        assertThat(Stress.scaled(1_000_000)).isEqualTo(500_000);
    }

    @Test
    void aLargerMultiplierRunsMoreRoundsOfTheSameCrowd_aSmallerOneASmallerCrowd() {
        assertThat(Stress.crowd(4_000)).isEqualTo(4_000);
        assertThat(Stress.rounds(4_000)).isEqualTo(1);
        System.setProperty(Stress.PROPERTY, "2.5");
        assertThat(Stress.crowd(4_000)).isEqualTo(4_000);
        assertThat(Stress.rounds(4_000)).as("10,000 in crowds of 4,000").isEqualTo(3);
        System.setProperty(Stress.PROPERTY, "1");
        System.setProperty(Stress.RUN_FACTOR, "0.05");
        assertThat(Stress.crowd(4_000)).isEqualTo(200);
        assertThat(Stress.rounds(4_000)).isEqualTo(1);
    }

    @Test
    void badValuesAreRejectedNamingTheProperty() {
        System.setProperty(Stress.PROPERTY, "ten");
        assertThatThrownBy(() -> Stress.scaled(1)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("coro4j.stress.multiplier=ten is not a number");
        System.setProperty(Stress.PROPERTY, "1");
        System.setProperty(Stress.RUN_FACTOR, "0");
        assertThatThrownBy(() -> Stress.scaled(1)).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("coro4j.stress.runFactor=0 should be positive");
    }
}
