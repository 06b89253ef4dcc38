package io.coro4j.metrics;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw HTTP/1.1 server on 127.0.0.1 for the metrics tests (one virtual thread per connection,
 * keep-alive; requests have no bodies). The path picks the answer:
 * <ul>
 *   <li>{@code /ok}: 200;</li>
 *   <li>{@code /status?code=N}: status N, empty body;</li>
 *   <li>{@code /gate}: holds the request ({@link #held} counts it) until {@link #openGate()}, then 200;</li>
 *   <li>{@code /stall}: never answers; waits for the client to close;</li>
 *   <li>{@code /reset}: resets the connection (RST).</li>
 * </ul>
 */
final class LoopbackServer implements AutoCloseable {

    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    /** Requests held at {@code /gate} or {@code /stall} now. */
    final AtomicInteger held = new AtomicInteger();
    private volatile CountDownLatch gate = new CountDownLatch(0);
    private volatile boolean closed;

    LoopbackServer() throws IOException {
        server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("loopback-accept").start(this::acceptLoop);
    }

    String url(String path) {
        return "http://127.0.0.1:" + server.getLocalPort() + path;
    }

    /** The client's host key for this server. */
    String host() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** From now on, {@code /gate} holds requests until {@link #openGate()} (or 20 s). */
    void closeGate() {
        gate = new CountDownLatch(1);
    }

    void openGate() {
        gate.countDown();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            sockets.add(s);
            Thread.ofVirtual().name("loopback-conn").start(() -> serve(s));
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            String head;
            while ((head = readHead(in)) != null) {
                String target = head.split(" ", 3)[1];
                int q = target.indexOf('?');
                String path = q < 0 ? target : target.substring(0, q);
                String query = q < 0 ? "" : target.substring(q + 1);
                switch (path) {
                    case "/ok" -> respond(out, 200);
                    case "/status" -> respond(out, Integer.parseInt(query.substring(query.indexOf('=') + 1)));
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
                            in.transferTo(OutputStream.nullOutputStream()); // until the client closes
                        } finally {
                            held.decrementAndGet();
                        }
                        return;
                    }
                    case "/reset" -> {
                        s.setSoLinger(true, 0); // close() now sends RST
                        return;
                    }
                    default -> respond(out, 404);
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client went away
        } finally {
            sockets.remove(s);
        }
    }

    private static void respond(OutputStream out, int status) throws IOException {
        out.write(("HTTP/1.1 " + status + " X\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** The request line and headers, or null at EOF. */
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

    @Override
    public void close() throws IOException {
        closed = true;
        openGate();
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
