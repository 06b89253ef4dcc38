package io.coro4j.scheduler.loom;

import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of {@link Channel}'s non-suspending operations ({@code trySend},
 * {@code tryReceive}, {@code close}, {@code isClosed}, {@code size}) on a bounded channel of
 * capacity 2, checked by Lincheck against the channel itself run sequentially. Lincheck drives
 * plain threads, not tasks, so the suspending operations are covered by {@code ChannelTck}'s
 * stress tests instead.
 */
@Param(name = "item", gen = IntGen.class, conf = "1:9")
public class ChannelLincheckTest {

    private final Channel<Integer> channel = Channel.bounded(2);

    @Operation(params = "item")
    public Object trySend(int item) {
        try {
            return channel.trySend(item);
        } catch (ClosedChannelException e) {
            return "closed";
        }
    }

    @Operation
    public Object tryReceive() {
        try {
            return channel.tryReceive();
        } catch (ClosedChannelException e) {
            return "closed";
        }
    }

    @Operation
    public void close() {
        channel.close();
    }

    @Operation
    public boolean isClosed() {
        return channel.isClosed();
    }

    @Operation
    public int size() {
        return channel.size();
    }

    @Test
    void stress() {
        new StressOptions().iterations(10).invocationsPerIteration(1_000).threads(3).actorsPerThread(3)
                .check(ChannelLincheckTest.class);
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions().iterations(6).invocationsPerIteration(200).threads(3).actorsPerThread(3)
                .check(ChannelLincheckTest.class);
    }
}
