package io.coro4j.metrics;

import io.coro4j.http.AsyncHttpClient;
import io.coro4j.http.HostStats;
import io.coro4j.http.HttpClientObserver;
import io.coro4j.http.RequestOutcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToIntFunction;

/**
 * Micrometer meters for one {@link AsyncHttpClient}: its pool per host, the time requests wait for
 * a slot, and the duration of requests by outcome. Every meter is tagged {@code client} (the name
 * given here, default {@value #DEFAULT_CLIENT_NAME}) and {@code host} (the client's host key:
 * scheme, host and port, as in {@code https://example.com:443}); timers are in seconds, the base
 * unit, and Prometheus renders the dots as underscores:
 *
 * <table>
 *   <caption>The meters of an HTTP client</caption>
 *   <tr><th>meter</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code coro4j.http.client.requests.active}</td><td>gauge</td><td>requests holding a slot
 *       now (being sent or read)</td></tr>
 *   <tr><td>{@code coro4j.http.client.requests.queued}</td><td>gauge</td><td>requests waiting for a
 *       slot now</td></tr>
 *   <tr><td>{@code coro4j.http.client.slot.wait}</td><td>timer</td><td>time from queueing to getting
 *       a slot, one per attempt that got one (about 0 when a slot was free), with a percentile histogram
 *       (for {@code histogram_quantile})</td></tr>
 *   <tr><td>{@code coro4j.http.client.requests}</td><td>timer, tags {@code method}, {@code status}
 *       (the code, or {@code NONE} without a response) and {@code outcome} (a
 *       {@link RequestOutcome}: {@code SUCCESS}, {@code CLIENT_ERROR}, {@code SERVER_ERROR},
 *       {@code TIMEOUT}, {@code SLOT_TIMEOUT}, {@code REJECTED}, {@code IO_ERROR},
 *       {@code CANCELLED}…)</td><td>one per attempt: the exchange, from its slot to its outcome;
 *       for an attempt that got no slot, its wait</td></tr>
 *   <tr><td>{@code coro4j.http.client.retries}</td><td>counter, tag {@code method}</td><td>attempts
 *       after which the retry policy tried again</td></tr>
 * </table>
 *
 * <p>Each retried attempt is a request of its own in {@code coro4j.http.client.requests}, with its
 * own outcome; {@code retries} counts the retries, so calls = requests − retries.
 *
 * <p>Hosts: a host's meters are registered when the client first reports it (queued, slot, end).
 * At most {@code maxHosts} hosts (default {@value #DEFAULT_MAX_HOSTS}) get meters of their own;
 * any further host is metered under {@code host=}{@value #OTHER_HOST}, whose gauges sum the hosts
 * without meters of their own, so that a crawler over a million hosts cannot blow up the
 * registry. A host's meters stay until {@link #close()}.
 *
 * <p>Cost: the gauges read the client's own pool counters on scrape
 * ({@link AsyncHttpClient#activeRequests}, {@link AsyncHttpClient#poolStats}); requests pay for
 * the two timers (a map look-up and a record each) through the {@link HttpClientObserver} this
 * binder sets on the client, and nothing when no binder is bound.
 *
 * <p>Usage: {@code new HttpClientMetrics(client, "catalog").bindTo(registry)}, once; bind to a
 * {@code CompositeMeterRegistry} to publish to several. {@link #close()} removes every meter
 * from the registry and takes the observer off the client. Thread-safe.
 */
public final class HttpClientMetrics implements MeterBinder, AutoCloseable {

    /** The {@code client} tag's value when no name is given. */
    public static final String DEFAULT_CLIENT_NAME = "default";
    /** How many hosts get meters of their own by default. */
    public static final int DEFAULT_MAX_HOSTS = 1000;
    /** The {@code host} tag of the hosts beyond the limit. */
    public static final String OTHER_HOST = "other";
    /** The {@code status} tag of an attempt without a response. */
    public static final String NO_STATUS = "NONE";

    private static final String ACTIVE = "Requests holding a slot now (being sent or read)";
    private static final String QUEUED = "Requests waiting for a slot now";

    /**
     * The binders bound per registry, by client name: two under one name would register the same
     * meter ids, so the second client's gauges would read the first's pool, and closing either
     * would remove the other's meters.
     */
    private static final RegistryClaims<String> NAMES = new RegistryClaims<>();

    private final AsyncHttpClient client;
    private final String clientName;
    private final int maxHosts;
    private final Tags tags;
    private final HttpClientObserver observer = new Observer();

    /** Each metered host's meters; written under this binder's lock, read without it. */
    private final Map<String, HostMeters> hosts = new ConcurrentHashMap<>();
    /** Hosts with meters of their own; read without the lock to skip it for hosts beyond the limit. */
    private volatile int hostCount;
    /** The meters of the hosts beyond the limit; created with the first of them. */
    private volatile HostMeters other;
    /** Every meter registered, for close(); guarded by this. */
    private final List<Meter> registered = new ArrayList<>();
    private MeterRegistry registry;
    private volatile boolean closed;

    /** Meters for {@code client}, tagged {@code client=}{@value #DEFAULT_CLIENT_NAME}. */
    public HttpClientMetrics(AsyncHttpClient client) {
        this(client, DEFAULT_CLIENT_NAME, DEFAULT_MAX_HOSTS);
    }

    /**
     * Meters for {@code client}, tagged {@code client=clientName}.
     *
     * @throws IllegalArgumentException if {@code clientName} is blank
     */
    public HttpClientMetrics(AsyncHttpClient client, String clientName) {
        this(client, clientName, DEFAULT_MAX_HOSTS);
    }

    /**
     * Meters for {@code client}, tagged {@code client=clientName}, with meters of their own for at
     * most {@code maxHosts} hosts.
     *
     * @throws IllegalArgumentException if {@code clientName} is blank, or if {@code maxHosts} is negative
     *     (0 meters every host as {@value #OTHER_HOST})
     */
    public HttpClientMetrics(AsyncHttpClient client, String clientName, int maxHosts) {
        this.client = Objects.requireNonNull(client, "client");
        this.clientName = Objects.requireNonNull(clientName, "clientName");
        if (clientName.isBlank()) {
            // An empty label is no label to Prometheus: such a client's series could not be told apart.
            throw new IllegalArgumentException("clientName should not be blank: give the client a name, or use"
                    + " new HttpClientMetrics(client) for \"" + DEFAULT_CLIENT_NAME + "\"");
        }
        if (maxHosts < 0) {
            throw new IllegalArgumentException("maxHosts " + maxHosts + " should not be negative");
        }
        this.maxHosts = maxHosts;
        this.tags = Tags.of(Tag.of("client", clientName));
    }

    /** The tags every meter of this binder carries (besides {@code host} and the timers' own). */
    public Tags tags() {
        return tags;
    }

    /**
     * Registers this client's meters in {@code registry} and sets this binder as the client's
     * {@link HttpClientObserver}; once only.
     *
     * @throws IllegalStateException if this binder is bound already or closed, if the client has
     *     another observer (a client has one, and this binder is it), or if another binder with the
     *     same client name is bound to the registry and not closed
     */
    @Override
    public synchronized void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        if (closed) {
            throw new IllegalStateException("this HttpClientMetrics was closed: create a new one to bind again");
        }
        if (this.registry != null) {
            throw new IllegalStateException("this HttpClientMetrics is bound already: bind it to a "
                    + "CompositeMeterRegistry to publish to several registries");
        }
        Object holder = NAMES.claim(registry, clientName, this);
        if (holder != null) {
            throw new IllegalStateException("client name \"" + clientName + "\" is taken on this registry by " + holder
                    + ": give each client a name of its own (new HttpClientMetrics(client, name)),"
                    + " or close that binder first");
        }
        // The registry first: the observer's first event may come before this method returns.
        this.registry = registry;
        if (!client.compareAndSetObserver(null, observer)) {
            this.registry = null;
            NAMES.release(registry, clientName, this);
            throw new IllegalStateException("the client has an observer already (" + client.observer()
                    + "): HttpClientMetrics needs to be the client's observer");
        }
    }

    /**
     * Takes the observer off the client and removes every meter of this binder from the registry;
     * attempts that started before and end after are not recorded. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        client.compareAndSetObserver(observer, null);
        if (registry != null) {
            // The name last: a binder that takes it must find none of this binder's meters left,
            // or registering meters of the same ids it would be handed these, which this removal
            // then takes away.
            for (Meter m : registered) {
                registry.remove(m);
            }
            NAMES.release(registry, clientName, this);
        }
        registered.clear();
        hosts.clear();
        other = null;
    }

    @Override
    public String toString() {
        return "HttpClientMetrics[client=" + clientName + ", hosts=" + hostCount + "/" + maxHosts + "]";
    }

    /** The meters of {@code host}, registering them on first sight; null once closed. Any thread. */
    private HostMeters meters(String host) {
        HostMeters m = hosts.get(host);
        if (m != null) {
            return m;
        }
        if (hostCount >= maxHosts) { // racy but benign: a host that just got meters is found on its next event
            HostMeters o = other;
            return o != null ? o : otherMeters();
        }
        return register(host);
    }

    private synchronized HostMeters register(String host) {
        if (closed) {
            return null;
        }
        HostMeters m = hosts.get(host);
        if (m != null) {
            return m;
        }
        if (hostCount >= maxHosts) {
            return otherMeters();
        }
        gauge("coro4j.http.client.requests.active", ACTIVE, host, c -> c.activeRequests(host));
        gauge("coro4j.http.client.requests.queued", QUEUED, host, c -> c.queuedRequests(host));
        m = new HostMeters(host);
        hosts.put(host, m);
        hostCount++;
        return m;
    }

    private synchronized HostMeters otherMeters() {
        if (closed) {
            return null;
        }
        if (other == null) {
            // The hosts without meters of their own: all those in the pool now that have none.
            gauge("coro4j.http.client.requests.active", ACTIVE, OTHER_HOST, c -> sumUnmetered(c, HostStats::active));
            gauge("coro4j.http.client.requests.queued", QUEUED, OTHER_HOST, c -> sumUnmetered(c, HostStats::queued));
            other = new HostMeters(OTHER_HOST);
        }
        return other;
    }

    private int sumUnmetered(AsyncHttpClient c, ToIntFunction<HostStats> f) {
        int sum = 0;
        for (HostStats s : c.poolStats()) {
            if (!hosts.containsKey(s.host())) {
                sum += f.applyAsInt(s);
            }
        }
        return sum;
    }

    /** Registers a gauge over the client; under this binder's lock. */
    private void gauge(String name, String description, String host, ToDoubleFunction<AsyncHttpClient> f) {
        keep(Gauge.builder(name, client, f).description(description).tags(tags).tag("host", host)
                .strongReference(true).register(registry));
    }

    /** The key of a host's meters made on first use: its slot-wait timer, a request timer, a retry counter. */
    private sealed interface MeterKey {}

    private record SlotWaitKey() implements MeterKey {}

    private record RequestKey(String method, int status, RequestOutcome outcome) implements MeterKey {}

    private record RetryKey(String method) implements MeterKey {}

    private static final SlotWaitKey SLOT_WAIT = new SlotWaitKey();

    /** One host's meters (or {@value #OTHER_HOST}'s); the timers and counters made on first use. */
    private final class HostMeters {
        final String host;
        final Map<MeterKey, Meter> byKey = new ConcurrentHashMap<>();

        HostMeters(String host) {
            this.host = host;
        }

        Timer slotWait() {
            return (Timer) meter(SLOT_WAIT);
        }

        Timer requests(String method, int status, RequestOutcome outcome) {
            return (Timer) meter(new RequestKey(method, status, outcome));
        }

        Counter retries(String method) {
            return (Counter) meter(new RetryKey(method));
        }

        /** The meter of {@code key}, registered on first use under the binder's lock; null once closed. */
        private Meter meter(MeterKey key) {
            Meter m = byKey.get(key);
            if (m == null) {
                synchronized (HttpClientMetrics.this) {
                    if (closed) {
                        return null;
                    }
                    m = byKey.computeIfAbsent(key, this::register);
                }
            }
            return m;
        }

        private Meter register(MeterKey key) {
            return keep(switch (key) {
                case SlotWaitKey k -> Timer.builder("coro4j.http.client.slot.wait")
                        .description("Time from queueing for a slot to getting it")
                        .tags(tags).tag("host", host)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofNanos(1_000))
                        .maximumExpectedValue(Duration.ofSeconds(60))
                        .register(registry);
                case RequestKey k -> Timer.builder("coro4j.http.client.requests")
                        .description("HTTP requests: each attempt, from its slot to its outcome (or its wait, if it got no slot)")
                        .tags(tags).tag("host", host).tag("method", k.method())
                        .tag("status", k.status() < 0 ? NO_STATUS : Integer.toString(k.status()))
                        .tag("outcome", k.outcome().name())
                        .register(registry);
                case RetryKey k -> Counter.builder("coro4j.http.client.retries")
                        .description("Attempts after which the retry policy tried again")
                        .tags(tags).tag("host", host).tag("method", k.method())
                        .register(registry);
            });
        }
    }

    /** Remembers {@code meter} for close(); under this binder's lock. */
    private <M extends Meter> M keep(M meter) {
        registered.add(meter);
        return meter;
    }

    /** What the client calls; drops events after close (the client may still be finishing attempts begun before). */
    private final class Observer implements HttpClientObserver {
        @Override
        public void requestQueued(String host) {
            if (!closed) {
                meters(host); // the gauges, so that a host whose requests all wait is seen
            }
        }

        @Override
        public void slotAcquired(String host, long waitNanos) {
            HostMeters m = closed ? null : meters(host);
            Timer t = m == null ? null : m.slotWait();
            if (t != null) {
                t.record(waitNanos, TimeUnit.NANOSECONDS);
            }
        }

        @Override
        public void requestFinished(String host, String method, int status, RequestOutcome outcome, long durationNanos) {
            HostMeters m = closed ? null : meters(host);
            Timer t = m == null ? null : m.requests(method, status, outcome);
            if (t != null) {
                t.record(durationNanos, TimeUnit.NANOSECONDS);
            }
        }

        @Override
        public void retrying(String host, String method, int attempt) {
            HostMeters m = closed ? null : meters(host);
            Counter c = m == null ? null : m.retries(method);
            if (c != null) {
                c.increment();
            }
        }

        @Override
        public String toString() {
            return HttpClientMetrics.this.toString();
        }
    }
}
