package io.coro4j;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * A value per coroutine context, like Python's {@code contextvars.ContextVar}: use it where a
 * {@link ThreadLocal} would be wrong. On the threadpool scheduler a task's carrier thread is
 * shared with other tasks, so ThreadLocals are the carrier's, not the task's.
 *
 * <ul>
 *   <li>Inside a task, values belong to that task; they survive every suspension, on every
 *       scheduler, whichever carrier the task continues on.</li>
 *   <li>A task started by {@link Coro#spawn}, a {@link TaskGroup} or {@link Coro#run} starts with a
 *       snapshot of its parent's values; later sets on either side are not seen by the other.</li>
 *   <li>A generator body sees the values of the task that resumes it; {@link Coro#blocking} bodies
 *       see the calling task's values.</li>
 *   <li>Outside tasks, values belong to the current thread. The completion callbacks that a
 *       task's end runs (on its carrier, or its own thread) are outside any task: they start with
 *       no values, and what they set is dropped after them.</li>
 * </ul>
 *
 * <p>Thread-safe; {@code null} is a valid value.
 *
 * @param <T> the type of the value
 */
public final class CoroutineLocal<T> {

    private static final Object NULL = new Object();
    private static final Map<CoroutineLocal<?>, Object> EMPTY = Map.of();
    private static final ThreadLocal<Map<CoroutineLocal<?>, Object>> THREAD_VALUES = ThreadLocal.withInitial(() -> EMPTY);

    private final Supplier<? extends T> initial;
    private final String name;

    /** A local whose value is {@code null} until set. */
    public CoroutineLocal(String name) {
        this(name, () -> null);
    }

    private CoroutineLocal(String name, Supplier<? extends T> initial) {
        this.name = Objects.requireNonNull(name, "name");
        this.initial = Objects.requireNonNull(initial, "initial");
    }

    /** A local whose value, until set, is what {@code initial} supplies (called on each such read). */
    public static <T> CoroutineLocal<T> withInitial(String name, Supplier<? extends T> initial) {
        return new CoroutineLocal<>(name, initial);
    }

    /** The current context's value. */
    @SuppressWarnings("unchecked")
    public T get() {
        Object v = values().get(this);
        if (v == null) {
            return initial.get();
        }
        return v == NULL ? null : (T) v;
    }

    /** Sets the current context's value. */
    public void set(T value) {
        Map<CoroutineLocal<?>, Object> copy = new HashMap<>(values());
        copy.put(this, value == null ? NULL : value);
        replace(Map.copyOf(copy));
    }

    /** Removes the current context's value, so {@link #get()} returns the initial value again. */
    public void remove() {
        Map<CoroutineLocal<?>, Object> copy = new HashMap<>(values());
        copy.remove(this);
        replace(Map.copyOf(copy));
    }

    /**
     * Runs {@code body} with this local set to {@code value}, then gives this local back the value
     * it had before (or none, if it had none). Only this local: what the body set in others stays
     * set, and in a generator body that yields inside it and is resumed by another task, the
     * other task's values are left alone, this local's included (the entering task's value of
     * it is not put back there, and that task keeps {@code value}). Outside tasks this is not
     * told apart: a body resumed by plain threads that enters {@code with} on one and leaves it on
     * another gives the second thread the first one's earlier value of this local.
     *
     * @throws NullPointerException if {@code body} is null (this local is then left as it was)
     * @throws Exception whatever the body threw, unchanged
     */
    public <R> R with(T value, Callable<R> body) throws Exception {
        Objects.requireNonNull(body, "body");
        Task<?> entering = Task.current();
        Object before = values().get(this); // null if unset, NULL if set to null
        set(value);
        try {
            return body.call();
        } finally {
            if (Task.current() == entering) {
                restore(before);
            }
        }
    }

    /** Gives this local back {@code before} (null: unset) in the current context, leaving the others. */
    private void restore(Object before) {
        Map<CoroutineLocal<?>, Object> copy = new HashMap<>(values());
        if (before == null) {
            copy.remove(this);
        } else {
            copy.put(this, before);
        }
        replace(Map.copyOf(copy));
    }

    @Override
    public String toString() {
        return "CoroutineLocal[" + name + "]";
    }

    private static Map<CoroutineLocal<?>, Object> values() {
        Task<?> t = Task.current();
        return t != null ? t.context : threadValues();
    }

    /** The calling thread's own values (outside tasks), read afresh: see {@link FreshThreadLocals}. */
    @SuppressWarnings("unchecked")
    private static Map<CoroutineLocal<?>, Object> threadValues() {
        return (Map<CoroutineLocal<?>, Object>) FreshThreadLocals.get(THREAD_VALUES);
    }

    private static void replace(Map<CoroutineLocal<?>, Object> values) {
        Task<?> t = Task.current();
        if (t != null) {
            t.context = values;
        } else {
            setThreadValues(values);
        }
    }

    /** Makes {@code values} the calling thread's own (outside tasks). */
    static void setThreadValues(Map<CoroutineLocal<?>, Object> values) {
        FreshThreadLocals.set(THREAD_VALUES, values);
    }

    /**
     * Drops the calling thread's own values, if it has any: after the completion callbacks of a
     * task that ended on a carrier shared with other tasks. A thread that has none keeps the same
     * empty map (one read, no write).
     */
    static void clearThreadValues() {
        if (threadValues() != EMPTY) {
            setThreadValues(EMPTY);
        }
    }

    static Map<CoroutineLocal<?>, Object> threadSnapshot() {
        return threadValues();
    }

    static void runWithThreadContext(Map<CoroutineLocal<?>, Object> values, Runnable body) {
        Map<CoroutineLocal<?>, Object> before = threadValues();
        setThreadValues(values);
        try {
            body.run();
        } finally {
            setThreadValues(before);
        }
    }
}
