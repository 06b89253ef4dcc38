package io.coro4j.http;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Base64;

/**
 * nginx serving HTTP/2 over TLS on 127.0.0.1, with the tests' self-signed certificate, for the
 * one thing the JDK's own servers cannot show: an HTTP/2 exchange. Used only where nginx is
 * installed; {@link #find()} says whether it is.
 */
final class TlsNginx implements AutoCloseable {

    private final NginxProcess nginx;
    final int port;

    private TlsNginx(NginxProcess nginx) {
        this.nginx = nginx;
        this.port = nginx.port();
    }

    /** The nginx binary, or null. */
    static Path find() {
        return NginxProcess.find();
    }

    /** Starts nginx serving {@code /1k} (1024 bytes) over HTTP/2 + TLS with the key and certificate in {@code keys}. */
    static TlsNginx start(Path nginx, KeyStore keys, char[] password) throws Exception {
        Path dir = NginxProcess.newFolder("coro4j-http-nginx");
        Files.write(dir.resolve("html/1k"), TestHttpServer.pattern(1024));
        Files.writeString(dir.resolve("cert.pem"), pem("CERTIFICATE", keys.getCertificate("test").getEncoded()));
        Files.writeString(dir.resolve("key.pem"), pem("PRIVATE KEY", keys.getKey("test", password).getEncoded()));
        return new TlsNginx(NginxProcess.start(nginx, dir, 1024, """
                server {
                    listen 127.0.0.1:%2$d ssl http2;
                    ssl_certificate %1$s/cert.pem;
                    ssl_certificate_key %1$s/key.pem;
                    root %1$s/html;
                    location / { default_type application/octet-stream; }
                }
                """));
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
        nginx.close();
    }
}
