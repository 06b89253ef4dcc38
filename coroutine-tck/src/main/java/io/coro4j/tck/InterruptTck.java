package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Thread interrupts at the edges of coro4j, the same on every scheduler: what the JDK's blocking
 * calls answer to the interrupt that a cancellation or timeout sends a {@link Coro#blocking} call.
 */
public abstract class InterruptTck extends SchedulerTck {

    /**
     * A {@link Coro#blocking} call runs on a virtual thread, where the JDK answers an interrupt
     * during a {@link Socket} connect, read or write by closing the socket and throwing a
     * {@link SocketException} (its {@code getInputStream} javadoc), not an
     * {@link java.nio.channels.ClosedByInterruptException}. That is the call's plain answer to the
     * interrupt, which {@code withTimeoutOrNull} does not report as a failure (as it reports none
     * for an {@link InterruptedException}): the timeout returns null and nothing goes to the
     * uncaught-exception handler.
     */
    @Test
    void aSocketReadsAnswerToTheInterruptOfAnExpiredWithTimeoutOrNullIsNoFailure() throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((th, e) -> reported.add(e));
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            // A timeout that expires before the read has begun (the task descheduled on a loaded
            // machine) tests less: such a run is tried again.
            AtomicReference<Throwable> readFailed = new AtomicReference<>();
            Object result = "not run";
            for (int attempt = 0; attempt < 50 && readFailed.get() == null; attempt++) {
                reported.clear();
                result = runTask(Duration.ofSeconds(30), () -> Coro.withTimeoutOrNull(Duration.ofMillis(100),
                        () -> Coro.blocking(() -> {
                            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                                InputStream in = socket.getInputStream();
                                try {
                                    return in.read(); // the server never writes
                                } catch (SocketException e) {
                                    readFailed.set(e);
                                    throw e;
                                }
                            }
                        })));
            }
            assertThat(readFailed.get()).as("a read interrupted in one of 50 runs").isNotNull()
                    .isExactlyInstanceOf(SocketException.class);
            assertThat(result).isNull();
            assertThat(reported).as("reported to the uncaught-exception handler").isEmpty();
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }
}
