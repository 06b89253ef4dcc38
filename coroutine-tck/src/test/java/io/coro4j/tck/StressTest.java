package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class StressTest {

    @AfterEach
    void clear() {
        System.clearProperty(Stress.PROPERTY);
        System.clearProperty(Stress.RUN_FACTOR);
    }

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
