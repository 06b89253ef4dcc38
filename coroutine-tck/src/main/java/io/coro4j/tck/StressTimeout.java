package io.coro4j.tck;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

/**
 * A JUnit extension that fails a test running longer than {@value #BASE_SECONDS} seconds times the
 * stress multiplier ({@link Stress#PROPERTY} times {@link Stress#RUN_FACTOR}, never less than one):
 * a stress run ten times longer gets ten times the time, which a fixed {@code @Timeout} would not
 * give it. Like {@code @Timeout} in its default mode, the test runs on its own thread; at the limit
 * that thread is interrupted, and once the test returns or throws it fails with a
 * {@link TimeoutException} whose stack trace is where the test's thread was when time ran out (the
 * test's own failure, if any, suppressed on it).
 *
 * <p>Every suite of the kit has it, through {@link SchedulerTck}. Thread-safe; one daemon thread,
 * {@code coro4j-tck-timeout}, keeps time for all tests of the JVM.
 */
public final class StressTimeout implements InvocationInterceptor {

    /** The limit of a test at multiplier one, in seconds. */
    public static final long BASE_SECONDS = 180;

    private static final ScheduledExecutorService CLOCK = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "coro4j-tck-timeout");
        t.setDaemon(true);
        return t;
    });

    private final Duration base;

    /** The kit's extension: a base limit of {@value #BASE_SECONDS} seconds. */
    public StressTimeout() {
        this(Duration.ofSeconds(BASE_SECONDS));
    }

    StressTimeout(Duration base) {
        this.base = base;
    }

    /** The limit of one test now: the base times the stress multiplier, never less than the base. */
    public Duration limit() {
        double factor = Math.max(1.0, Stress.scaled(1_000_000) / 1_000_000.0);
        return Duration.ofNanos((long) Math.min(Long.MAX_VALUE, base.toNanos() * factor));
    }

    @Override
    public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> invocationContext,
                                    ExtensionContext extensionContext) throws Throwable {
        run(invocation, invocationContext.getExecutable().getName() + "()");
    }

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation,
                                            ReflectiveInvocationContext<Method> invocationContext,
                                            ExtensionContext extensionContext) throws Throwable {
        run(invocation, invocationContext.getExecutable().getName() + "()");
    }

    /** Runs {@code invocation}, failing it as the class comment says if it outlasts {@link #limit()}. */
    <T> T run(Invocation<T> invocation, String name) throws Throwable {
        Duration limit = limit();
        Thread test = Thread.currentThread();
        AtomicReference<StackTraceElement[]> whereItWas = new AtomicReference<>();
        ScheduledFuture<?> alarm = CLOCK.schedule(() -> {
            whereItWas.set(test.getStackTrace());
            test.interrupt();
        }, limit.toNanos(), TimeUnit.NANOSECONDS);
        T result;
        Throwable failure = null;
        try {
            result = invocation.proceed();
        } catch (Throwable t) {
            result = null;
            failure = t;
        }
        if (!alarm.cancel(false)) {
            // The alarm went off, or is going off just as the test ended: let it finish, so that
            // it is counted and its interrupt cleared below.
            try {
                alarm.get();
            } catch (Exception ignored) {
                // it cannot fail
            }
        }
        StackTraceElement[] stack = whereItWas.get();
        if (stack != null) {
            Thread.interrupted(); // the alarm's, not the test's
            TimeoutException timeout = new TimeoutException(name + " timed out after " + describe(limit)
                    + " (" + describe(base) + " times the stress multiplier, -D" + Stress.PROPERTY
                    + "); the stack trace is where its thread was then");
            timeout.setStackTrace(stack);
            if (failure != null) {
                timeout.addSuppressed(failure);
            }
            throw timeout;
        }
        if (failure != null) {
            throw failure;
        }
        return result;
    }

    private static String describe(Duration d) {
        long millis = d.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }
}
