package io.coro4j.http.bench;

import com.sun.net.httpserver.HttpServer;
import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.NginxProcess;
import io.coro4j.http.Response;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Throughput of many small GETs with a bound on requests in flight: {@link AsyncHttpClient#getAll}
 * on each scheduler, beside the baseline a Java programmer would write without coro4j,
 * {@code HttpClient.sendAsync} limited by a {@link Semaphore}, measured in the same run and
 * interleaved round by round so that drift hits them all alike.
 *
 * <p>The server is nginx when it is installed (a config written into a temporary folder, listening
 * on 127.0.0.1 only, one worker, stopped at the end), else the JDK's built-in server; the output
 * says which. Each variant gets its own {@link HttpClient} (own connection pool), built the same
 * way: HTTP/1.1, connect timeout 10 s.
 *
 * <pre>
 * java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED -cp ... io.coro4j.http.bench.HttpGetThroughputBench \
 *     [--requests 10000] [--inflight 100] [--body 1024] [--warmup 10] [--rounds 12] [--server auto|nginx|jdk]
 *     [--variants raw,threadpool,loom,tasks-threadpool,tasks-loom] [--carriers N (threadpool carriers; default: one per CPU)]
 * </pre>
 * Each round runs every variant once, in a rotating order, after a {@code System.gc()}. It prints
 * the median requests per second of each variant over the measured rounds, its ratio to the
 * baseline's median, the median of its per-round ratios, and the JVM's CPU time per request (the
 * server's excluded); the budget is at least 0.9x on both schedulers. The JIT needs the long
 * warm-up: the JDK's HTTP client keeps getting faster for some 100,000 requests.
 */
public final class HttpGetThroughputBench {

    private HttpGetThroughputBench() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = options(args);
        int requests = Integer.parseInt(opt.getOrDefault("requests", "10000"));
        int inflight = Integer.parseInt(opt.getOrDefault("inflight", "100"));
        int body = Integer.parseInt(opt.getOrDefault("body", "1024"));
        int warmup = Integer.parseInt(opt.getOrDefault("warmup", "10"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "12"));
        String serverKind = opt.getOrDefault("server", "auto");

        try (Server server = Server.start(serverKind, body)) {
            String url = server.url();
            System.out.printf(Locale.ROOT, "server: %s at %s; %d GETs of %d bytes per round, at most %d in flight;"
                    + " JDK %s, %d CPUs%n", server.name(), url, requests, body, inflight,
                    Runtime.version(), Runtime.getRuntime().availableProcessors());

            SchedulerConfig.Builder tpConfig = SchedulerConfig.builder().name("bench-threadpool").daemon(true);
            if (opt.containsKey("carriers")) {
                tpConfig.parallelism(Integer.parseInt(opt.get("carriers")));
            }
            Scheduler threadpool = Schedulers.create("threadpool", tpConfig.build());
            Scheduler loom = Schedulers.create("loom", SchedulerConfig.builder().name("bench-loom").daemon(true).build());
            HttpClient raw = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL).build();
            AsyncHttpClient coroTp = client(inflight, requests);
            AsyncHttpClient coroLoom = client(inflight, requests);
            List<String> urls = java.util.Collections.nCopies(requests, url);

            Map<String, Variant> variants = new LinkedHashMap<>();
            variants.put("raw sendAsync + Semaphore", () -> rawRound(raw, urls, inflight, body));
            variants.put("coro4j threadpool getAll", () -> coroRound(threadpool, coroTp, urls, body));
            variants.put("coro4j loom getAll", () -> coroRound(loom, coroLoom, urls, body));
            // Not run by default: a task per URL, each calling get(), gathered with Coro.gather.
            variants.put("coro4j threadpool spawn+get", () -> taskPerUrlRound(threadpool, coroTp, urls, body));
            variants.put("coro4j loom spawn+get", () -> taskPerUrlRound(loom, coroLoom, urls, body));

            List<String> only = List.of(opt.getOrDefault("variants", "raw,threadpool,loom").split(","));
            variants.keySet().removeIf(k -> only.stream().noneMatch(v -> v.equals(variantId(k))));
            Map<String, List<Double>> results = new LinkedHashMap<>();
            Map<String, List<Double>> cpuPerRequest = new LinkedHashMap<>();
            variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
            variants.keySet().forEach(k -> cpuPerRequest.put(k, new ArrayList<>()));
            com.sun.management.OperatingSystemMXBean cpu =
                    (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            List<Map.Entry<String, Variant>> order = new ArrayList<>(variants.entrySet());
            for (int r = -warmup; r < rounds; r++) {
                StringBuilder line = new StringBuilder(r < 0 ? "warmup " + (r + warmup + 1) : "round  " + (r + 1));
                java.util.Collections.rotate(order, 1); // each variant takes each place in turn
                for (Map.Entry<String, Variant> v : order) {
                    System.gc();
                    long cpu0 = cpu.getProcessCpuTime();
                    long start = System.nanoTime();
                    v.getValue().run();
                    double perSec = requests / ((System.nanoTime() - start) / 1e9);
                    double cpuMicros = (cpu.getProcessCpuTime() - cpu0) / 1e3 / requests;
                    if (r >= 0) {
                        results.get(v.getKey()).add(perSec);
                        cpuPerRequest.get(v.getKey()).add(cpuMicros);
                    }
                    line.append(String.format(Locale.ROOT, "  %s %,.0f/s %.0fus", variantId(v.getKey()), perSec, cpuMicros));
                }
                System.out.println(line);
            }

            List<Double> baseRounds = results.get("raw sendAsync + Semaphore");
            double base = baseRounds != null ? median(baseRounds) : Double.NaN;
            System.out.println();
            System.out.printf(Locale.ROOT, "%-28s %13s %17s %8s %14s %15s%n", "variant", "median req/s", "min..max", "vs raw",
                    "round ratios", "JVM CPU us/req");
            for (Map.Entry<String, List<Double>> e : results.entrySet()) {
                List<Double> xs = e.getValue();
                // The median of the ratios of each round (the variants of a round ran back to back).
                List<Double> ratios = new ArrayList<>();
                for (int i = 0; baseRounds != null && i < xs.size(); i++) {
                    ratios.add(xs.get(i) / baseRounds.get(i));
                }
                System.out.printf(Locale.ROOT, "%-28s %,13.0f %,8.0f..%,-7.0f %7.2fx %13.2fx %15.0f%n", e.getKey(), median(xs),
                        xs.stream().min(Comparator.naturalOrder()).orElseThrow(), xs.stream().max(Comparator.naturalOrder()).orElseThrow(),
                        median(xs) / base, ratios.isEmpty() ? Double.NaN : median(ratios), median(cpuPerRequest.get(e.getKey())));
            }
            coroTp.close();
            coroLoom.close();
            raw.close();
            threadpool.close();
            loom.close();
        }
    }

    /** raw, threadpool, loom, tasks-threadpool or tasks-loom. */
    private static String variantId(String name) {
        String[] w = name.split(" ");
        if (w[0].equals("raw")) {
            return "raw";
        }
        return name.endsWith("spawn+get") ? "tasks-" + w[1] : w[1];
    }

    @FunctionalInterface
    interface Variant {
        void run() throws Exception;
    }

    private static AsyncHttpClient client(int inflight, int requests) {
        return AsyncHttpClient.builder().maxInFlight(inflight).maxInFlightPerHost(inflight).maxWaiting(requests)
                .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /**
     * The baseline: the caller's thread takes a permit per URL, the completion gives it back. Like
     * the client, it parses each URL of the list (a fan-out's URLs are all different).
     */
    private static void rawRound(HttpClient http, List<String> urls, int inflight, int body) throws Exception {
        int requests = urls.size();
        Semaphore permits = new Semaphore(inflight);
        AtomicLong bytes = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        CompletableFuture<?>[] all = new CompletableFuture<?>[requests];
        for (int i = 0; i < requests; i++) {
            permits.acquire();
            HttpRequest request = HttpRequest.newBuilder(URI.create(urls.get(i))).GET().build();
            all[i] = http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray()).whenComplete((r, e) -> {
                permits.release();
                if (e != null || r.statusCode() != 200) {
                    failures.incrementAndGet();
                } else {
                    bytes.addAndGet(r.body().length);
                }
            });
        }
        CompletableFuture.allOf(all).handle((v, e) -> null).get(5, TimeUnit.MINUTES);
        check(bytes.get(), failures.get(), requests, body);
    }

    private static void coroRound(Scheduler scheduler, AsyncHttpClient http, List<String> urls, int body) {
        long bytes = Coro.run(scheduler, () -> {
            long sum = 0;
            for (Response r : http.getAll(urls)) {
                if (r.status() != 200) {
                    throw new IllegalStateException("status " + r.status());
                }
                sum += r.bodyLength();
            }
            return sum;
        });
        check(bytes, 0, urls.size(), body);
    }

    /** The pattern without the client's fan-out: {@code Coro.gather} over a task per URL, each calling {@code get}. */
    private static void taskPerUrlRound(Scheduler scheduler, AsyncHttpClient http, List<String> urls, int body) {
        long bytes = Coro.run(scheduler, () -> {
            List<io.coro4j.Task<Response>> tasks = new ArrayList<>(urls.size());
            for (String u : urls) {
                tasks.add(Coro.spawn(() -> http.get(u)));
            }
            long sum = 0;
            for (Response r : Coro.gather(tasks)) {
                if (r.status() != 200) {
                    throw new IllegalStateException("status " + r.status());
                }
                sum += r.bodyLength();
            }
            return sum;
        });
        check(bytes, 0, urls.size(), body);
    }

    private static void check(long bytes, long failures, int requests, int body) {
        if (failures != 0 || bytes != (long) requests * body) {
            throw new IllegalStateException("wrong results: " + failures + " failures, " + bytes + " bytes");
        }
    }

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: [--requests N] [--inflight N] [--body BYTES] [--warmup N]"
                        + " [--rounds N] [--server auto|nginx|jdk] [--variants raw,threadpool,loom,tasks-threadpool,tasks-loom] [--carriers N]; got " + Arrays.toString(args));
            }
            m.put(args[i].substring(2), args[++i]);
        }
        return m;
    }

    /** The server under the benchmark. */
    interface Server extends AutoCloseable {
        String name();

        String url();

        @Override
        void close() throws Exception;

        static Server start(String kind, int body) throws Exception {
            Path nginx = NginxProcess.find();
            switch (kind) {
                case "nginx" -> {
                    if (nginx == null) {
                        throw new IllegalStateException("--server nginx: no nginx found (apt-get install -y nginx)");
                    }
                    return Nginx.start(nginx, body);
                }
                case "jdk" -> {
                    return JdkServer.start(body, "--server jdk");
                }
                case "auto" -> {
                    return nginx != null ? Nginx.start(nginx, body) : JdkServer.start(body, "nginx not installed");
                }
                default -> throw new IllegalArgumentException("--server " + kind + ": expected auto, nginx or jdk");
            }
        }
    }

    /** nginx with a config of our own in a temporary folder: 127.0.0.1 only, one worker, keep-alive, a static 1 KiB file. */
    static final class Nginx implements Server {
        private final NginxProcess process;
        private final String version;

        private Nginx(NginxProcess process, String version) {
            this.process = process;
            this.version = version;
        }

        static Nginx start(Path nginx, int body) throws Exception {
            Path dir = NginxProcess.newFolder("coro4j-bench-nginx");
            Files.write(dir.resolve("html/body.bin"), body(body));
            String version = NginxProcess.version(nginx);
            return new Nginx(NginxProcess.start(nginx, dir, 4096, """
                    keepalive_requests 1000000;
                    keepalive_timeout 60s;
                    sendfile on;
                    tcp_nodelay on;
                    gzip off;
                    server {
                        listen 127.0.0.1:%2$d;
                        root %1$s/html;
                        location / { default_type application/octet-stream; }
                    }
                    """), version);
        }

        @Override
        public String name() {
            return version + " (1 worker, config in a temporary folder)";
        }

        @Override
        public String url() {
            return "http://127.0.0.1:" + process.port() + "/body.bin";
        }

        @Override
        public void close() throws Exception {
            process.close();
        }
    }

    /** The JDK's built-in server, when nginx is not installed. */
    static final class JdkServer implements Server {
        private final HttpServer server;
        private final ExecutorService executor;

        private final String why;

        private JdkServer(HttpServer server, ExecutorService executor, String why) {
            this.server = server;
            this.executor = executor;
            this.why = why;
        }

        static JdkServer start(int body, String why) throws IOException {
            // Three clients keep 100 connections each: above the server's default of 200 idle ones,
            // it closes the surplus, and a client may reuse one as it closes (read before the
            // server classes load). Also answer without Nagle's delay, as nginx is set to.
            System.setProperty("sun.net.httpserver.maxIdleConnections", "1000");
            System.setProperty("sun.net.httpserver.nodelay", "true");
            byte[] payload = body(body);
            HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1000);
            ExecutorService ex = Executors.newFixedThreadPool(4);
            s.setExecutor(ex);
            s.createContext("/", e -> {
                try (e; OutputStream out = e.getResponseBody()) {
                    e.getRequestBody().readAllBytes();
                    e.sendResponseHeaders(200, payload.length);
                    out.write(payload);
                }
            });
            s.start();
            return new JdkServer(s, ex, why);
        }

        @Override
        public String name() {
            return "JDK com.sun.net.httpserver (" + why + ")";
        }

        @Override
        public String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/body.bin";
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
        }
    }

    static byte[] body(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }
}
