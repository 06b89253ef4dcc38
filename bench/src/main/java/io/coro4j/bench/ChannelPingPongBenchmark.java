package io.coro4j.bench;

import io.coro4j.Coro;
import io.coro4j.channel.Channel;
import io.coro4j.spi.Scheduler;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One round trip of a value between two tasks: the driver sends it to an echo task over one
 * rendezvous channel and receives the answer over another, so one operation is <b>two
 * hand-overs</b> (and two suspensions and two wake-ups of each side).
 *
 * <table>
 *   <tr><th>benchmark</th><th>measures</th><th>compare with</th></tr>
 *   <tr><td>{@code channels}, scheduler=threadpool</td><td>the round trip over two
 *       {@code Channel.rendezvous()}, on <b>one</b> carrier (an asyncio-style event loop)</td>
 *       <td>{@code synchronousQueues}</td></tr>
 *   <tr><td>{@code channels}, scheduler=loom</td><td>the same between two virtual threads</td>
 *       <td>{@code synchronousQueues}</td></tr>
 *   <tr><td>{@code synchronousQueues}</td><td>the same round trip between two virtual threads over
 *       two {@link SynchronousQueue}s</td><td>-</td></tr>
 *   <tr><td>{@code rawContinuations}</td><td>the floor of {@code channels} on one threadpool
 *       carrier: two bare {@code jdk.internal.vm.Continuation}s that a loop on the calling thread
 *       runs in turn, passing the value through a field; the same two suspensions and two
 *       resumptions per round trip, and nothing else (no channel, no task, no run queue)</td>
 *       <td>{@code synchronousQueues}</td></tr>
 *   <tr><td>{@code rawNestedContinuations}</td><td>the floor of a one-carrier scheduler that would
 *       run the task it wakes inside the waking one instead of from its loop (a symmetric
 *       transfer): the driver runs the echo continuation itself, which yields back to it, one
 *       resumption and one suspension per round trip. coro4j does not do this: see
 *       {@link #rawNestedContinuations()}</td>
 *       <td>{@code synchronousQueues}</td></tr>
 * </table>
 *
 * <p>Batched, as {@code GeneratorRoundTripBenchmark.rawVirtualThreadHandOver} is: JMH calls the
 * method on a platform thread, so each invocation enters once (a {@code Coro.run}, or one driving
 * virtual thread), starts the echo side, does {@value #BATCH} round trips and stops the echo side.
 * Entering, starting and stopping (tens of microseconds) cost a few nanoseconds per round trip, the
 * same on both sides of the comparison.
 *
 * <p>The scheduler has one carrier ({@link SchedulerState}); the virtual threads of the baseline and
 * of loom run on the JDK's scheduler, one carrier per processor unless the fork is given
 * {@code -jvmArgsPrepend -Djdk.virtualThreadScheduler.parallelism=1}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class ChannelPingPongBenchmark {

    /** Round trips per invocation. */
    static final int BATCH = 10_000;

    /** What the echo side gets to stop; never a value of {@link GeneratorRoundTripBenchmark#next}. */
    private static final Integer STOP = -1;

    @State(Scope.Thread)
    public static class ChannelState extends SchedulerState {
        Scheduler instance;

        @Override
        protected void setUp(Scheduler scheduler) {
            instance = scheduler;
        }
    }

    /** {@value #BATCH} round trips between the main task and an echo task over two rendezvous channels. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer channels(ChannelState s) {
        return Coro.run(s.instance, () -> {
            Channel<Integer> requests = Channel.rendezvous();
            Channel<Integer> replies = Channel.rendezvous();
            Coro.spawn(() -> {
                for (Integer x : requests) { // ends when requests is closed
                    replies.send(GeneratorRoundTripBenchmark.next(x));
                }
                return null;
            });
            Integer x = 0;
            for (int i = 0; i < BATCH; i++) {
                requests.send(x);
                x = replies.receive();
            }
            requests.close();
            return x;
        });
    }

    /**
     * Floor: {@value #BATCH} round trips between two bare continuations run in turn by a loop on the
     * calling thread, as a one-carrier scheduler runs two tasks; the value goes through a field.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer rawContinuations() {
        PingPong p = new PingPong();
        Object echo = RawContinuation.create(() -> {
            while (true) {
                p.value = GeneratorRoundTripBenchmark.next(p.value);
                RawContinuation.yield();
            }
        });
        Object driver = RawContinuation.create(() -> {
            Integer x = 0;
            for (int i = 0; i < BATCH; i++) {
                p.value = x;
                RawContinuation.yield(); // the loop runs the echo side, then this one again
                x = p.value;
            }
            p.done = true;
        });
        while (true) {
            RawContinuation.run(driver);
            if (p.done) {
                return p.value; // the echo continuation, suspended, is dropped
            }
            RawContinuation.run(echo);
        }
    }

    /**
     * Floor of a nested hand-over: {@value #BATCH} round trips where the driver continuation runs
     * the echo continuation inside itself, and the echo side yields back to it. Half the
     * switches of {@link #rawContinuations}, so half its time. A scheduler could only do this
     * where the parking task may stay mounted under the one it runs, which it cannot check
     * cheaply: inside a class initializer or under a native frame, the task cannot yield
     * (the park refuses), and a task run inside it would see the class half initialized by its
     * own thread; {@code Continuation.isPinned}, the JDK's check, is a stack walk and, on JDK 25,
     * answers pinned for every caller.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer rawNestedContinuations() {
        PingPong p = new PingPong();
        Object echo = RawContinuation.create(() -> {
            while (true) {
                p.value = GeneratorRoundTripBenchmark.next(p.value);
                RawContinuation.yield(); // back into the driver, which ran this one
            }
        });
        Object driver = RawContinuation.create(() -> {
            Integer x = 0;
            for (int i = 0; i < BATCH; i++) {
                p.value = x;
                RawContinuation.run(echo);
                x = p.value;
            }
        });
        RawContinuation.run(driver); // the echo continuation, suspended, is dropped
        return p.value;
    }

    /** What {@link #rawContinuations} passes between its two sides. */
    private static final class PingPong {
        Integer value;
        boolean done;
    }

    /** Baseline: {@value #BATCH} round trips between two virtual threads over two {@link SynchronousQueue}s. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public Integer synchronousQueues() throws Exception {
        return GeneratorRoundTripBenchmark.inVirtualThread(() -> {
            SynchronousQueue<Integer> requests = new SynchronousQueue<>();
            SynchronousQueue<Integer> replies = new SynchronousQueue<>();
            Thread echo = Thread.ofVirtual().start(() -> {
                try {
                    for (Integer x = requests.take(); !x.equals(STOP); x = requests.take()) {
                        replies.put(GeneratorRoundTripBenchmark.next(x));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Integer x = 0;
            for (int i = 0; i < BATCH; i++) {
                requests.put(x);
                x = replies.take();
            }
            requests.put(STOP);
            echo.join();
            return x;
        });
    }
}
