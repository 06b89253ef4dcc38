package io.coro4j.http.testing;

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

/**
 * A raw HTTP/1.1 server on 127.0.0.1 for tests that need answers no real server gives on request
 * (resets, stalls, garbage, held requests). It accepts on a daemon platform thread and serves each
 * connection on a virtual thread of its own; a subclass reads requests with {@link #readHead} and
 * answers them in {@link #serve}. Requests are expected to have no bodies. {@link #close()} closes
 * the listening socket and every open connection. Shared by the tests of http-async and
 * coroutine-metrics (the http-async test jar).
 */
public abstract class RawHttpServer implements AutoCloseable {

    private final ServerSocket server;
    private final String name;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** Binds an ephemeral port on 127.0.0.1; nothing is accepted before {@link #start()}. */
    protected RawHttpServer(String name) throws IOException {
        this.name = name;
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    }

    /**
     * Starts accepting. A separate step, so that a subclass calls it at the end of its constructor,
     * once the fields its callbacks use are set.
     */
    protected final void start() {
        Thread.ofPlatform().daemon().name(name + "-accept").start(this::acceptLoop);
    }

    /** {@code http://127.0.0.1:port} followed by {@code path}. */
    public String url(String path) {
        return "http://127.0.0.1:" + server.getLocalPort() + path;
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            sockets.add(s);
            accepted(s);
            Thread.ofVirtual().name(name + "-conn").start(() -> {
                try (s) {
                    serve(s, new BufferedInputStream(s.getInputStream()), s.getOutputStream());
                } catch (IOException | InterruptedException e) {
                    // the client went away, or the server closed the connection
                } finally {
                    sockets.remove(s);
                    ended(s);
                }
            });
        }
    }

    /** Called on the accepting thread for each new connection, before it is served. */
    protected void accepted(Socket s) {}

    /** Called on the connection's thread once it has been closed. */
    protected void ended(Socket s) {}

    /**
     * Serves one connection until it should close: returning closes it (after {@link #reset} it
     * closes with a reset).
     */
    protected abstract void serve(Socket s, InputStream in, OutputStream out) throws IOException, InterruptedException;

    /** Makes the coming close of {@code s} send a reset (RST) instead of a FIN. */
    protected static void reset(Socket s) throws IOException {
        s.setSoLinger(true, 0);
    }

    protected static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** Reads and discards until the client closes the connection (EOF or reset). */
    protected static void drain(InputStream in) throws IOException {
        in.transferTo(OutputStream.nullOutputStream());
    }

    /** The request line and headers, or null at EOF. */
    protected static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            b.write(c);
            boolean advances = c == '\r' ? state == 0 || state == 2 : c == '\n' && (state == 1 || state == 3);
            state = advances ? state + 1 : 0; // \r\n\r\n ends the head
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    /** The path of a request head, without its query. */
    protected static String path(String head) {
        String target = head.split(" ", 3)[1];
        int q = target.indexOf('?');
        return q < 0 ? target : target.substring(0, q);
    }

    /** The integer value of the first query parameter of a request head ({@code ?n=3}: 3). */
    protected static int intParameter(String head) {
        String target = head.split(" ", 3)[1];
        return Integer.parseInt(target.substring(target.indexOf('=') + 1));
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
