package io.coro4j;

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
     * never blocks. If the task is cancelled meanwhile, the future is cancelled too.
     *
     * @throws CancellationException if the future was cancelled, or the current task is
     * @throws CompletionException wrapping a checked failure of the future; unchecked ones as they are
     * @throws IllegalStateException outside a task
     */
    public static <T> T await(ListenableFuture<T> future) {
        Task.requireNonNullArg(future, "future");
        Task<?> t = Task.require("ListenableFutures.await");
        if (!future.isDone()) {
            future.addListener(t::wake, MoreExecutors.directExecutor());
            try {
                t.suspendUntil(future::isDone);
            } catch (CancellationException e) {
                future.cancel(true);
                throw e;
            }
        }
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw Task.rethrow(e.getCause());
        } catch (InterruptedException e) {
            // A done future's get() does not wait, so this cannot happen; keep the flag if it does.
            Thread.currentThread().interrupt();
            throw new CompletionException(e);
        }
    }
}
