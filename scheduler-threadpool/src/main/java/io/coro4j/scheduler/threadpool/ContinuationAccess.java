package io.coro4j.scheduler.threadpool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/** Checks, without failing, whether this JVM lets us use {@code jdk.internal.vm.Continuation}. */
final class ContinuationAccess {

    /**
     * The flag, with the target this code runs as: its module's name on the module path, ALL-UNNAMED
     * on the class path (an export to the wrong one does not reach this code).
     */
    static final String FLAG = "--add-exports java.base/jdk.internal.vm=" + exportTarget(ContinuationAccess.class.getModule());

    private static final String PROBLEM = probe();

    private ContinuationAccess() {}

    /** {@code null} if continuations are usable, else a message that says how to fix it. */
    static String problem() {
        return PROBLEM;
    }

    static void check() {
        if (PROBLEM != null) {
            throw new IllegalStateException(PROBLEM);
        }
    }

    /** The module name an {@code --add-exports} must name to reach code in {@code m}. */
    static String exportTarget(Module m) {
        return m.isNamed() ? m.getName() : "ALL-UNNAMED";
    }

    private static String probe() {
        Class<?> cont;
        try {
            cont = Class.forName("jdk.internal.vm.Continuation");
        } catch (ClassNotFoundException e) {
            return "scheduler-threadpool needs jdk.internal.vm.Continuation, which this JVM (" + Runtime.version()
                    + ", " + System.getProperty("java.vm.name") + ") lacks: run on OpenJDK/HotSpot 21 or newer,"
                    + " or use io.coro4j:scheduler-loom instead";
        }
        try {
            MethodHandles.lookup().findVirtual(cont, "run", MethodType.methodType(void.class));
            return null;
        } catch (IllegalAccessException e) {
            return "scheduler-threadpool needs the JVM flag " + FLAG
                    + " (java.base does not export jdk.internal.vm to this code): add it to the java command line,"
                    + " or to Surefire's argLine / exec's arguments; or use io.coro4j:scheduler-loom, which needs no flag";
        } catch (NoSuchMethodException e) {
            return "jdk.internal.vm.Continuation of this JVM (" + Runtime.version() + ") has no run() method:"
                    + " scheduler-threadpool supports HotSpot JDK 21 to 25; use io.coro4j:scheduler-loom instead";
        }
    }
}
