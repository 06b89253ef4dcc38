package io.coro4j.tck;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;

/**
 * Runs code inside a class initializer, which the JVM calls through a native frame: there
 * threadpool's continuations cannot yield (a park or a generator's yield is refused), and a loom
 * virtual thread pins its carrier. For the tests of what suspension points do in such a place.
 */
final class ClassInitializers {

    private ClassInitializers() {}

    /** What the initializer of the next {@link RunsInItsInitializer} defined runs. */
    static volatile Runnable initializerAction;

    /** A class whose static initializer runs {@link #initializerAction}: defined afresh, hidden, for each use. */
    static final class RunsInItsInitializer {
        static {
            initializerAction.run();
        }
    }

    /** Runs {@code action} in a class initializer, on the calling thread, and returns once it has. */
    static void run(Runnable action) throws IOException, IllegalAccessException {
        byte[] bytes;
        try (InputStream in = ClassInitializers.class.getResourceAsStream("ClassInitializers$RunsInItsInitializer.class")) {
            bytes = in.readAllBytes();
        }
        initializerAction = action;
        MethodHandles.lookup().defineHiddenClass(bytes, true);
    }
}
