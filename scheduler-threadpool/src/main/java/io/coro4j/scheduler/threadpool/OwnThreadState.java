package io.coro4j.scheduler.threadpool;

/**
 * What the JDK keeps per {@code Thread} that code running on a thread it shares keeps as its own
 * while it is not running: its interrupt status and context class loader. A fiber shares its
 * carrier, a generator body its resumer's thread; a virtual thread (loom) has both of its own.
 * Put on the thread before the code runs, taken back after. Not thread-safe: used by the thread
 * the code runs on, and handed between threads through the run queues.
 */
abstract class OwnThreadState {

    /** The interrupt status the code left set, to be set again when it next runs. */
    boolean interrupted;
    /** The code's context class loader. */
    ClassLoader contextClassLoader;

    /** Puts this state on {@code thread}, the caller's, before the code runs on it. */
    final void putOn(Thread thread) {
        if (thread.getContextClassLoader() != contextClassLoader) {
            thread.setContextClassLoader(contextClassLoader);
        }
        if (interrupted) {
            interrupted = false;
            thread.interrupt();
        }
    }

    /**
     * Takes back what the code left on {@code thread}, the caller's, after it ran: the interrupt
     * status is cleared there, so that neither the next code on the thread sees it nor the
     * thread's own parks spin on it; the loader stays until the next {@link #putOn}, unless the
     * caller puts its own back (a carrier does, so as not to pin the loader while idle).
     */
    final void takeFrom(Thread thread) {
        contextClassLoader = thread.getContextClassLoader();
        interrupted = Thread.interrupted();
    }
}
