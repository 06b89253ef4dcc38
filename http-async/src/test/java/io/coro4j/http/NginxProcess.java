package io.coro4j.http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * An nginx of the tests' own: its config, files and logs in one temporary folder, listening on
 * 127.0.0.1 only, one worker, in the foreground; {@link #close()} stops it and deletes the folder.
 * Used only where nginx is installed; {@link #find()} says whether it is.
 */
public final class NginxProcess implements AutoCloseable {

    private final Process process;
    private final Path dir;
    private final int port;

    private NginxProcess(Process process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
    }

    /** The nginx binary, or null. */
    public static Path find() {
        return Stream.of("/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx")
                .map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** What {@code nginx -v} says, e.g. {@code nginx version: nginx/1.22.1}. */
    public static String version(Path nginx) throws IOException, InterruptedException {
        Process v = new ProcessBuilder(nginx.toString(), "-v").redirectErrorStream(true).start();
        String version = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        v.waitFor();
        return version;
    }

    /** A new temporary folder for {@link #start}, with {@code html/}, the root to put served files in. */
    public static Path newFolder(String prefix) throws IOException {
        Path dir = Files.createTempDirectory(prefix);
        Files.createDirectories(dir.resolve("html"));
        return dir;
    }

    /**
     * Starts nginx in {@code dir} (made by {@link #newFolder}) and waits until it accepts
     * connections (10 s at most).
     *
     * @param http the directives of the {@code http} block beyond logging and temporary paths,
     *     among them the {@code server}; {@code %1$s} stands for the folder, {@code %2$d} for the port
     * @throws IllegalStateException with nginx's output and error log if it did not start
     */
    public static NginxProcess start(Path nginx, Path dir, int workerConnections, String http) throws Exception {
        Files.createDirectories(dir.resolve("logs"));
        Files.createDirectories(dir.resolve("tmp"));
        // Workers may run as another user: let them read the folder.
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
        String conf = user + """
                worker_processes 1;
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/logs/error.log warn;
                events { worker_connections %3$d; }
                http {
                    access_log off;
                    client_body_temp_path %1$s/tmp/body;
                    proxy_temp_path %1$s/tmp/proxy;
                    fastcgi_temp_path %1$s/tmp/fastcgi;
                    uwsgi_temp_path %1$s/tmp/uwsgi;
                    scgi_temp_path %1$s/tmp/scgi;
                %4$s
                }
                """.formatted(dir, port, workerConnections, http.formatted(dir, port).indent(4).stripTrailing());
        Path confFile = dir.resolve("nginx.conf");
        Files.writeString(confFile, conf);
        Process p = new ProcessBuilder(nginx.toString(), "-p", dir.toString(), "-c", confFile.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("logs/stdout.log").toFile()).start();
        NginxProcess n = new NginxProcess(p, dir, port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return n;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    String log = Files.readString(dir.resolve("logs/stdout.log"))
                            + (Files.exists(dir.resolve("logs/error.log")) ? Files.readString(dir.resolve("logs/error.log")) : "");
                    n.close();
                    throw new IllegalStateException("nginx did not start: " + log);
                }
                Thread.sleep(20);
            }
        }
    }

    /** The port it listens on, on 127.0.0.1. */
    public int port() {
        return port;
    }

    /** Stops nginx (SIGTERM: its fast shutdown; killed after 10 s) and deletes its folder. */
    @Override
    public void close() throws Exception {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
