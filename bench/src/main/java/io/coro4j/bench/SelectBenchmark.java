package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Select;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a {@link Select} costs over a plain receive: {@code ChannelPingPongBenchmark.channels}'
 * round trip, with each reply received either by {@code replies.receive()} ({@code receive}, the
 * baseline) or by a select over the replies and a second channel that never gets an item
 * ({@code selectOfTwo}), so that the select registers in both channels, waits, wins on one and
 * withdraws from the other on every round trip. The clauses are made once, before the loop, as
 * a select in a loop would reuse them. One carrier, in {@code ChannelPingPongBenchmark}'s state. Not in the report.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class SelectBenchmark {

    /** Baseline: {@value ChannelPingPongBenchmark#BATCH} round trips, each reply taken by a receive. */
    @Benchmark
    @OperationsPerInvocation(ChannelPingPongBenchmark.BATCH)
    public Integer receive(ChannelPingPongBenchmark.ChannelState s) {
        return roundTrips(s, false);
    }

    /** {@value ChannelPingPongBenchmark#BATCH} round trips, each reply taken by a select of two receive clauses. */
    @Benchmark
    @OperationsPerInvocation(ChannelPingPongBenchmark.BATCH)
    public Integer selectOfTwo(ChannelPingPongBenchmark.ChannelState s) {
        return roundTrips(s, true);
    }

    private static Integer roundTrips(ChannelPingPongBenchmark.ChannelState s, boolean viaSelect) {
        return Coro.run(s.instance, () -> {
            Channel<Integer> requests = Channel.rendezvous();
            Channel<Integer> replies = Channel.rendezvous();
            Channel<Integer> idle = Channel.rendezvous();
            Coro.spawn(() -> {
                for (Integer x : requests) { // ends when requests is closed
                    replies.send(GeneratorRoundTripBenchmark.next(x));
                }
                return null;
            });
            Select.Clause<Integer> reply = replies.onReceive(v -> v);
            Select.Clause<Integer> never = idle.onReceive(v -> v);
            Integer x = 0;
            for (int i = 0; i < ChannelPingPongBenchmark.BATCH; i++) {
                requests.send(x);
                x = viaSelect ? Select.select(reply, never) : replies.receive();
            }
            requests.close();
            return x;
        });
    }
}
