package io.coro4j.metrics;

import io.coro4j.http.testing.RawHttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw HTTP/1.1 server on 127.0.0.1 for the metrics tests (keep-alive; requests have no bodies).
 * The path picks the answer:
 * <ul>
 *   <li>{@code /ok}: 200;</li>
 *   <li>{@code /status?code=N}: status N, empty body;</li>
 *   <li>{@code /gate}: holds the request ({@link #held} counts it) until {@link #openGate()}, then 200;</li>
 *   <li>{@code /stall}: never answers; waits for the client to close;</li>
 *   <li>{@code /reset}: resets the connection (RST).</li>
 * </ul>
 */
final class LoopbackServer extends RawHttpServer {

    /** Requests held at {@code /gate} or {@code /stall} now. */
    final AtomicInteger held = new AtomicInteger();
    private volatile CountDownLatch gate = new CountDownLatch(0);

    LoopbackServer() throws IOException {
        super("loopback");
        start();
    }

    /** The client's host key for this server. */
    String host() {
        return url("");
    }

    /** From now on, {@code /gate} holds requests until {@link #openGate()} (or 20 s). */
    void closeGate() {
        gate = new CountDownLatch(1);
    }

    void openGate() {
        gate.countDown();
    }

    @Override
    protected void serve(Socket s, InputStream in, OutputStream out) throws IOException, InterruptedException {
        String head;
        while ((head = readHead(in)) != null) {
            switch (path(head)) {
                case "/ok" -> respond(out, 200);
                case "/status" -> respond(out, intParameter(head));
                case "/gate" -> {
                    held.incrementAndGet();
                    try {
                        gate.await(20, TimeUnit.SECONDS);
                    } finally {
                        held.decrementAndGet();
                    }
                    respond(out, 200);
                }
                case "/stall" -> {
                    held.incrementAndGet();
                    try {
                        drain(in); // until the client closes
                    } finally {
                        held.decrementAndGet();
                    }
                    return;
                }
                case "/reset" -> {
                    reset(s);
                    return;
                }
                default -> respond(out, 404);
            }
        }
    }

    private static void respond(OutputStream out, int status) throws IOException {
        write(out, "HTTP/1.1 " + status + " X\r\nContent-Length: 0\r\n\r\n");
    }

    @Override
    public void close() throws IOException {
        openGate();
        super.close();
    }
}
