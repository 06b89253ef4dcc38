package io.coro4j.internal;

import java.util.function.Function;

/**
 * Gives coro4j's own packages access to the current task's {@link TaskHandle}. Not an API.
 */
public final class Tasks {

    private static volatile Function<String, TaskHandle> current;

    private Tasks() {}

    /** Called once by {@code io.coro4j.Task}'s initializer. */
    public static void install(Function<String, TaskHandle> lookup) {
        current = lookup;
    }

    /**
     * The current task's handle.
     *
     * @param what the operation, named in the exception thrown outside a task
     * @throws IllegalStateException if the caller is not in a task
     */
    public static TaskHandle current(String what) {
        Function<String, TaskHandle> f = current;
        if (f == null) {
            try {
                Class.forName("io.coro4j.Task", true, Tasks.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
            f = current;
        }
        return f.apply(what);
    }
}
