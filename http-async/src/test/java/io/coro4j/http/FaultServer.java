package io.coro4j.http;

import io.coro4j.http.testing.RawHttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw HTTP/1.1 server on 127.0.0.1 that misbehaves on request, and counts its connections: how
 * many are open now, so that a test can check that the client closed every one it aborted.
 * The path picks the behaviour:
 * <ul>
 *   <li>{@code /ok}: 200 "ok", keep-alive;</li>
 *   <li>{@code /reset}: reads the request, then resets the connection (RST);</li>
 *   <li>{@code /close}: reads the request, then closes without answering;</li>
 *   <li>{@code /garbage}: answers with something that is not HTTP;</li>
 *   <li>{@code /stall}: never answers; waits for the client to close;</li>
 *   <li>{@code /stall-body}: headers promising 100 bytes, 10 of them, then waits for the client to close;</li>
 *   <li>{@code /short}: headers promising 100 bytes, 10 of them, then closes;</li>
 *   <li>{@code /short-huge}: headers promising 1 GiB, 10 bytes of it, then closes;</li>
 *   <li>{@code /bad-chunked}: a chunked body with a chunk size that is not hex, then waits;</li>
 *   <li>{@code /bad-length}: headers with a {@code Content-Length} that is not a number, then waits;</li>
 *   <li>{@code /reset-when-stalled?n=N}: waits until N connections are stalled (at most 10 s), then resets;</li>
 *   <li>{@code /answer-early}: answers 413 at once, without reading the request's body, waits 1 s for
 *       the client to read the answer, and closes.</li>
 * </ul>
 */
final class FaultServer extends RawHttpServer {

    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger stalled = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();

    FaultServer() throws IOException {
        super("fault-server");
        start();
    }

    @Override
    protected void accepted(Socket s) {
        accepted.incrementAndGet();
        open.incrementAndGet();
    }

    @Override
    protected void ended(Socket s) {
        open.decrementAndGet(); // the client went away: that is what the counters measure
    }

    @Override
    protected void serve(Socket s, InputStream in, OutputStream out) throws IOException, InterruptedException {
        String head;
        while ((head = readHead(in)) != null) {
            requests.incrementAndGet();
            switch (path(head)) {
                case "/ok" -> write(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
                case "/reset" -> {
                    reset(s);
                    return;
                }
                case "/close" -> {
                    return;
                }
                case "/garbage" -> {
                    write(out, "HELLO THERE\r\n\r\n");
                    drain(in);
                    return;
                }
                case "/stall" -> {
                    stall(in);
                    return;
                }
                case "/stall-body" -> {
                    write(out, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
                    stall(in);
                    return;
                }
                case "/answer-early" -> {
                    write(out, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    Thread.sleep(1000);
                    return;
                }
                case "/short" -> {
                    write(out, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
                    return;
                }
                case "/short-huge" -> {
                    write(out, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n0123456789");
                    return;
                }
                case "/bad-chunked" -> {
                    write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n");
                    stall(in);
                    return;
                }
                case "/bad-length" -> {
                    write(out, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello");
                    stall(in);
                    return;
                }
                case "/reset-when-stalled" -> {
                    int n = intParameter(head);
                    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    while (stalled.get() < n && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                    reset(s);
                    return;
                }
                default -> write(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"); // keep-alive
            }
        }
    }

    /** Waits until the client closes the connection (EOF or reset). */
    private void stall(InputStream in) throws IOException {
        stalled.incrementAndGet();
        try {
            drain(in);
        } finally {
            stalled.decrementAndGet();
        }
    }

    /** Waits up to {@code timeout} for the number of open connections to become {@code n}; returns the last count. */
    int awaitOpen(int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (open.get() != n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return open.get();
    }

    void resetCounters() {
        accepted.set(0);
        requests.set(0);
    }
}
