package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Task;
import java.lang.reflect.Field;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Opens, every time, the window in which a cancelled waiter of a {@code io.coro4j.channel}
 * primitive (a channel, semaphore or lock) has seen its cancellation but not yet taken the
 * primitive's lock to withdraw: a plain thread holds that lock, waits until the waiter queues for
 * it, and then, still holding it, runs a grant (a release, a try-send, a try-receive) that
 * completes the waiter. The waiter must then keep what it was granted. The lock is read by
 * reflection: white-box, as no other way reaches this window without a seam in production code.
 */
final class GrantWindow {

    /** Counted down once the plain thread holds the primitive's lock. */
    final CountDownLatch held = new CountDownLatch(1);
    /** What the grant or the wait for the waiter threw, if anything. */
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final Thread thread;

    private GrantWindow(ReentrantLock lock, Runnable grant) {
        thread = Thread.ofPlatform().daemon().name("tck-grant-window").start(() -> {
            lock.lock();
            try {
                held.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!lock.hasQueuedThreads()) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new AssertionError("no waiter queued for the primitive's lock within 30 s");
                    }
                    Thread.onSpinWait();
                }
                grant.run(); // the lock is reentrant: the grant takes it again on this thread
            } catch (Throwable e) {
                failure.set(e);
            } finally {
                lock.unlock();
            }
        });
    }

    /** Starts the plain thread that holds {@code primitive}'s lock and grants under it. */
    static GrantWindow open(Object primitive, Runnable grant) {
        return new GrantWindow(lockOf(primitive), grant);
    }

    /**
     * Inside a task: opens the window on {@code primitive}, cancels {@code waiter} (a task waiting
     * in it) once the lock is held, so that the waiter queues for the lock to withdraw, and returns
     * once {@code grant} has run under it; asserts that the waiter ended cancelled (it has seen
     * its cancellation) and that the grant threw nothing.
     */
    static void cancelAndGrant(Object primitive, Task<?> waiter, Runnable grant) {
        GrantWindow window = open(primitive, grant);
        SchedulerTck.until("the primitive's lock is held", () -> window.held.getCount() == 0);
        waiter.cancel();
        SchedulerTck.assertCancelled(waiter);
        SchedulerTck.until("the grant is done", window::closed);
        assertThat(window.failure.get()).as("what the grant threw").isNull();
    }

    /** Whether the plain thread has ended (it has granted, or failed). */
    boolean closed() {
        return !thread.isAlive();
    }

    private static ReentrantLock lockOf(Object primitive) {
        for (Field f : primitive.getClass().getDeclaredFields()) {
            if (f.getType() == ReentrantLock.class) {
                try {
                    f.setAccessible(true);
                    return (ReentrantLock) f.get(primitive);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new AssertionError("cannot read the lock of " + primitive, e);
                }
            }
        }
        throw new AssertionError(primitive.getClass() + " has no ReentrantLock field");
    }
}
