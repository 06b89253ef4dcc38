package io.coro4j.tck;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.Callable;

/**
 * {@code java.lang.ScopedValue} through method handles: the kit is compiled for Java 21, where it
 * is a preview API, and is final from Java 25. Only what is the same in both is used:
 * {@code newInstance}, {@code where}, {@code Carrier.run(Runnable)}, {@code isBound}, {@code get}.
 */
final class ScopedValues {

    private static final MethodHandle NEW_INSTANCE;
    private static final MethodHandle WHERE;
    private static final MethodHandle RUN;
    private static final MethodHandle IS_BOUND;
    private static final MethodHandle GET;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            Class<?> sv = Class.forName("java.lang.ScopedValue");
            Class<?> carrier = Class.forName("java.lang.ScopedValue$Carrier");
            NEW_INSTANCE = l.findStatic(sv, "newInstance", MethodType.methodType(sv));
            WHERE = l.findStatic(sv, "where", MethodType.methodType(carrier, sv, Object.class));
            RUN = l.findVirtual(carrier, "run", MethodType.methodType(void.class, Runnable.class));
            IS_BOUND = l.findVirtual(sv, "isBound", MethodType.methodType(boolean.class));
            GET = l.findVirtual(sv, "get", MethodType.methodType(Object.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private ScopedValues() {}

    static Object newInstance() throws Exception {
        try {
            return NEW_INSTANCE.invoke();
        } catch (Throwable t) {
            throw asException(t);
        }
    }

    /** {@code ScopedValue.where(key, value).call(op)}, by way of {@code run}. */
    static <T> T call(Object key, Object value, Callable<T> op) throws Exception {
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        try {
            Object carrier = WHERE.invoke(key, value);
            RUN.invoke(carrier, (Runnable) () -> {
                try {
                    result[0] = op.call();
                } catch (Throwable t) {
                    failure[0] = t;
                }
            });
        } catch (Throwable t) {
            throw asException(t);
        }
        if (failure[0] != null) {
            throw asException(failure[0]);
        }
        @SuppressWarnings("unchecked")
        T r = (T) result[0];
        return r;
    }

    /** The value bound to {@code key} in the caller, or {@code "unbound"}. */
    static Object valueOf(Object key) throws Exception {
        try {
            return (boolean) IS_BOUND.invoke(key) ? GET.invoke(key) : "unbound";
        } catch (Throwable t) {
            throw asException(t);
        }
    }

    private static Exception asException(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return (Exception) t; // invoke's only other throwables are exceptions
    }
}
