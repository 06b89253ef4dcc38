package io.coro4j.scheduler.threadpool;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Method handles onto {@code jdk.internal.vm.Continuation}, so that nothing here is compiled
 * against {@code jdk.internal.vm} (which {@code javac --release} cannot see). Held in
 * {@code static final} fields, {@code invokeExact} calls are inlined by the JIT like direct calls.
 *
 * <p>Touch this class only after {@link ContinuationAccess#problem()} returned {@code null}: its
 * static initializer fails without the {@code --add-exports} flag.
 */
final class Continuations {

    private static final MethodHandle NEW_SCOPE;
    private static final MethodHandle NEW;
    private static final MethodHandle RUN;
    private static final MethodHandle YIELD;
    private static final MethodHandle IS_DONE;
    private static final MethodHandle CURRENT;

    static final Object FIBER_SCOPE;
    static final Object GENERATOR_SCOPE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            Class<?> contClass = Class.forName("jdk.internal.vm.Continuation");
            Class<?> scopeClass = Class.forName("jdk.internal.vm.ContinuationScope");
            NEW_SCOPE = lookup.findConstructor(scopeClass, MethodType.methodType(void.class, String.class))
                    .asType(MethodType.methodType(Object.class, String.class));
            NEW = lookup.findConstructor(contClass, MethodType.methodType(void.class, scopeClass, Runnable.class))
                    .asType(MethodType.methodType(Object.class, Object.class, Runnable.class));
            RUN = lookup.findVirtual(contClass, "run", MethodType.methodType(void.class))
                    .asType(MethodType.methodType(void.class, Object.class));
            YIELD = lookup.findStatic(contClass, "yield", MethodType.methodType(boolean.class, scopeClass))
                    .asType(MethodType.methodType(boolean.class, Object.class));
            IS_DONE = lookup.findVirtual(contClass, "isDone", MethodType.methodType(boolean.class))
                    .asType(MethodType.methodType(boolean.class, Object.class));
            CURRENT = lookup.findStatic(contClass, "getCurrentContinuation", MethodType.methodType(contClass, scopeClass))
                    .asType(MethodType.methodType(Object.class, Object.class));
            FIBER_SCOPE = (Object) NEW_SCOPE.invokeExact("coro4j-fiber");
            GENERATOR_SCOPE = (Object) NEW_SCOPE.invokeExact("coro4j-generator");
        } catch (Throwable e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Continuations() {}

    static Object create(Object scope, Runnable body) {
        try {
            return (Object) NEW.invokeExact(scope, body);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Mounts and runs {@code cont} until it yields or ends; an exception escaping its body propagates. */
    static void run(Object cont) {
        try {
            RUN.invokeExact(cont);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Yields the innermost continuation of {@code scope}, and every continuation nested in it.
     *
     * @throws IllegalStateException if not inside {@code scope}, or pinned (a monitor or a native frame)
     */
    static void yield(Object scope) {
        boolean ok;
        try {
            ok = (boolean) YIELD.invokeExact(scope);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (!ok) {
            throw new IllegalStateException("continuation could not yield");
        }
    }

    static boolean isDone(Object cont) {
        try {
            return (boolean) IS_DONE.invokeExact(cont);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The innermost continuation of {@code scope} mounted on the current thread, or null. Safe to
     * call in code that may have moved to another thread since it last ran (see {@link #carrierThread()}).
     */
    static Object current(Object scope) {
        return freshRead(scope);
    }

    /**
     * The thread running the caller, read afresh. C2 treats {@code Thread.currentThread()} as
     * invariant within a compiled method, so a frame that yielded on one carrier and continued on
     * another may see the old carrier if the read is inlined into it (the JDK guards its own
     * code with {@code @ChangesCurrentThread}, which only works for boot classes). Measured
     * here: with the read inlined, a fiber's identity check failed within seconds under C2, never
     * under {@code -Xint} or C1. So the read is made in {@link #freshRead}, which no compiler
     * inlines.
     */
    static Thread carrierThread() {
        return (Thread) freshRead(null);
    }

    /**
     * The current thread ({@code scope} null) or the innermost continuation of {@code scope}
     * mounted on it, read in a frame of its own: kept out of its callers' compiled code by its
     * size. C1 and C2 inline no method of more bytecode than {@code -XX:FreqInlineSize} (325 bytes
     * by default) unless a {@code CompileCommand} forces them, and the branch below, never taken,
     * makes this one about 1,300 bytes; compiled on its own, that branch is left out, so a call
     * costs a plain call.
     */
    private static Object freshRead(Object scope) {
        Thread t = Thread.currentThread();
        if (t == null) { // never: the padding that keeps this method out of line, see above
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
        if (scope == null) {
            return t;
        }
        try {
            return (Object) CURRENT.invokeExact(scope);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /**
     * The refusal of a yield that the JDK refused with {@code e} ("Pinned: REASON"): {@code what}
     * cannot suspend here, why, and what to do, which depends on the reason. Under a native frame
     * (a class initializer, most often) replacing a synchronized block would not help; holding a
     * monitor (JDK 21 to 23), a coro4j lock would.
     *
     * @param what "this fiber cannot suspend here" or "generator cannot yield here"
     * @param who "a fiber cannot park" or "a body cannot yield"
     * @param monitorAdvice what to do about a monitor held, or "" for nothing
     */
    static IllegalStateException cannotYield(IllegalStateException e, String what, String who, String monitorAdvice) {
        String reason = String.valueOf(e.getMessage());
        String why;
        if (reason.contains("NATIVE")) {
            why = ": on the threadpool scheduler " + who + " under a native frame, such as that of a class"
                    + " initializer (static { ... }) that runs this code; wait or yield outside the class initializer"
                    + " (initialize the value lazily, on first use, rather than in static { ... })";
        } else if (reason.contains("MONITOR")) {
            why = ": on the threadpool scheduler " + who + " while holding a monitor (inside synchronized)"
                    + " or under a native frame" + monitorAdvice;
        } else {
            why = "";
        }
        return new IllegalStateException(what + " (" + reason + ")" + why, e);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
