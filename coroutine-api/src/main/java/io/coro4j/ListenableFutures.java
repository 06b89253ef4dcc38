package io.coro4j;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Awaiting Guava's {@link ListenableFuture} from a task. A class of its own so that Guava is
 * needed on the classpath only by code that calls it.
 */
public final class ListenableFutures {

    private ListenableFutures() {}

    /**
     * Suspends the current task until {@code future} completes and returns its value; the carrier
     * never blocks. If the task is cancelled meanwhile, the future is cancelled too; what that
     * cancel throws (a listener it runs on this thread that fails) is suppressed on the task's
     * {@link CancellationException}.
     *
     * <p>The wake-up is a listener on {@code future} (run by {@code directExecutor}). Guava runs a
     * future's listeners one after another on the thread that completes it, and a listener that
     * throws an {@link Error} there ends that run: the Error comes out of the completing call
     * ({@code set}, {@code setException}, {@code cancel}) and the listeners added after it never
     * run, this await's included if it came later. The task then waits until it is cancelled,
     * which wakes it: it finds the future done and returns its outcome.
     * Listeners that throw exceptions are logged by Guava and do not stop the others.
     *
     * @throws CancellationException if the future was cancelled, or the current task is
     * @throws CompletionException wrapping a checked failure of the future; unchecked ones as they are
     * @throws IllegalStateException outside a task
     */
    public static <T> T await(ListenableFuture<T> future) {
        Task.requireNonNullArg(future, "future");
        Task<?> t = Task.require("ListenableFutures.await");
        if (!future.isDone()) {
            // The future may outlive this wait by far: its listener keeps a waker, cleared below, not the task.
            Coro.Waker waker = new Coro.Waker(t);
            future.addListener(waker, MoreExecutors.directExecutor());
            try {
                t.suspendUntil(future::isDone);
            } catch (CancellationException e) {
                try {
                    future.cancel(true);
                } catch (Throwable failedToCancel) {
                    // The future's cancel, or a listener it ran on this thread, threw: the task is
                    // cancelled all the same, carrying that failure, not failed with it.
                    Task.suppressOn(e, failedToCancel);
                }
                throw e;
            } finally {
                waker.task = null;
            }
        }
        try {
            // Not get(): it throws InterruptedException when the task's interrupt status is set,
            // even on a done future, and that status is the task's own, not a wake-up.
            return Futures.getDone(future);
        } catch (ExecutionException e) {
            throw Task.rethrow(e.getCause());
        }
    }
}
