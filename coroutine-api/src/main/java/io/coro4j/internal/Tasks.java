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

    private static volatile EndWaits endWaits;

    /**
     * Waits of the current task for another task's end that do not observe its outcome: a
     * select's {@code onJoin} and {@code onAwait} clauses.
     */
    public interface EndWaits {
        /**
         * Refuses a wait of the current task for {@code target}'s end that could never end while the
         * wait lasts ({@code target} is the current task, or one it runs under).
         *
         * @param what the clause, named in the exception
         * @throws IllegalStateException then, or outside a task
         */
        void refuseHopeless(io.coro4j.Task<?> target, String what);

        /**
         * Registers the current task to be woken when {@code target} ends; returns the
         * registration, or null if {@code target} has ended. At the end, on {@code target}'s
         * thread before its group hears of the end, {@code atEnd} runs (once): its answer says
         * whether this registration hands the outcome out, so that the task counts as observed.
         * It must not block.
         */
        Object register(io.coro4j.Task<?> target, String what, java.util.function.BooleanSupplier atEnd);

        /** Takes back a registration made by {@link #register}, if it is still there. */
        void withdraw(io.coro4j.Task<?> target, Object registration);
    }

    /** Called once by {@code io.coro4j.Task}'s initializer. */
    public static void install(Function<String, TaskHandle> lookup, Function<Object, String> blockingCallLookup,
                               EndWaits endWaitsOfTasks) {
        blockingCallOf = blockingCallLookup;
        endWaits = endWaitsOfTasks;
        current = lookup;
    }

    /** The waits for a task's end of {@link EndWaits}; a task exists (it is waited for), so they are installed. */
    public static EndWaits endWaits() {
        return endWaits;
    }

    /**
     * Where the caller runs inside a task of {@code scheduler} that waits for it (a
     * {@code Coro.blocking} call of that task, or the body of a generator the task steps that runs
     * on a thread of its own), said as the rest of {@code close()}'s refusal; or null: none, or of
     * another scheduler. Null too before any task exists (no blocking call can run then).
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
