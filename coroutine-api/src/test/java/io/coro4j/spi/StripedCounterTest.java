package io.coro4j.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StripedCounterTest {

    @Test
    void concurrentAddsFromPlatformAndVirtualThreadsAreAllCounted() throws Exception {
        StripedCounter counter = new StripedCounter();
        int threads = 8;
        int adds = 200_000;
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread.Builder b = t % 2 == 0 ? Thread.ofPlatform() : Thread.ofVirtual();
            all.add(b.start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                for (int i = 0; i < adds; i++) {
                    counter.increment();
                }
                counter.add(3);
            }));
        }
        start.countDown();
        for (Thread t : all) {
            t.join();
        }
        assertThat(counter.sum()).isEqualTo((long) threads * (adds + 3));
        assertThat(counter).hasToString(Long.toString((long) threads * (adds + 3)));
    }

    @Test
    void startsAtZero() {
        assertThat(new StripedCounter().sum()).isZero();
    }
}
