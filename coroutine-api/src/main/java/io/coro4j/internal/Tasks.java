package io.coro4j.internal;

import java.util.function.Function;

/**
 * Gives coro4j's own packages access to the current task's {@link TaskHandle}, and a scheduler's
 * {@code close()} a way to see that it runs inside a blocking call of one of its tasks. Not an API.
 */
public final class Tasks {

    private static volatile Function<String, TaskHandle> current;

    private Tasks() {}

    /**
     * On the thread of a {@code Coro.blocking} call (or a generator it steps), the name of the task
     * that waits for the call if that task runs on {@code scheduler}, else null; installed with
     * the task look-up.
     */
    private static volatile Function<Object, String> blockingCallOf;

    /** Called once by {@code io.coro4j.Task}'s initializer. */
    public static void install(Function<String, TaskHandle> lookup, Function<Object, String> blockingCallLookup) {
        blockingCallOf = blockingCallLookup;
        current = lookup;
    }

    /**
     * The name of the task of {@code scheduler} that waits for the {@code Coro.blocking} call the
     * caller runs in, or null: none, or of another scheduler. Null too before any task exists (no
     * blocking call can run then).
     */
    public static String blockingCallOf(Object scheduler) {
        Function<Object, String> f = blockingCallOf;
        return f == null ? null : f.apply(scheduler);
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
