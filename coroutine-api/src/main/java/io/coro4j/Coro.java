package io.coro4j;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.Timeout;
import io.coro4j.spi.TimerThread;
import java.io.InterruptedIOException;
import java.lang.ref.WeakReference;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * asyncio on the JVM: the entry point ({@link #run}), tasks ({@link #spawn}), waiting
 * ({@link #await}, {@link #gather}, {@link #asCompleted}), time ({@link #sleep},
 * {@link #withTimeout}), structure ({@link #taskGroup}), cleanup that must suspend in a cancelled
 * task ({@link #shielded}) and blocking calls ({@link #blocking}).
 *
 * <p>Every method except {@link #run}, {@link #currentTask} (null outside a task) and
 * {@link #blocking} (which just calls its body there) must be called from inside a task; outside
 * one it throws {@link IllegalStateException} saying so. Each waiting method is a suspension
 * point: it suspends the task (never blocking its carrier thread) and throws
 * {@link CancellationException} if the task is cancelled, or a timeout or task group around it is
 * (not inside {@link #shielded}, where that waits until the shield ends). As in asyncio, an
 * {@link #await} or {@link #gather} of what has already finished (and a {@link Task#join()} of a
 * task that has ended) does not suspend: it returns, and a pending cancellation comes at the next
 * suspension point that waits.
 *
 * <p>Failures cross task boundaries as they are when unchecked; a checked exception arrives
 * wrapped in a {@link CompletionException}. Inline constructs ({@link #withTimeout},
 * {@link #taskGroup}, {@link #blocking}) rethrow their body's exception unchanged.
 */
public final class Coro {

    private Coro() {}

    /**
     * Runs {@code main} as a task on the {@linkplain Schedulers#defaultScheduler() default scheduler}
     * and blocks the calling thread until it, and every task it spawned, has finished.
     *
     * @return the value {@code main} returned
     * @throws IllegalStateException if called from inside a fiber (it would block a carrier)
     * @throws java.util.concurrent.RejectedExecutionException if the scheduler is shut down
     * @throws CancellationException if the task was cancelled (also: the calling thread was interrupted;
     *     one whose interrupt status is set when it calls never runs {@code main}'s body); the calling
     *     thread keeps its interrupt status
     * @throws CompletionException wrapping a checked exception {@code main} failed with;
     *     unchecked ones are rethrown as they are
     */
    public static <T> T run(Callable<T> main) {
        return run(Schedulers.defaultScheduler(), main);
    }

    /** {@link #run(Callable)} on the given scheduler. */
    public static <T> T run(Scheduler scheduler, Callable<T> main) {
        Task.requireNonNullArg(scheduler, "scheduler");
        Task.requireNonNullArg(main, "main");
        if (Schedulers.currentFiber() != null) {
            if (Task.current() == null) {
                throw new IllegalStateException("Coro.run called on a fiber's thread outside any task (a completion"
                        + " callback that a task's end runs there): it would block that fiber's thread; run the"
                        + " program from a plain thread instead (for example CompletableFuture.runAsync(...))");
            }
            throw new IllegalStateException("Coro.run called from inside a fiber: it would block a carrier thread;"
                    + " inside a task use Coro.spawn(...) and join() instead");
        }
        Task<T> root = new Task<>(scheduler, main, null, CoroutineLocal.threadSnapshot());
        // Interrupted already: the main task is cancelled as an interrupt during the wait would
        // cancel it, but before it starts, so that it never runs its body. Looked at only once
        // the wait began, the main task raced the look: it could run, part way or to its end.
        // The status stays set (a refused start keeps it): the wait below takes it and sets it again.
        if (Thread.currentThread().isInterrupted()) {
            root.cancel();
        }
        root.start();
        boolean interrupted = false;
        while (true) {
            try {
                root.result.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
                root.cancel();
            } catch (ExecutionException | CancellationException e) {
                break;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return root.outcome();
    }

    /** The task the caller runs in, or {@code null} outside any task. */
    public static Task<?> currentTask() {
        return Task.current();
    }

    /**
     * Starts {@code body} as a child of the current task: the current task does not finish
     * before it does. Its failure cancels nothing, but if nobody joins or gathers it, the current
     * task fails with it when it finishes. If the current task's body fails (or is cancelled)
     * while the child still runs, the child is cancelled, and the task ends once it has
     * (kotlinx.coroutines' rule; asyncio would leave it running unowned).
     *
     * @throws IllegalStateException outside a task
     * @throws java.util.concurrent.RejectedExecutionException if the scheduler is shut down
     */
    public static <T> Task<T> spawn(Callable<T> body) {
        Task.requireNonNullArg(body, "body");
        Task<?> caller = Task.require("Coro.spawn");
        return caller.ownGroup().spawn(body, caller);
    }

    /**
     * Throws {@link CancellationException} if the current task is cancelled (or a timeout or task
     * group around it is, outside a {@link #shielded} body opened inside them); otherwise does nothing.
     */
    public static void checkCancelled() {
        Task.require("Coro.checkCancelled").checkCancelled();
    }

    /**
     * Lets other runnable tasks run before the current one continues (asyncio's
     * {@code sleep(0)}): the current task goes behind those waiting for a carrier. With several
     * carriers, a task running on another one at that moment may still be running when it
     * continues: this is no way to wait for other tasks (join them, or use a channel or an event).
     * On the loom scheduler, a task woken from outside the JDK's carriers (by a timer, or by a plain
     * thread) may wait a few yields of a task that keeps yielding: one yield in 32, on average,
     * goes behind it (the JDK's {@code Thread.yield()} alone would let such a task wait for ever).
     */
    public static void yieldNow() {
        Task<?> t = Task.require("Coro.yieldNow");
        t.checkCancelled();
        t.fiber().yieldNow();
        t.checkCancelled();
    }

    /**
     * Suspends the current task for {@code duration}; no thread sleeps. A zero duration lets other
     * tasks run first, as {@link #yieldNow()} does (asyncio's {@code sleep(0)}); one too long to
     * count in nanoseconds (such as {@code ChronoUnit.FOREVER.getDuration()}) sleeps until the
     * task, or a timeout or task group around it, is cancelled.
     *
     * @throws NullPointerException if {@code duration} is null
     * @throws IllegalArgumentException if {@code duration} is negative
     */
    public static void sleep(Duration duration) {
        long nanos = nanos(duration, "sleep duration");
        Task<?> t = Task.require("Coro.sleep");
        if (nanos == 0) {
            yieldNow();
            return;
        }
        // A timed park per round (the scheduler's timer, or a virtual thread's own parkNanos on
        // loom), re-checking the clock, so that a wake-up for another reason never ends it early.
        long deadline = System.nanoTime() + Math.min(nanos, Long.MAX_VALUE >> 1);
        Fiber f = t.fiber();
        while (true) {
            t.checkCancelled();
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            f.parkNanos(left);
        }
    }

    /**
     * Suspends until {@code stage} completes and returns its value. If the current task is
     * cancelled meanwhile, the stage is cancelled too when it is a {@link Future} that can be
     * (a {@linkplain CompletableFuture#minimalCompletionStage() minimal stage} cannot; what its
     * {@code cancel} throws is suppressed on the task's {@link CancellationException}), except a
     * task's own stage ({@link Task#toCompletionStage()}, {@link Task#toCompletableFuture()}): that
     * is awaited as {@link Task#join()} joins the task, so it is left as it is (the task runs on, and
     * the stage still gets its outcome at its end), and an await that gives up leaves the task's
     * failure to its group.
     *
     * @throws CancellationException if the stage was cancelled or the current task is
     * @throws CompletionException wrapping a checked failure of the stage; unchecked ones as they are
     * @throws IllegalStateException if the stage is the current task's own, or that of a task it runs
     *     under (see {@link Task#join()}), and neither it nor the task is done: it would wait forever
     */
    public static <T> T await(CompletionStage<T> stage) {
        Task.requireNonNullArg(stage, "stage");
        Task<?> t = Task.require("Coro.await");
        if (stage instanceof Task.View<T> view) {
            // A task's own stage: waited for as a join, so that an await that gives up does not
            // count as having observed the task, and awaiting one's own task is refused as joining
            // it is; but it returns what the stage holds, which its holder may have completed.
            return view.task.await(view);
        }
        CompletableFuture<T> f = toFuture(stage);
        if (!f.isDone()) {
            // The stage may outlive this wait by far: what it keeps is a waker, cleared below, not the task.
            Waker waker = new Waker(t);
            f.whenComplete(waker);
            try {
                t.suspendUntil(f::isDone);
            } catch (CancellationException e) {
                if (stage instanceof Future<?> future) {
                    try {
                        future.cancel(true);
                    } catch (UnsupportedOperationException minimalStage) {
                        // CompletableFuture.minimalCompletionStage(): not cancellable.
                    } catch (Throwable failedToCancel) {
                        // The stage's cancel, or a callback it ran, threw: the task is cancelled all
                        // the same, carrying that failure (as a blocking call's end), not failed with it.
                        Task.suppressOn(e, failedToCancel);
                    }
                }
                throw e;
            } finally {
                waker.task = null;
            }
        }
        return Task.valueOf(f);
    }

    /**
     * Wakes a task when a stage completes, until cleared: a callback cannot be taken off a
     * {@link CompletableFuture}, so a wait that ends leaves this small object behind, not its task.
     */
    static final class Waker implements java.util.function.BiConsumer<Object, Throwable>, Runnable {
        volatile Task<?> task;

        Waker(Task<?> task) {
            this.task = task;
        }

        @Override
        public void accept(Object value, Throwable failure) {
            run();
        }

        @Override
        public void run() {
            Task<?> t = task;
            if (t != null) {
                t.wake();
            }
        }
    }

    private static <T> CompletableFuture<T> toFuture(CompletionStage<T> stage) {
        if (stage instanceof CompletableFuture<T> cf) {
            // Itself, unless it is a minimal stage (CompletableFuture.minimalCompletionStage()),
            // whose isDone and join throw UnsupportedOperationException.
            return cf.toCompletableFuture();
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        stage.whenComplete((v, e) -> {
            if (e != null) {
                f.completeExceptionally(e instanceof CompletionException ce && ce.getCause() != null ? ce.getCause() : e);
            } else {
                f.complete(v);
            }
        });
        return f;
    }

    /**
     * Runs {@code body} in the current task, cancelling it if it takes longer than
     * {@code timeout}; the body sees a {@link CancellationException} at its next suspension point.
     *
     * <p>In a generator body, do not yield while a timeout (or a {@link #taskGroup}) opened in
     * that body is open: it belongs to the task that resumed the body, and while the body is
     * paused it would cancel that task's own code, as in Python (PEP 789). Open it around the
     * code between two yields instead.
     *
     * <p>A zero timeout has expired before the body starts: the body runs up to its first
     * suspension point and is cancelled there, every time (so a receive from a channel that holds an
     * item times out without taking it; a body that never suspends returns its value, as with any
     * timeout, and so does a body that only joins, awaits or gathers what has already finished,
     * which does not suspend).
     *
     * <p>If the task is cancelled (or an enclosing timeout or task group is) while the body unwinds
     * from this timeout, that cancellation propagates, not a timeout (nor {@code null}).
     *
     * <p>A timeout too long to count in nanoseconds (over about 292 years, such as
     * {@code ChronoUnit.FOREVER.getDuration()}) never expires. A negative one is refused, as
     * {@link #sleep} refuses a negative duration (asyncio and kotlinx.coroutines take a deadline
     * already passed as expired: pass {@link Duration#ZERO} for that).
     *
     * @throws NullPointerException if {@code timeout} or {@code body} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws TimeoutExceededException if the timeout cancelled the body (not a
     *     CancellationException: an outer cancellation is never mistaken for it, nor it for one)
     * @throws Exception whatever the body threw, unchanged
     */
    public static <T> T withTimeout(Duration timeout, Callable<T> body) throws Exception {
        return timed(timeout, body, false, "Coro.withTimeout");
    }

    /**
     * {@link #withTimeout}, but returns {@code null} instead of throwing when the timeout expires.
     * A failure that the expired timeout would carry as suppressed (a blocking call that failed
     * for another reason than the interrupt, a resource that failed to close) cannot ride on a
     * null: it goes to the current thread's uncaught-exception handler, wrapped in an
     * {@link IllegalStateException} that says so.
     *
     * <p>A body that returns {@code null} in time returns {@code null} too: where the body may
     * return {@code null}, use {@link #withTimeout} (or, for a select, a
     * {@link io.coro4j.channel.Select#onTimeout} clause) to tell the two apart. The {@code null} is this
     * timeout's only: an enclosing timeout that expires meanwhile throws (or returns its own
     * {@code null}), and a cancellation of the task propagates, as for {@link #withTimeout}.
     *
     * @throws NullPointerException if {@code timeout} or {@code body} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws Exception whatever the body threw, unchanged
     */
    public static <T> T withTimeoutOrNull(Duration timeout, Callable<T> body) throws Exception {
        return timed(timeout, body, true, "Coro.withTimeoutOrNull");
    }

    /**
     * Runs {@code body} in the current task shielded from cancellation, and returns what it
     * returns or throws what it throws, unchanged. Inside it no suspension point (nor
     * {@link #checkCancelled()}) throws for a cancellation of the task, nor for a timeout or task
     * group opened around the shield, so that code which must suspend to clean up can do so in a
     * {@code finally} block of a cancelled task: send a last message, await a close, take a lock.
     * Timeouts and task groups opened inside the body work as they do anywhere; bound the
     * cleanup with {@link #withTimeout} inside the shield, since nothing outside it can stop it.
     * This is Trio's and anyio's {@code CancelScope(shield=True)} and kotlinx.coroutines'
     * {@code withContext(NonCancellable)} (asyncio's {@code shield} protects an awaited task
     * instead, while the awaiting one is cancelled all the same).
     *
     * <pre>{@code
     * try {
     *     serve(connection);
     * } finally {
     *     Coro.shielded(() -> Coro.withTimeout(Duration.ofSeconds(1), () -> {
     *         connection.sendGoodbye();   // suspends: a channel send, an await
     *         return null;
     *     }));
     * }
     * }</pre>
     *
     * <p>A cancellation that arrives while the body runs is not lost: it stays pending, and the
     * first suspension point after the shield raises it (a timeout around the shield that expired
     * meanwhile throws its {@link TimeoutExceededException} there). The shield itself does not
     * raise it on the way out, so that it does not replace an exception a {@code finally} block is
     * propagating. A task that reaches no other suspension point ends with what its body returned
     * or threw, as a task does that is cancelled after its last suspension point.
     *
     * <p>In a generator body, do not yield inside the shield: like a timeout (PEP 789), it belongs
     * to the task that resumed the body, and while the body is paused it would shield that task's
     * own code, until the body is resumed past the shield or the generator is closed (a generator
     * left paused there keeps that task from being cancelled).
     *
     * @throws NullPointerException if {@code body} is null
     * @throws IllegalStateException outside a task, or inside a {@link #blocking} call
     * @throws Exception whatever the body threw, unchanged
     */
    public static <T> T shielded(Callable<T> body) throws Exception {
        Task.requireNonNullArg(body, "body");
        Task<?> t = Task.require("Coro.shielded");
        Task.CancelScope shield = new Task.CancelScope(true);
        t.pushScope(shield);
        try {
            return body.call();
        } finally {
            t.popScope(shield);
        }
    }

    private static <T> T timed(Duration timeout, Callable<T> body, boolean orNull, String what) throws Exception {
        long nanos = nanos(timeout, "timeout");
        Task.requireNonNullArg(body, "body");
        Task<?> t = Task.require(what);
        Task.CancelScope scope = new Task.CancelScope(false);
        t.pushScope(scope);
        Timeout timer;
        if (nanos == 0) {
            // Expired already: cancelled here, not by a timer that would race the body's first
            // suspension point and make the outcome of a body that suspends at once a matter of luck.
            scope.cancelled = true;
            timer = () -> false; // nothing scheduled, nothing to cancel
        } else {
            timer = t.scheduler.schedule(() -> {
                scope.cancelled = true;
                t.wake();
            }, nanos, TimeUnit.NANOSECONDS);
        }
        boolean open = true;
        try {
            return body.call();
        } catch (Task.ScopeCancelledException e) {
            if (e.scope != scope) {
                throw e;
            }
            open = false;
            timer.cancel();
            t.popScope(scope);
            // Cancelled by something else too (the task, an enclosing timeout or group) while the body
            // unwound from this timeout: that cancellation propagates, not this timeout, as in
            // asyncio (whose timeout re-raises CancelledError when the task has other cancel requests).
            CancellationException other = t.pendingCancellation();
            if (other != null) {
                other.addSuppressed(e);
                throw other;
            }
            if (orNull) {
                reportBesideNull(e, timeout, null);
                return null;
            }
            TimeoutExceededException expired = new TimeoutExceededException(timeout);
            for (Throwable s : e.getSuppressed()) {
                expired.addSuppressed(s); // what the cancellation carried (a blocking call's end)
            }
            throw expired;
        } finally {
            if (open) {
                timer.cancel();
                t.popScope(scope);
            }
        }
    }

    /**
     * What the expired cancellation of {@link #withTimeoutOrNull} carried, which its null cannot:
     * each failure (a blocking call that failed when interrupted, a resource that failed to close)
     * goes to the uncaught-exception handler, as a failure nobody could observe, instead of
     * vanishing. A blocking call's plain answer to the interrupt is no failure. {@code visited}:
     * the cancellations looked inside so far (null: only {@code expired}), so that no loop of them
     * recurs.
     */
    private static void reportBesideNull(Throwable expired, Duration timeout, java.util.Set<Throwable> visited) {
        for (Throwable s : expired.getSuppressed()) {
            if (s instanceof CancellationException under) {
                // An inner timeout that expired too, whose cancellation went on as this one's:
                // what it carried sits one level down and is as unobservable as the rest.
                if (visited == null) {
                    visited = Task.identitySet();
                    visited.add(expired);
                }
                if (visited.add(under)) {
                    reportBesideNull(under, timeout, visited);
                }
            } else if (!answersTheInterrupt(s)) {
                TimerThread.reportUncaught(new IllegalStateException("a failure that ended beside the timeout (after "
                        + timeout + ") of Coro.withTimeoutOrNull, which returned null; reported here so that it is"
                        + " not lost (Coro.withTimeout throws it suppressed on its TimeoutExceededException)", s));
            }
        }
    }

    /**
     * Whether a blocking call's {@code failure} is the JDK's plain answer to the interrupt its
     * thread, a virtual thread, got: an {@link InterruptedException}, a
     * {@link ClosedByInterruptException} (an interruptible channel), a bare
     * {@link InterruptedIOException}, or the {@link java.net.SocketException} a {@link java.net.Socket} (connect,
     * read, write), {@link java.net.ServerSocket} (accept) or {@link java.net.DatagramSocket} (receive)
     * throws on a virtual thread when interrupted, the socket closed (its message is the JDK's, the
     * same in each: "Closed by interrupt").
     */
    private static boolean answersTheInterrupt(Throwable failure) {
        return failure instanceof InterruptedException
                || failure instanceof ClosedByInterruptException
                || failure.getClass() == InterruptedIOException.class
                || (failure.getClass() == java.net.SocketException.class
                        && "Closed by interrupt".equals(failure.getMessage()));
    }

    /**
     * Runs {@code body} with a {@link TaskGroup} into which it spawns children; returns when the
     * body and every child have finished. The first child failure cancels the body and the
     * siblings; the group then throws it, with any others suppressed.
     *
     * <p>In a generator body, do not yield inside the group (see {@link #withTimeout}). A body
     * that did and is resumed by another task, or outside any task, ends the group where the task
     * that opened it cannot wait: the group then cancels its children still running and throws an
     * {@link IllegalStateException} that says so, with the failures so far suppressed; in a task, that
     * task waits for the children before it ends and fails with a failure they then have; outside
     * any task, the group waits for them, and their failures are suppressed on its exception too.
     *
     * @throws NullPointerException if {@code body} is null
     */
    public static <R> R taskGroup(TaskGroup.Body<R> body) throws Exception {
        return group(body, false, "Coro.taskGroup");
    }

    /** {@link #taskGroup}, in supervisor mode: a child failure cancels nothing; un-joined failures are thrown at the end. */
    public static <R> R supervisorGroup(TaskGroup.Body<R> body) throws Exception {
        return group(body, true, "Coro.supervisorGroup");
    }

    private static <R> R group(TaskGroup.Body<R> body, boolean supervisor, String what) throws Exception {
        Task.requireNonNullArg(body, "body");
        Task<?> t = Task.require(what);
        TaskGroup g = new TaskGroup(t, supervisor, true);
        t.pushScope(g.scope);
        R value = null;
        Throwable failure = null;
        try {
            try {
                value = body.run(g);
            } catch (Throwable e) {
                failure = e;
            }
            // A generator body that yielded inside the group may be resumed by another task, or
            // outside any task: the group's end then runs where its owner cannot wait.
            // (On a fiber's thread outside any task, a completion callback, which must not block,
            // and in a task that runs under the group, which cannot take over the children it is
            // one of, it ends as before: it cannot wait, and hands the children to its owner.)
            Task<?> now = Task.current();
            failure = now == t || now == null && Schedulers.currentFiber() != null || now != null && now.runsUnder(g)
                    ? g.finish(failure) : g.finishElsewhere(failure, now);
        } finally {
            t.popScope(g.scope);
        }
        if (failure != null) {
            throw Coro.<Exception>sneaky(failure);
        }
        return value;
    }

    /**
     * Waits for every task and returns their results in the order given (fail-fast): the first
     * failure (among the tasks that have failed when this is called, that is whose
     * {@link Task#isDone()} is true, the first in the order given) cancels the others, waits for
     * them to finish, and is rethrown with their failures suppressed (if it was made with
     * suppression disabled, each of those goes to the current thread's uncaught-exception handler
     * instead). If the current task is cancelled while
     * waiting, every task is cancelled and the cancellation propagates, unless a task had already
     * failed for real: that failure is thrown instead, and the cancellation stays pending for the
     * next suspension point. Failures of tasks that end after the cancellation are left to the
     * groups the tasks belong to.
     *
     * <p>Any task may gather any tasks, not only its own children: a task's outcome is the
     * gather's to hand out from the moment the task ends while the gather waits, and its group
     * (even one that closes meanwhile) does not report its failure as well, unless it is a
     * default-mode task group, which fails with every child failure (see {@link Task}).
     *
     * @throws IllegalStateException if the current task is among {@code tasks}, or one it runs under
     *     (see {@link Task#join()}): the gather would wait forever
     */
    @SafeVarargs
    public static <T> List<T> gather(Task<? extends T>... tasks) {
        // Not List.of, which refuses a null element before waitFor can name it.
        return gather(Arrays.asList(Task.requireNonNullArg(tasks, "tasks")));
    }

    /** {@link #gather(Task[])} over a list. */
    public static <T> List<T> gather(List<? extends Task<? extends T>> tasks) {
        Task<?> t = Task.require("Coro.gather");
        Waiting w = waitFor(t, tasks, true);
        Task<?> first = w.firstFailed.get();
        if (first != null) {
            cancelAndWait(t, w); // each is still claimed as it ends: this gather was not cancelled
            handOut(w);
            List<Throwable> real = new ArrayList<>();
            for (Task<?> task : tasks) {
                Throwable f = task.failure();
                if (f != null && !(f instanceof CancellationException)) {
                    real.add(f);
                }
            }
            Throwable primary = first.failure();
            if (primary instanceof CancellationException && !real.isEmpty()) {
                primary = real.get(0); // the first to end was cancelled: a real failure outranks that
            }
            throw Task.rethrow(Task.combine(primary, real)); // a gather again adds nothing twice
        }
        handOut(w);
        List<T> results = new ArrayList<>(tasks.size());
        for (Task<? extends T> task : tasks) {
            results.add(task.outcome());
        }
        return results;
    }

    /**
     * Waits for every task and returns each outcome, in the order given (Python's
     * {@code return_exceptions=True}): a failure is returned, not thrown, and cancels nothing.
     * If the current task is cancelled while waiting, every task is cancelled and the
     * cancellation propagates; the tasks' failures are then left to the groups they belong to,
     * except where a group closed while this gather held the failure (see
     * {@link #gather(Task[])}): with no one else to report it, that failure is thrown instead,
     * and the cancellation stays pending for the next suspension point.
     */
    public static <T> List<Outcome<T>> gatherSettled(List<? extends Task<? extends T>> tasks) {
        Task<?> t = Task.require("Coro.gatherSettled");
        Waiting w = waitFor(t, tasks, false);
        handOut(w);
        List<Outcome<T>> results = new ArrayList<>(tasks.size());
        for (Task<? extends T> task : tasks) {
            Throwable f = task.failure();
            results.add(f == null ? new Outcome.Success<>(task.outcome()) : new Outcome.Failure<>(f));
        }
        return results;
    }

    /**
     * What a gather or an {@link #asCompleted} loop (the claimant) has claimed of the tasks it
     * waits for. A task that ends while claims are open is claimed then, on the task's own thread
     * before its group hears of its end: from then on the claimant, not the group, answers for
     * the task's failure, by handing it out or giving it back. Thread-safe.
     *
     * <p>A gather's claims are open from the start, and one is registered with the task's group
     * unless that group is run by the gathering task, which cannot close it while it waits in the
     * gather. A loop's claims open at its first step, when the tasks that ended before are claimed
     * too, and every one is registered: the loop's maker may leave the group between steps, and
     * any task may iterate the loop. A loop never stepped (closed before its first step, or
     * dropped) claims nothing, so it cannot keep a failure from its group.
     */
    private static class Claims {
        /** No claim: not ended, handed out or given back, or claimed after its group had closed. */
        private static final byte NONE = 0;
        /** Claimed without telling the group: a root task, or a child of a group the gatherer runs. */
        private static final byte OWN = 1;
        /** Claimed and registered with the task's group ({@link TaskGroup#claim}). */
        private static final byte REGISTERED = 2;

        /** Null once closed: see {@link #close()}. */
        private Task<?> claimant;
        final List<? extends Task<?>> tasks;
        /** Whether these are an asCompleted loop's claims (see the class comment). */
        private final boolean loop;
        /** Each task's claim; under this object's lock, as {@link #open} is. */
        private final byte[] claims;
        private boolean open;

        Claims(Task<?> claimant, List<? extends Task<?>> tasks, boolean loop) {
            this.claimant = claimant;
            this.tasks = tasks;
            this.loop = loop;
            this.claims = new byte[tasks.size()];
            this.open = !loop;
        }

        /** Called as task {@code i} ends; returns whether claims were still open. */
        synchronized boolean claim(int i) {
            if (!open) {
                return false;
            }
            claims[i] = claimFor(tasks.get(i));
            return true;
        }

        private byte claimFor(Task<?> task) {
            TaskGroup group = task.parentGroup;
            if (group == null || !loop && group.isOwnedBy(claimant)) {
                return OWN;
            }
            return group.claim(task) ? REGISTERED : NONE;
        }

        /**
         * A loop's first step: opens the claims, and claims the tasks in {@code ended}, those that
         * ended before. The callers of {@link #claim} that record a task in {@code ended} do both
         * under this object's lock, so that a task ending meanwhile is claimed once.
         */
        synchronized void start(Iterable<Integer> ended) {
            open = true;
            for (int i : ended) {
                claims[i] = claimFor(tasks.get(i));
            }
        }

        /**
         * Stops claiming: a task that ends from now on is left to its group. Forgets the claimant,
         * which the tasks' completion callbacks would otherwise keep reachable for their lifetime.
         */
        synchronized void close() {
            open = false;
            claimant = null;
        }

        /** Takes task {@code i}'s claim off the books and returns it. */
        private synchronized byte take(int i) {
            byte c = claims[i];
            claims[i] = NONE;
            return c;
        }

        /** Releases a claim taken off the books; whether the task's group still answers for its failure. */
        private static boolean release(Task<?> task, byte claim) {
            return claim != REGISTERED || task.parentGroup.releaseClaim(task);
        }

        /** Hands task {@code i}'s outcome out: marks it observed, then releases its claim. */
        void handOut(int i) {
            Task<?> task = tasks.get(i);
            task.retrieved = true;
            release(task, take(i));
        }

        /**
         * Gives every claim back ({@link #settle settle(false)}) as the gather or loop stops on
         * {@code stop}, which is not a cancellation; what a closed group no longer reports goes
         * on {@code stop}.
         */
        void giveBackOnto(Throwable stop) {
            Task.Suppressor onto = new Task.Suppressor(stop);
            for (Throwable f : settle(false)) {
                onto.attachOrReport(f);
            }
        }

        /**
         * Closes and settles every claim not yet handed out: all are handed out if
         * {@code handOutAll}, else given back to the tasks' groups, except real failures that a
         * group no longer reports (it closed meanwhile). Returns the real failures handed out.
         */
        List<Throwable> settle(boolean handOutAll) {
            close();
            List<Throwable> handedOut = new ArrayList<>();
            for (int i = 0; i < tasks.size(); i++) {
                byte claim = take(i);
                if (claim == NONE) {
                    continue;
                }
                Task<?> task = tasks.get(i);
                Throwable f = task.failure();
                boolean real = f != null && !(f instanceof CancellationException);
                if (handOutAll) {
                    task.retrieved = true;
                    release(task, claim);
                    if (real) {
                        handedOut.add(f);
                    }
                } else if (!release(task, claim) && real && task.markRetrieved()) {
                    handedOut.add(f); // by one of the claimants that gave it back, the first to mark it
                }
            }
            return handedOut;
        }
    }

    /** A gather's wait: its claims, how many tasks have ended, and (fail-fast) the first that failed. */
    private static final class Waiting extends Claims {
        final boolean failFast;
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Task<?>> firstFailed = new AtomicReference<>();

        Waiting(Task<?> gatherer, List<? extends Task<?>> tasks, boolean failFast) {
            super(gatherer, tasks, false);
            this.failFast = failFast;
        }

        @Override
        synchronized boolean claim(int i) {
            if (!super.claim(i)) {
                return false;
            }
            Task<?> task = tasks.get(i);
            if (failFast && task.result.isCompletedExceptionally()) {
                firstFailed.compareAndSet(null, task);
            }
            return true;
        }
    }

    private static Waiting waitFor(Task<?> t, List<? extends Task<?>> given, boolean failFast) {
        Task.requireNonNullArg(given, "tasks");
        // Read by index below, once per task and again as each ends: a list without constant-time
        // get (a LinkedList) made that n²/4 steps, so it is copied to one with it first.
        List<? extends Task<?>> tasks = given instanceof java.util.RandomAccess ? given : new ArrayList<>(given);
        Task<?>.AncestorCheck check = t.new AncestorCheck("gather");
        for (Task<?> task : tasks) {
            Task.requireNonNullArg(task, "task");
            if (task == t) {
                throw new IllegalStateException("a task cannot gather itself: it would wait forever (" + t.name() + ")");
            }
            if (!task.isDone()) {
                check.refuse(task);
            }
        }
        int n = tasks.size();
        Waiting w = new Waiting(t, tasks, failFast);
        if (failFast) {
            // Among the tasks that have failed when this is called, the first in the order given is
            // the first failure: read before any is registered, since the end of one seen done may
            // still be on its way (isDone() turns true just before), and would be claimed after
            // that of a task that failed later, or that comes later in the list.
            for (Task<?> task : tasks) {
                if (task.result.isCompletedExceptionally()) { // done, and failed, as Waiting.claim reads it
                    w.firstFailed.compareAndSet(null, task);
                    break;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            int index = i;
            Runnable onEnd = () -> {
                w.claim(index);
                w.done.incrementAndGet();
                t.wake();
            };
            // Run by the task's end after it has completed the task's views (not as a completion
            // callback, which runs before): a gather that returns finds them complete.
            tasks.get(i).atEnd(onEnd);
        }
        try {
            t.suspendUntil(() -> w.done.get() == n || (failFast && w.firstFailed.get() != null));
        } catch (CancellationException e) {
            throw Task.rethrow(cancelled(t, w, e));
        } catch (RuntimeException | Error unexpected) {
            // Not a cancellation (a suspension that failed, say for lack of memory): what was
            // claimed goes back, and what its group no longer reports goes with this.
            w.giveBackOnto(unexpected);
            throw unexpected;
        }
        return w;
    }

    /**
     * The gathering task was cancelled: cancels the tasks and waits for them. What this gather
     * claimed before is handed out if a real failure outranks the cancellation (fail-fast, one
     * failed first), else given back to the tasks' groups; a real failure that a group no longer
     * reports (it closed meanwhile) is handed out too. Returns what to throw: the cancellation,
     * or the first real failure handed out with the others suppressed (the cancellation then
     * stays pending).
     */
    private static Throwable cancelled(Task<?> t, Waiting w, CancellationException e) {
        w.close();
        cancelAndWait(t, w);
        Task<?> first = w.firstFailed.get();
        boolean firstIsReal = first != null && !(first.failure() instanceof CancellationException);
        List<Throwable> handedOut = w.settle(firstIsReal);
        if (handedOut.isEmpty()) {
            return e;
        }
        return Task.combine(firstIsReal ? first.failure() : handedOut.get(0), handedOut);
    }

    /** A gather hands every outcome out: each task is marked observed and its claim, if any, released. */
    private static void handOut(Waiting w) {
        w.close();
        for (int i = 0; i < w.tasks.size(); i++) {
            w.handOut(i);
        }
    }

    /**
     * Cancels every task of {@code w} and waits until each has ended and its end has reached
     * {@code w} (been claimed, while claims are open): a task's {@code isDone()} comes before
     * that, and a claim still to come could leave its failure to be reported twice. Where the
     * task cannot suspend (threadpool: under a native frame, such as a class initializer), the
     * {@link IllegalStateException} saying so is thrown, and what {@code w} claimed goes back to
     * the tasks' groups first (a failure that a group no longer reports goes on that exception),
     * not left claimed by a gather that will never hand it out.
     */
    private static void cancelAndWait(Task<?> t, Waiting w) {
        for (Task<?> task : w.tasks) {
            task.cancel();
        }
        try {
            t.suspendUninterruptiblyUntil(() -> w.done.get() == w.tasks.size());
        } catch (RuntimeException | Error cannotSuspend) {
            w.giveBackOnto(cannotSuspend);
            throw cannotSuspend;
        }
    }

    /**
     * Yields the tasks in the order they finish (those already finished when this is called,
     * that is {@link Task#isDone()}, first, in the order given); iterating suspends the current
     * task until the next one is done. Use it inside a task:
     * <pre>{@code for (Task<String> done : Coro.asCompleted(tasks)) { use(done.join()); }}</pre>
     * A task's end reaches the loop just after {@link Task#isDone()} turns true (as a
     * {@code CompletableFuture}'s callbacks run after {@code isDone()}), so two tasks ending on
     * different carriers moments apart, after this call, can come in the order their ends reached
     * the loop, even when the one handed out second was seen done first. A task counts as
     * observed once it has been handed out: the failure of one the loop never reached (it
     * stopped early) still fails the task that spawned it. Close the generator
     * (try-with-resources) when stopping early. As with {@link #gather(Task[])}, any task may
     * loop over any tasks, and may iterate a loop another task made, with one exception: the loop
     * is a generator of the scheduler of the task that made it, and a loop made in a task of a
     * loom scheduler has its body on a thread of its own outside a task of a threadpool scheduler
     * that iterates it (see {@link Generator}), so such a step is refused with an
     * {@link IllegalStateException} (the loop then ends, as after any refused step); make the loop
     * in the task that iterates it. From its first step until
     * it ends or is closed, the loop answers for the tasks' failures: a task that ended before
     * that step while its group was open, or ends after it, is the loop's to hand out, and its
     * group does not report it as well, also when the group closes before the loop reaches it.
     * A loop never stepped answers for nothing: dropped, or closed before its first step, it
     * leaves every failure to the groups, and one whose group closed before the loop's first
     * step has been reported by the group (a loop stepped later hands it out too). Closing the
     * generator early gives back those it did not reach, and throws a failure among them whose
     * group closed meanwhile (no one else would report it); a step that fails itself (refused, see
     * below, or unable to suspend) throws that, with such failures suppressed.
     *
     * @throws IllegalStateException if the current task is among {@code tasks}, or one it runs under
     *     (see {@link Task#join()}); also, at a step, if the task iterating the generator is
     */
    public static <T> Generator<Task<T>, Object, Void> asCompleted(List<Task<T>> tasks) {
        Task<?> owner = Task.require("Coro.asCompleted");
        Task.requireNonNullArg(tasks, "tasks");
        for (Task<T> task : tasks) {
            Task.requireNonNullArg(task, "task");
        }
        List<Task<T>> copy = List.copyOf(tasks);
        requireNotAmong(copy, owner);
        Claims claims = new Claims(owner, copy, true);
        ConcurrentLinkedQueue<Integer> finished = new ConcurrentLinkedQueue<>();
        AtomicReference<Task<?>> waiter = new AtomicReference<>();
        // What the tasks' end callbacks reach of the loop: one is taken off only when the loop
        // ends (below), and through the claims it would keep every task of the loop (and its result)
        // reachable for as long as any one of them runs. Weak, so that a loop closed before its
        // first step (its body never runs) or dropped unstepped keeps nothing either: the body,
        // which holds the claims strongly, is reachable for as long as anyone can step the loop
        // (an abandoned loop's is, through its watch, until it has been closed); cleared when the
        // loop ends.
        WeakReference<Claims> live = new WeakReference<>(claims);
        // Taken back when the loop ends: one closed early leaves nothing on a task still running
        // (a long-lived one, waited for in loop after loop, would keep a callback of each).
        Object[] registrations = new Object[copy.size()];
        // The tasks already done now, which the loop hands out first, in the order given. Each is
        // read before its registration: the end of one seen done may still be on its way to the
        // loop (isDone() turns true just before), and comes then after those of tasks seen done
        // later in the list; the loop waits for each in turn rather than take them as they come.
        int[] doneFirst = new int[copy.size()];
        int doneAtCall = 0;
        for (int i = 0; i < copy.size(); i++) {
            int index = i;
            if (copy.get(i).isDone()) {
                doneFirst[doneAtCall++] = i;
            }
            Runnable onEnd = () -> {
                Claims c = live.get();
                if (c == null) {
                    return; // the loop has ended: nothing to claim, nobody to wake
                }
                synchronized (c) { // with Claims.start: claimed here or there, once
                    c.claim(index);
                    finished.add(index);
                }
                Task<?> w = waiter.get();
                if (w != null) {
                    w.wake();
                }
            };
            registrations[i] = copy.get(i).atEnd(onEnd); // null: ended, onEnd has run
        }
        int inOrder = doneAtCall;
        return Generator.of(owner.scheduler, co -> {
            Throwable ending = null;
            try {
                claims.start(finished);
                Task<?> checked = owner; // the last task found not to be among those waited for
                for (int n = 0; n < copy.size(); n++) {
                    Task<?> self = Task.require("iterating Coro.asCompleted");
                    if (self != checked) {
                        requireNotAmong(copy, self);
                        checked = self;
                    }
                    waiter.set(self);
                    int i;
                    if (n < inOrder) {
                        Integer next = doneFirst[n];
                        self.suspendUntil(() -> finished.contains(next)); // at the head, unless its end is on its way
                        finished.remove(next);
                        i = next;
                    } else {
                        self.suspendUntil(() -> !finished.isEmpty());
                        i = finished.poll();
                    }
                    claims.handOut(i);
                    co.yield(copy.get(i));
                }
                return null;
            } catch (Throwable e) {
                ending = e;
                throw e;
            } finally {
                // The tasks' end callbacks, until taken off below, keep what they hold: not the
                // tasks that made and iterated this loop, nor (once it has settled) the others.
                waiter.set(null);
                try {
                    if (ending != null && !(ending instanceof GeneratorExit) && !(ending instanceof CancellationException)) {
                        // A step that failed (refused, or it could not suspend) says why: what the
                        // loop gives back goes on it, rather than replace it.
                        claims.giveBackOnto(ending);
                    } else {
                        List<Throwable> orphaned = claims.settle(false); // stopped early: give back the rest
                        if (!orphaned.isEmpty()) {
                            throw Task.rethrow(Task.combine(orphaned.get(0), orphaned));
                        }
                    }
                } finally {
                    live.clear(); // closed: a task that ends from now on is left to its group
                    for (int i = 0; i < registrations.length; i++) {
                        if (registrations[i] != null) {
                            copy.get(i).withdrawAtEnd(registrations[i]);
                        }
                    }
                }
            }
        });
    }

    /**
     * Refuses a wait of {@code waiter} for itself or for a task it runs under, which would never end
     * (tasks compare by identity).
     */
    private static void requireNotAmong(List<? extends Task<?>> tasks, Task<?> waiter) {
        if (tasks.contains(waiter)) {
            throw new IllegalStateException("a task cannot wait for itself in Coro.asCompleted: it would wait forever ("
                    + waiter.name() + ")");
        }
        Task<?>.AncestorCheck check = waiter.new AncestorCheck("wait in Coro.asCompleted for");
        for (Task<?> task : tasks) {
            if (!task.isDone()) {
                check.refuse(task);
            }
        }
    }

    /**
     * Runs a blocking call without blocking a carrier: on a virtual thread of its own while the
     * task suspends, on every scheduler alike. The call runs outside the task: it sees the task's
     * {@link CoroutineLocal} values (a value it sets stays inside the call), and task operations
     * in it fail as they do outside any task, with an {@link IllegalStateException} that says they
     * were called inside a blocking call; a plain {@link Task#join()} or {@link Task#get()} in it of
     * the task, or of a task it runs under, which would wait forever, is refused the same way (only
     * on the call's own thread and in generators it steps: a thread the call starts itself, or a
     * nested {@link #run} in it, that waits for the task still waits forever). If
     * the task is cancelled (or a timeout or task group around it is) while the call runs, the
     * call's thread is interrupted, the task waits for the call to end, and then the cancellation
     * propagates, with whatever the call threw suppressed on it; a value the call returns then is
     * dropped (as asyncio's {@code to_thread} and kotlinx's {@code runInterruptible} drop it), so a
     * call that opens a resource should close it itself when interrupted. Where the task cannot suspend
     * (threadpool: under a native frame, such as a class initializer) the call is interrupted and
     * waited for in the same way, its thread then blocked meanwhile, and the
     * {@link IllegalStateException} saying so is thrown. Outside a task it just calls {@code body}.
     *
     * @throws Exception whatever the body threw, unchanged
     * @throws IllegalStateException if the task cannot suspend here
     */
    public static <T> T blocking(Callable<T> body) throws Exception {
        Task.requireNonNullArg(body, "body");
        Task<?> t = Task.current();
        if (t == null) {
            return body.call();
        }
        t.checkCancelled();
        Map<CoroutineLocal<?>, Object> context = t.context;
        // Completed normally even when the body throws: join() would unwrap a CompletionException
        // the body threw itself, and the body's exception must come out unchanged.
        CompletableFuture<Object> f = new CompletableFuture<>();
        Thread worker = Thread.ofVirtual().name("coro4j-blocking-" + t.name()).start(() -> {
            BLOCKING_FOR.set(t);
            CoroutineLocal.runWithThreadContext(context, () -> {
                try {
                    f.complete(body.call());
                } catch (Throwable e) {
                    f.complete(new Failed(e));
                }
            });
        });
        f.whenComplete((v, e) -> t.wake());
        try {
            t.suspendUntil(f::isDone);
        } catch (RuntimeException | Error e) {
            // Cancelled, or the task cannot suspend here (threadpool: under a native frame, such
            // as a class initializer): either way the call ends before the task goes on, not left
            // to run unwatched with its outcome lost.
            worker.interrupt();
            awaitEnd(t, f);
            if (f.join() instanceof Failed failed) {
                e.addSuppressed(failed.failure);
            }
            throw e;
        }
        return Coro.<T>resultOf(f.join());
    }

    /**
     * Waits until a blocking call has ended: suspended, or, where the task cannot suspend, with
     * its thread blocked (the call runs on a thread of its own, so it can end meanwhile).
     */
    private static void awaitEnd(Task<?> t, CompletableFuture<Object> f) {
        try {
            t.suspendUninterruptiblyUntil(f::isDone);
        } catch (RuntimeException | Error cannotSuspend) {
            f.join(); // completed normally, also when the call failed
        }
    }

    /**
     * On the thread of a {@link #blocking} call, the task that waits for the call: a plain wait
     * there for that task, or for one it runs under, would never end ({@link Task#join()} refuses it).
     */
    static final ThreadLocal<Task<?>> BLOCKING_FOR = new ThreadLocal<>();

    /**
     * On the thread of a generator body that runs outside the task stepping it (a loom body
     * stepped by a threadpool task), that generator while the body runs.
     */
    static final ThreadLocal<GeneratorCore<?, ?, ?>> STEPPED_BY = new ThreadLocal<>();

    /** What a blocking call threw, as a value. */
    record Failed(Throwable failure) {}

    /** A blocking call's value, or its failure ({@link Failed}) rethrown unchanged. */
    @SuppressWarnings("unchecked")
    static <T> T resultOf(Object outcome) throws Exception {
        if (outcome instanceof Failed failed) {
            throw Coro.<Exception>sneaky(failed.failure);
        }
        return (T) outcome;
    }

    static long nanos(Duration d, String what) {
        if (d == null) {
            throw new NullPointerException(what + " must not be null");
        }
        if (d.isNegative()) {
            throw new IllegalArgumentException(what + " " + d + " must not be negative");
        }
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    @SuppressWarnings("unchecked")
    static <E extends Throwable> E sneaky(Throwable t) throws E {
        throw (E) t;
    }
}
