package io.coro4j.spi;

/**
 * Creates schedulers of one kind; found by {@link java.util.ServiceLoader}.
 *
 * <p>Constructing a provider is cheap and starts nothing: it must have a public no-argument
 * constructor and do no work there. When several providers are present and none is chosen
 * explicitly, the one with the highest {@link #priority()} wins, ties broken by {@link #name()}.
 */
public interface SchedulerProvider {

    /** The name users choose it by ({@code -Dcoro4j.scheduler=NAME}); also {@link Scheduler#kind()}. */
    String name();

    /** Higher wins when several providers are present and none is chosen by name. */
    int priority();

    /**
     * Creates and starts a scheduler.
     *
     * @throws IllegalStateException if this JVM cannot run it, with a message that says how to fix that
     */
    Scheduler create(SchedulerConfig config);

    /**
     * The fiber, of any scheduler this provider created, that the calling code runs in; {@code null}
     * if none. Cheap: called whenever the API needs the current fiber.
     */
    Fiber currentFiber();
}
