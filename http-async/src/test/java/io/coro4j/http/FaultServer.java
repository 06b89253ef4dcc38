package io.coro4j.http;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw HTTP/1.1 server on 127.0.0.1 that misbehaves on request, and counts its connections: how
 * many are open now, so that a test can check that the client closed every one it aborted.
 * One virtual thread per connection. The path picks the behaviour:
 * <ul>
 *   <li>{@code /ok}: 200 "ok", keep-alive;</li>
 *   <li>{@code /reset}: reads the request, then resets the connection (RST);</li>
 *   <li>{@code /close}: reads the request, then closes without answering;</li>
 *   <li>{@code /garbage}: answers with something that is not HTTP;</li>
 *   <li>{@code /stall}: never answers; waits for the client to close;</li>
 *   <li>{@code /stall-body}: headers promising 100 bytes, 10 of them, then waits for the client to close;</li>
 *   <li>{@code /short}: headers promising 100 bytes, 10 of them, then closes;</li>
 *   <li>{@code /bad-chunked}: a chunked body with a chunk size that is not hex, then waits;</li>
 *   <li>{@code /reset-when-stalled?n=N}: waits until N connections are stalled (at most 10 s), then resets.</li>
 * </ul>
 */
final class FaultServer implements AutoCloseable {

    private final ServerSocket server;
    private final Thread acceptor;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicInteger stalled = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();
    private volatile boolean closed;

    FaultServer() throws IOException {
        server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        acceptor = Thread.ofPlatform().daemon().name("fault-server-accept").start(this::acceptLoop);
    }

    String url(String path) {
        return "http://127.0.0.1:" + server.getLocalPort() + path;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            open.incrementAndGet();
            sockets.add(s);
            Thread.ofVirtual().name("fault-server-conn").start(() -> serve(s));
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                requests.incrementAndGet();
                String path = head.split(" ", 3)[1];
                String query = path.contains("?") ? path.substring(path.indexOf('?') + 1) : "";
                path = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
                switch (path) {
                    case "/ok" -> {
                        write(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok");
                        continue; // keep-alive
                    }
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
                    case "/short" -> {
                        write(out, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
                        return;
                    }
                    case "/bad-chunked" -> {
                        write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n");
                        stall(in);
                        return;
                    }
                    case "/reset-when-stalled" -> {
                        int n = Integer.parseInt(query.substring(query.indexOf('=') + 1));
                        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                        while (stalled.get() < n && System.nanoTime() < deadline) {
                            Thread.sleep(5);
                        }
                        reset(s);
                        return;
                    }
                    default -> {
                        write(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client went away: that is what the counters measure
        } finally {
            sockets.remove(s);
            open.decrementAndGet();
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

    private static void drain(InputStream in) throws IOException {
        byte[] b = new byte[1024];
        while (in.read(b) >= 0) {
            // discard
        }
    }

    private static void reset(Socket s) throws SocketException {
        s.setSoLinger(true, 0); // close() now sends RST
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** The request line and headers, or null at EOF. Requests here have no bodies. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            b.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) ? state + 1 : (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
        }
        return b.toString(StandardCharsets.ISO_8859_1);
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

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }
}
