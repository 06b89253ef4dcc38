package io.coro4j.bench;

import io.coro4j.Schedulers;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many bytes of frames suspended sleepers hold, for {@link SleeperHeapHistogram}: the frames
 * between the stack chunk's {@code sp} and {@code bottom}, summed over the continuation's chunks.
 * A class histogram shows a stack chunk only as bytes per instance; this shows how the frames are
 * distributed across sleepers, which tells compiled frames from interpreted or C1 ones and one
 * build's frame layout from another's.
 *
 * <p>It reads JDK internals by reflection ({@code VirtualThread.cont}, {@code Continuation.tail},
 * {@code StackChunk.sp/bottom/parent}), so it needs
 * {@code --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/jdk.internal.vm=ALL-UNNAMED};
 * without them {@link #report} says so instead. Tasks record themselves ({@link #expect} once per
 * crowd, then {@link #recordCurrent()} from each sleeper, a static so that their bodies capture
 * nothing); virtual threads are reported from the caller's own array.
 */
final class SuspendedStacks {

    private static Object[] holders = new Object[0];
    private static final AtomicInteger next = new AtomicInteger();

    private SuspendedStacks() {}

    /** Starts a crowd of {@code n} sleepers. */
    static void expect(int n) {
        holders = new Object[n];
        next.set(0);
    }

    /**
     * Records what holds the calling task's continuation: its virtual thread (loom), or its fiber
     * (threadpool, whose fiber holds a {@code jdk.internal.vm.Continuation}).
     */
    static void recordCurrent() {
        Thread t = Thread.currentThread();
        int i = next.getAndIncrement();
        Object[] h = holders;
        if (i < h.length) {
            h[i] = t.isVirtual() ? t : Schedulers.currentFiber();
        }
    }

    /** What the sleepers of the current crowd recorded (null where one has not yet). */
    static Object[] recorded() {
        return holders;
    }

    /**
     * Sleepers per total bytes of suspended frames, and the mean, over {@code crowd}: virtual
     * threads, or fibers holding a continuation; null entries are skipped.
     */
    static String report(Object[] crowd) {
        try {
            Internals in = new Internals();
            Map<Long, Integer> bySize = new TreeMap<>();
            long total = 0;
            int counted = 0;
            for (Object h : crowd) {
                if (h == null) {
                    continue;
                }
                long bytes = in.frameBytes(in.continuationOf(h));
                bySize.merge(bytes, 1, Integer::sum);
                total += bytes;
                counted++;
            }
            StringBuilder b = new StringBuilder(
                    String.format("suspended frames per sleeper (%,d sleepers):%n", counted));
            bySize.forEach((bytes, sleepers) ->
                    b.append(String.format("%10d  bytes: %,d sleepers%n", bytes, sleepers)));
            b.append(String.format("%10.1f  bytes on average", counted == 0 ? 0.0 : (double) total / counted));
            return b.toString();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "suspended frames: not readable (" + e + "); run with --add-opens java.base/java.lang=ALL-UNNAMED"
                    + " --add-opens java.base/jdk.internal.vm=ALL-UNNAMED";
        }
    }

    /** The JDK fields read; looked up once per report. */
    private static final class Internals {
        final Class<?> continuationClass = Class.forName("jdk.internal.vm.Continuation");
        final Field virtualThreadCont = open(Class.forName("java.lang.VirtualThread"), "cont");
        final Field tail = open(continuationClass, "tail");
        final Class<?> chunkClass = Class.forName("jdk.internal.vm.StackChunk");
        final Field sp = open(chunkClass, "sp");
        final Field bottom = open(chunkClass, "bottom");
        final Field parent = open(chunkClass, "parent");

        Internals() throws ReflectiveOperationException {}

        private static Field open(Class<?> c, String name) throws NoSuchFieldException {
            Field f = c.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        }

        Object continuationOf(Object holder) throws IllegalAccessException {
            if (holder instanceof Thread t) {
                return virtualThreadCont.get(t);
            }
            for (Class<?> c = holder.getClass(); c != null; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (!java.lang.reflect.Modifier.isStatic(f.getModifiers()) && !f.getType().isPrimitive()) {
                        f.setAccessible(true);
                        Object v = f.get(holder);
                        if (continuationClass.isInstance(v)) {
                            return v;
                        }
                    }
                }
            }
            throw new IllegalStateException("no continuation in " + holder);
        }

        long frameBytes(Object continuation) throws IllegalAccessException {
            long words = 0;
            for (Object chunk = tail.get(continuation); chunk != null; chunk = parent.get(chunk)) {
                words += bottom.getInt(chunk) - sp.getInt(chunk);
            }
            return words * 8;
        }
    }
}
