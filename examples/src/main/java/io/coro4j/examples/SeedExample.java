package io.coro4j.examples;

import io.coro4j.Generator;
import io.coro4j.Step;
import java.io.PrintStream;

/**
 * The seed example: Python's
 * <pre>
 * def coroutine_example():
 *     print("Start of coroutine")
 *     x = yield
 *     print("Coroutine received:", x)
 * </pre>
 * driven with {@code next()} and {@code send(7)}. Where Python ends with a {@code StopIteration}
 * the caller must catch, coro4j returns a {@link Step.Returned} step.
 */
public final class SeedExample {

    private SeedExample() {}

    public static void main(String[] args) {
        run(System.out);
    }

    static void run(PrintStream out) {
        Generator<Void, Integer, Void> coroutine = Generator.of(co -> {
            out.println("Start of coroutine");
            Integer x = co.yield(null);
            out.println("Coroutine received: " + x);
            return null;
        });
        coroutine.next();                       // runs to the first yield
        Step<Void, Void> end = coroutine.send(7); // resumes it; the body returns
        out.println("Coroutine finished: done=" + end.isDone() + ", returned " + end.returnValue()
                + " (on the " + coroutine.scheduler().kind() + " scheduler)");
    }
}
