package io.coro4j.scheduler.loom;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The spin limits a waiter goes through as its spins pay off or not. */
class AdaptiveSpinTest {

    @Test
    void spinsThatDoNotPayOffShrinkToNoneAndAreRetriedInFullOnceIn256Waits() {
        int state = AdaptiveSpin.SPINNING;
        List<Integer> limits = new ArrayList<>();
        for (int wait = 0; wait < 5 + AdaptiveSpin.RETRY_SPINNING_AFTER; wait++) {
            state = AdaptiveSpin.beforeWait(state);
            limits.add(AdaptiveSpin.limit(state));
            state = AdaptiveSpin.afterWait(state, false);
        }
        assertThat(limits.subList(0, 5)).containsExactly(128, 32, 8, 2, 0);
        // wait 4 is the first since spinning stopped; the 256th (wait 259) spins in full again
        assertThat(limits.subList(5, 3 + AdaptiveSpin.RETRY_SPINNING_AFTER)).containsOnly(0);
        assertThat(limits.get(3 + AdaptiveSpin.RETRY_SPINNING_AFTER)).isEqualTo(128);
    }

    @Test
    void aSpinThatPaysOffRestoresTheFullSpin() {
        int state = AdaptiveSpin.afterWait(AdaptiveSpin.beforeWait(AdaptiveSpin.SPINNING), false); // 32
        state = AdaptiveSpin.afterWait(AdaptiveSpin.beforeWait(state), true);
        assertThat(AdaptiveSpin.limit(AdaptiveSpin.beforeWait(state))).isEqualTo(AdaptiveSpin.MAX_SPINS);
    }

    @Test
    void aWaiterThatStartsWithoutSpinningFirstSpinsAtItsRetry() {
        int state = AdaptiveSpin.NOT_SPINNING;
        int firstSpin = -1;
        for (int wait = 1; wait <= 1_000 && firstSpin < 0; wait++) {
            state = AdaptiveSpin.beforeWait(state);
            if (AdaptiveSpin.limit(state) > 0) {
                firstSpin = wait;
            }
            state = AdaptiveSpin.afterWait(state, false);
        }
        assertThat(firstSpin).isEqualTo(AdaptiveSpin.RETRY_SPINNING_AFTER);
    }
}
