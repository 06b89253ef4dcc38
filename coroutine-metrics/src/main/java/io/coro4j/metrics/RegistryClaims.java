package io.coro4j.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import java.lang.ref.WeakReference;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Keys that binders have claimed on a registry (a scheduler's tags, an HTTP client's name), each
 * held by one binder until it releases it: two binders of one key would register the same meter
 * ids, and the second would be handed the first's meters. Held weakly both ways (a binder refers
 * to its registry), so a registry or a binder dropped without {@code close()} is not kept, and
 * its keys become free. Thread-safe.
 */
final class RegistryClaims<K> {

    private final Map<MeterRegistry, Map<K, WeakReference<Object>>> claims = new WeakHashMap<>();

    /** The binder holding {@code key} on {@code registry}, or null. */
    synchronized Object holder(MeterRegistry registry, K key) {
        Map<K, WeakReference<Object>> keys = claims.get(registry);
        WeakReference<Object> held = keys == null ? null : keys.get(key);
        return held == null ? null : held.get();
    }

    /** Claims {@code key} on {@code registry} for {@code binder}; the binder holding it already (claimed nothing), or null. */
    synchronized Object claim(MeterRegistry registry, K key, Object binder) {
        Object holder = holder(registry, key);
        if (holder == null) {
            claims.computeIfAbsent(registry, r -> new HashMap<>()).put(key, new WeakReference<>(binder));
        }
        return holder;
    }

    /** Frees {@code key} on {@code registry} if {@code binder} holds it. */
    synchronized void release(MeterRegistry registry, K key, Object binder) {
        Map<K, WeakReference<Object>> keys = claims.get(registry);
        WeakReference<Object> held = keys == null ? null : keys.get(key);
        if (held != null && held.get() == binder) {
            keys.remove(key);
            if (keys.isEmpty()) {
                claims.remove(registry);
            }
        }
    }
}
