package io.coro4j.scheduler.threadpool;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;

/**
 * Keeps {@code ScopedValue} bindings with the fiber or generator that made them, not the carrier.
 *
 * <p>A binding ({@code ScopedValue.where(k, v).run(...)}) is recorded in a field of the current
 * {@code Thread}, set on entry and restored on exit. A virtual thread is a {@code Thread} of its
 * own; a fiber here runs on its carrier's, so a fiber that suspends inside a binding would leave it
 * on the carrier for every fiber run there next, and lose its own when it resumes after another
 * fiber entered or left one. The JDK's {@code ScopedValue} reads a {@code null} field as "not
 * known: find the bindings on the stack", where they are kept too (the frame of the binding
 * call). So the field is cleared whenever code of another fiber or generator is about to run on
 * the thread: each then finds its own bindings on its own stack (a continuation's frames are on
 * the stack while it runs), and the result is cached in the field again until the next switch.
 *
 * <p>The field is private to {@code java.lang.Thread}: it is written through a {@code VarHandle}
 * when {@code java.lang} is opened to this code, otherwise through {@code sun.misc.Unsafe} (whose
 * one-time deprecation warning JCTools already triggers), and not at all if neither works on the
 * running JDK, which is then logged once, as a warning.
 */
final class ScopedValueBindings {

    /** {@code (Thread, Object) -> void}: writes the thread's bindings field; null if not possible. */
    private static final MethodHandle SET;

    /**
     * {@code ScopedValue.where(k, TRUE).run(op)} for a key of this class's own, bound to its
     * carrier; null without ScopedValue. Each step of a generator runs inside it: see {@link #runApart}.
     */
    private static final MethodHandle BARRIER;

    static {
        MethodHandle set;
        try {
            Field field = Thread.class.getDeclaredField("scopedValueBindings");
            try {
                set = MethodHandles.privateLookupIn(Thread.class, MethodHandles.lookup())
                        .unreflectSetter(field);
            } catch (IllegalAccessException | RuntimeException notOpen) {
                Field theUnsafe = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                theUnsafe.setAccessible(true);
                sun.misc.Unsafe unsafe = (sun.misc.Unsafe) theUnsafe.get(null);
                @SuppressWarnings("removal")
                long offset = unsafe.objectFieldOffset(field);
                MethodHandle put = MethodHandles.lookup().findVirtual(sun.misc.Unsafe.class, "putObject",
                        MethodType.methodType(void.class, Object.class, long.class, Object.class));
                set = MethodHandles.insertArguments(put.bindTo(unsafe), 1, offset);
            }
            set = set.asType(MethodType.methodType(void.class, Thread.class, Object.class));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            set = null;
            System.getLogger(ScopedValueBindings.class.getName()).log(System.Logger.Level.WARNING,
                    "ScopedValue bindings made in a task of the threadpool scheduler are not kept per task on this"
                    + " JDK, so a task that suspends inside one leaves it to others on its carrier (" + e + "):"
                    + " use a CoroutineLocal, or the loom scheduler");
        }
        SET = set;
        MethodHandle barrier = null;
        if (set != null) {
            try {
                MethodHandles.Lookup l = MethodHandles.publicLookup();
                Class<?> sv = Class.forName("java.lang.ScopedValue");
                Class<?> carrier = Class.forName("java.lang.ScopedValue$Carrier");
                Object key = l.findStatic(sv, "newInstance", MethodType.methodType(sv)).invoke();
                Object where = l.findStatic(sv, "where", MethodType.methodType(carrier, sv, Object.class))
                        .invoke(key, Boolean.TRUE);
                barrier = l.findVirtual(carrier, "run", MethodType.methodType(void.class, Runnable.class))
                        .bindTo(where);
            } catch (Throwable noScopedValues) {
                barrier = null; // no ScopedValue on this JDK (21-24 without preview features): nothing to keep apart
            }
        }
        BARRIER = barrier;
    }

    /**
     * Runs {@code step}, the mount of a generator body's continuation, so that the body sees the
     * bindings it makes and none of its resumer's, as a body on loom (a virtual thread of its own)
     * does. The body's frames are above its resumer's while it runs, so a look-up that walks the
     * stack would go on into the resumer's frames, and the continuation keeps the JDK's per-thread
     * cache of looked-up values across its yields: a body that read a binding of a resumer kept
     * seeing it after that binding had ended. Here the thread is first given no bindings (what a
     * new thread starts with), and the step runs inside a binding of a key of this class's own,
     * made then: a walk from the body passes the bottom of its continuation and stops at that
     * binding's frame, whose bindings are that key alone, and the cache holds only what the body
     * itself can see. {@code step} must clear the bindings field ({@link #forget}) before it
     * mounts the body, so that the body's walk finds the bindings on its own frames first.
     *
     * <p>The binding is made around each step, on the resumer's side of the continuation, not
     * once at the bottom of the continuation around the whole body: the JDK's binding frames
     * ({@code ScopedValue.Carrier.run}, {@code ScopedValueContainer.run}), once compiled by C2,
     * keep the {@code Thread} they were entered on to restore its bindings on the way out (C2
     * reads {@code Thread.currentThread()} once per compiled method outside the JDK's own
     * {@code @ChangesCurrentThread} code). Left at the bottom of a generator, they kept the thread
     * that stepped it first reachable for as long as the generator was suspended, and, once the
     * body returned on another thread, gave that first thread's bindings field the barrier's
     * outer bindings, from this other thread: the first thread, inside a binding of its own, then
     * found its value unbound. Around a step, they are entered and left on the resumer's thread
     * (or, when the body suspends a whole task, on its carriers, with the task's own frames).
     *
     * <p>What this cannot do: the same holds for the body's own binding frames, and those are the
     * user's. A binding the body enters on one thread, yields inside, and leaves after being resumed
     * on another is left, once C2 compiled those JDK frames, by writing the bindings the body had
     * when it entered it (this step's barrier binding, below any of the body's own) into the
     * bindings field of the thread it was entered on, from the thread leaving it. That thread, a
     * plain one or a carrier, may be running anything by then: inside a binding of its own, it finds
     * its keys unbound, in bindings it enters meanwhile too, until it leaves that binding, steps a
     * generator here ({@link #forget}), or, a fiber, is run again after a suspension ({@code
     * Worker} forgets first); and the frame keeps that thread reachable while the body waits
     * suspended inside the binding. Nothing on the resumers' side can undo a write made to another
     * thread at a time of the body's choosing (clearing that thread's field afterwards would race
     * with its own bindings), and what C2 keeps is not ours to change. The README says so: on this
     * scheduler, do not yield inside a binding in a body stepped from several threads.
     */
    static void runApart(Runnable step) {
        if (BARRIER == null) {
            step.run();
            return;
        }
        try {
            SET.invokeExact(Thread.currentThread(), (Object) Thread.class); // the JDK's mark of a new thread
            BARRIER.invokeExact(step);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private ScopedValueBindings() {}

    /** Makes the next {@code ScopedValue} look-up on {@code thread}, which must be the caller's, search the stack. */
    static void forget(Thread thread) {
        if (SET != null) {
            try {
                SET.invokeExact(thread, (Object) null);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }
}
