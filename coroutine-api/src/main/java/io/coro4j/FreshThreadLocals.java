package io.coro4j;

/**
 * {@link ThreadLocal} reads and writes made in a frame of their own, so that they find the thread
 * that runs the caller now. C2 treats {@code Thread.currentThread()} as invariant within a
 * compiled method, and a generator body on the threadpool scheduler runs on whichever thread
 * resumes it: a {@code ThreadLocal.get()} inlined into a compiled body read the map of the thread
 * that ran that code before the body was suspended and resumed on another (measured: a
 * {@link CoroutineLocal} read outside any task gave the previous resumer's value in 188,065 of
 * 400,000 steps alternating between two threads under C2, none under {@code -Xint}). The access is
 * in {@link #access}, which no compiler inlines, as the threadpool scheduler's
 * {@code Continuations.freshRead}: C1 and C2 inline no method of more bytecode than
 * {@code -XX:FreqInlineSize} (325 bytes by default) unless a {@code CompileCommand} forces them,
 * and the branch below, never taken, makes it about 1,300 bytes; compiled on its own, that branch
 * is left out, so a call costs a plain call.
 */
final class FreshThreadLocals {

    private FreshThreadLocals() {}

    static Object get(ThreadLocal<?> local) {
        return access(local, false, null);
    }

    static <T> void set(ThreadLocal<T> local, T value) {
        access(local, true, value);
    }

    @SuppressWarnings("unchecked")
    private static Object access(ThreadLocal<?> local, boolean write, Object value) {
        if (local == null) { // never: the padding that keeps this method out of line, see above
            int[] padding = {
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            };
            throw new AssertionError(padding.length);
        }
        if (write) {
            ((ThreadLocal<Object>) local).set(value);
            return null;
        }
        return local.get();
    }
}
