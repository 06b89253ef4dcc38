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
import java.security.KeyStore;
import java.util.Base64;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * nginx serving HTTP/2 over TLS on 127.0.0.1, with the tests' self-signed certificate, for the
 * one thing the JDK's own servers cannot show: an HTTP/2 exchange. Used only where nginx is
 * installed; {@link #find()} says whether it is.
 */
final class TlsNginx implements AutoCloseable {

    private final Process process;
    private final Path dir;
    final int port;

    private TlsNginx(Process process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
    }

    /** The nginx binary, or null. */
    static Path find() {
        return Stream.of("/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx")
                .map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** Starts nginx serving {@code /1k} (1024 bytes) over HTTP/2 + TLS with the key and certificate in {@code keys}. */
    static TlsNginx start(Path nginx, KeyStore keys, char[] password) throws Exception {
        Path dir = Files.createTempDirectory("coro4j-http-nginx");
        Path html = Files.createDirectories(dir.resolve("html"));
        Files.write(html.resolve("1k"), TestHttpServer.pattern(1024));
        Files.createDirectories(dir.resolve("tmp"));
        Files.writeString(dir.resolve("cert.pem"), pem("CERTIFICATE", keys.getCertificate("test").getEncoded()));
        Files.writeString(dir.resolve("key.pem"), pem("PRIVATE KEY", keys.getKey("test", password).getEncoded()));
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
        Files.writeString(dir.resolve("nginx.conf"), user + """
                worker_processes 1;
                daemon off;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log warn;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    client_body_temp_path %1$s/tmp/body;
                    proxy_temp_path %1$s/tmp/proxy;
                    fastcgi_temp_path %1$s/tmp/fastcgi;
                    uwsgi_temp_path %1$s/tmp/uwsgi;
                    scgi_temp_path %1$s/tmp/scgi;
                    server {
                        listen 127.0.0.1:%2$d ssl http2;
                        ssl_certificate %1$s/cert.pem;
                        ssl_certificate_key %1$s/key.pem;
                        root %1$s/html;
                        location / { default_type application/octet-stream; }
                    }
                }
                """.formatted(dir, port));
        Process p = new ProcessBuilder(nginx.toString(), "-p", dir.toString(), "-c", dir.resolve("nginx.conf").toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
        TlsNginx n = new TlsNginx(p, dir, port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return n;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    String log = Files.readString(dir.resolve("out.log"))
                            + (Files.exists(dir.resolve("error.log")) ? Files.readString(dir.resolve("error.log")) : "");
                    n.close();
                    throw new IllegalStateException("nginx did not start: " + log);
                }
                Thread.sleep(20);
            }
        }
    }

    String url(String path) {
        return "https://127.0.0.1:" + port + path;
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

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
