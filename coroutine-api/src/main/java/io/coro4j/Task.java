package io.coro4j;

import io.coro4j.spi.Fiber;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.TimerThread;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A coroutine running in a fiber of a scheduler, started by {@link Coro#run} or {@link Coro#spawn}.
 *
 * <p>Every task belongs to a {@link TaskGroup}: its parent's own group, or one opened with
 * {@link Coro#taskGroup}. A task is finished only when the children it spawned are, so no child
 * outlives its parent. A child spawned with {@link Coro#spawn} that fails does not cancel its
 * parent or siblings (use {@link Coro#taskGroup} for that), but if nobody joined or gathered it,
 * its failure fails the parent when the parent finishes: it is never lost silently.
 * Observing a task's outcome (join, gather, get, resultNow, exceptionNow, its stage, a chosen
 * {@code Select.onAwait}; not {@code Select.onJoin}, which only waits for the end) matters only to such a
 * group, one that reports the failures nobody observed: the spawner's own, or a
 * {@linkplain TaskGroup#isSupervisor() supervisor} group. A default-mode {@link TaskGroup} fails
 * with every child failure, observed or not, as asyncio's {@code TaskGroup} does; where the
 * javadoc here says a group does not report an observed failure, it means the former.
 *
 * <p>{@link #join()} inside a task suspends the caller (never blocking its carrier); from plain
 * Java it blocks the thread, uninterruptibly, like {@link CompletableFuture#join()} ({@link #get()}
 * waits interruptibly). {@link #cancel()} is cooperative: the task sees a
 * {@link CancellationException} at its next suspension point (sleep, join, await, channel or lock
 * operation, {@link Coro#checkCancelled()}), so its {@code finally} blocks run; a task cancelled
 * before it has started never runs its body (nor its {@code finally} blocks). Cancellation is
 * level-triggered: a task that catches it and suspends again gets it again; code that must
 * suspend to clean up runs in {@link Coro#shielded}. As in asyncio, a join, await or gather of work
 * that has already finished does not suspend: it returns, and the cancellation comes at the next
 * suspension point that waits. The same holds for the wait at a task's end for its children: a
 * task cancelled after its last suspension point whose children have all ended ends with its
 * value (or failure).
 *
 * <p>The interrupt status a task's code sets ({@code Thread.currentThread().interrupt()}, as in
 * {@code catch (InterruptedException e)}) is the task's own, on both schedulers: it is still set
 * after the task's suspensions, no other task sees it, and it neither wakes nor cancels the task
 * (use {@link #cancel()}). So is its context class loader: a spawned task starts with its
 * spawner's, and a loader a task sets stays its own. An interrupt sent from another thread to the
 * {@code Thread} a task's code saw as {@code Thread.currentThread()} neither wakes nor cancels it
 * either, but lands differently: on loom that thread is the task's own virtual thread, and the
 * interrupt is the task's; on threadpool it is the carrier, which tasks share, and the interrupt
 * goes to whichever task runs there at that moment or next (to none, dropped, if the carrier goes
 * idle first).
 * No task inherits {@link InheritableThreadLocal} values, from its spawner or from the thread that
 * calls {@link Coro#run}, on either scheduler: {@link CoroutineLocal} values follow spawn.
 *
 * <p>Thread-safe.
 *
 * @param <T> the type of the result
 */
public final class Task<T> implements Future<T> {

    private static final AtomicInteger IDS = new AtomicInteger();
    private static final java.lang.invoke.VarHandle RETRIEVED;

    static {
        try {
            RETRIEVED = java.lang.invoke.MethodHandles.lookup().findVarHandle(Task.class, "retrieved", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        io.coro4j.internal.Tasks.install(what -> require(what).handle(), scheduler -> {
            Task<?> waiting = (Task<?>) FreshThreadLocals.get(Coro.BLOCKING_FOR);
            if (waiting != null && waiting.scheduler == scheduler) {
                return "inside Coro.blocking(...) of " + waiting.name() + ", a task of scheduler \"" + waiting.scheduler.name()
                        + "\": it would wait for that task, which waits for this call to end; call shutdown() instead,"
                        + " or close the scheduler after the blocking call";
            }
            GeneratorCore<?, ?, ?> stepped = (GeneratorCore<?, ?, ?>) FreshThreadLocals.get(Coro.STEPPED_BY);
            Task<?> stepper = stepped != null ? stepped.stepper : null;
            if (stepper != null && stepper.scheduler == scheduler) {
                return "in the body of a generator of scheduler \"" + stepped.scheduler.name() + "\" stepped by "
                        + stepper.name() + ", a task of scheduler \"" + stepper.scheduler.name() + "\": it would wait for that"
                        + " task, which waits for this step to end; call shutdown() instead, or close the scheduler"
                        + " after the step";
            }
            return null;
        }, new io.coro4j.internal.Tasks.EndWaits() {
            @Override
            public void refuseHopeless(Task<?> target, String what) {
                target.refuseEndWait(require(what), what);
            }

            @Override
            public Object register(Task<?> target, String what, BooleanSupplier atEnd) {
                return target.wakeAtEnd(require(what), atEnd);
            }

            @Override
            public void withdraw(Task<?> target, Object registration) {
                target.result.removeJoiner((Joiner) registration);
            }
        });
    }

    final Scheduler scheduler;
    /** Null once it has run: a finished task that its holder keeps for its outcome keeps nothing the body captured (as FutureTask drops its callable). */
    private Callable<T> body;
    private final int id;
    final TaskGroup parentGroup;
    /**
     * The children this task spawns outside any explicit group; made by the task's own fiber at its
     * first {@link Coro#spawn} (most tasks spawn nothing), read by others only through the children.
     */
    private TaskGroup ownGroup;
    /** Siblings in {@link #parentGroup}'s list of running children; guarded by that group's lock. */
    Task<?> prevSibling;
    Task<?> nextSibling;
    final Outcome<T> result = new Outcome<>(this);
    private volatile boolean cancelRequested;
    private volatile Fiber fiber;
    /** Whether someone observed the outcome (joined, awaited, gathered). */
    volatile boolean retrieved;

    /** Marks the outcome observed; whether this call did, no one having done so before. */
    boolean markRetrieved() {
        return !retrieved && RETRIEVED.compareAndSet(this, false, true);
    }
    /**
     * Cancel scopes opened by this task's body (timeouts, explicit groups, shields), innermost
     * last; changed and read by the own fiber only ({@link #popScope} says how another thread closes
     * one); null until the first is opened. The own group's scope is checked first
     * and not kept here.
     */
    private List<CancelScope> scopes;
    /** Whether a thread other than this task's closed one of its {@link #scopes} ({@link #popScope}). */
    private volatile boolean scopesClosedElsewhere;
    /** This task's suspension primitive, for io.coro4j's own packages; made on first use, by the task itself. */
    private io.coro4j.internal.TaskHandle handle;

    io.coro4j.internal.TaskHandle handle() {
        io.coro4j.internal.TaskHandle h = handle;
        if (h == null) {
            handle = h = newHandle();
        }
        return h;
    }

    private io.coro4j.internal.TaskHandle newHandle() {
        return new io.coro4j.internal.TaskHandle() {
        @Override
        public void checkCancelled() {
            Task.this.checkCancelled();
        }

        @Override
        public void park() {
            Task.this.park();
        }

        @Override
        public void parkNanos(long nanos) {
            checkCancelled();
            fiber.parkNanos(nanos);
        }

        @Override
        public void parkUninterruptibly() {
            fiber.park();
        }

        @Override
        public void checkCanSuspend() {
            fiber.checkCanSuspend();
        }

        @Override
        public void wake() {
            Task.this.wake();
        }
        };
    }
    /** CoroutineLocal values: an immutable snapshot, replaced on each set; own fiber only. */
    Map<CoroutineLocal<?>, Object> context;

    Task(Scheduler scheduler, Callable<T> body, TaskGroup parentGroup, Map<CoroutineLocal<?>, Object> context) {
        this.scheduler = scheduler;
        this.body = body;
        this.parentGroup = parentGroup;
        this.context = context;
        this.id = IDS.incrementAndGet();
    }

    /** The head of a task group's circular list of children: never runs, and links to itself. */
    static Task<?> sentinel() {
        Task<?> t = new Task<>(null, null, null, null, 0);
        t.prevSibling = t;
        t.nextSibling = t;
        return t;
    }

    private Task(Scheduler scheduler, Callable<T> body, TaskGroup parentGroup, Map<CoroutineLocal<?>, Object> context,
                 int id) {
        this.scheduler = scheduler;
        this.body = body;
        this.parentGroup = parentGroup;
        this.context = context;
        this.id = id;
    }

    /** The group {@link Coro#spawn} spawns into, made on first use. Own fiber only. */
    TaskGroup ownGroup() {
        TaskGroup g = ownGroup;
        if (g == null) {
            ownGroup = g = new TaskGroup(this, true, false);
        }
        return g;
    }

    /** Opens a cancel scope (innermost). Own fiber only. */
    void pushScope(CancelScope scope) {
        List<CancelScope> open = scopes;
        if (open == null) {
            scopes = open = new ArrayList<>(2);
        } else if (scopesClosedElsewhere) {
            dropScopesClosedElsewhere(open);
        }
        open.add(scope);
    }

    /**
     * Closes {@code scope}, opened by this task. Any thread: a generator body that yielded inside a
     * scope it opened (PEP 789) may be resumed past it by another task or a plain thread, while
     * this task runs on. Only this task's fiber changes its list; another thread marks the scope
     * closed, so that it cancels and shields nothing, and this task drops it at its next push or pop
     * (a shield closed so wakes the task, which may be suspended with a cancellation it held off).
     */
    void popScope(CancelScope scope) {
        if (Schedulers.currentFiber() != fiber) {
            scope.closed = true;
            scopesClosedElsewhere = true; // after closed: whoever reads this true sees the scope closed
            if (scope.shield) {
                // A cancellation it held off is due now, at the task's next suspension point; the
                // task may be suspended already, held there by this shield: woken, it looks again.
                wake();
            }
            return;
        }
        List<CancelScope> open = scopes;
        open.remove(open.lastIndexOf(scope));
        if (scopesClosedElsewhere) {
            dropScopesClosedElsewhere(open);
        }
    }

    private void dropScopesClosedElsewhere(List<CancelScope> open) {
        scopesClosedElsewhere = false; // before reading: a scope closed meanwhile sets it again
        open.removeIf(s -> s.closed);
    }

    /** The task the calling code runs in, or {@code null} outside any task. */
    static Task<?> current() {
        Fiber f = Schedulers.currentFiber();
        return f != null && f.attachment() instanceof Task<?> t ? t : null;
    }

    /** Like {@link #current()} but fails with a message naming {@code what}, outside a task. */
    static Task<?> require(String what) {
        Task<?> t = current();
        if (t == null) {
            // The call's thread, or that of a generator body iterated inside the call (loom).
            if (FreshThreadLocals.get(Coro.BLOCKING_FOR) != null) {
                throw new IllegalStateException(what + " called inside Coro.blocking(...), whose body runs on a thread"
                        + " of its own, outside the task: do task operations before or after the blocking call");
            }
            GeneratorCore<?, ?, ?> stepped = (GeneratorCore<?, ?, ?>) FreshThreadLocals.get(Coro.STEPPED_BY);
            Task<?> stepper = stepped != null ? stepped.stepper : null;
            if (stepper != null) {
                throw new IllegalStateException(what + " called in the body of a generator of scheduler \""
                        + stepped.scheduler.name() + "\" stepped by a task of scheduler \"" + stepper.scheduler.name()
                        + "\": a " + stepped.scheduler.kind() + " generator's body runs on a thread of its own, outside"
                        + " a task of another scheduler kind; make the generator on the task's scheduler"
                        + " (Generator.of(body), or Coro.asCompleted, inside the task)");
            }
            throw new IllegalStateException(what + " called outside a task: start one with Coro.run(...)");
        }
        return t;
    }

    void start() {
        scheduler.start(result);
        scheduler.taskCounters().recordSpawned();
    }

    private void run() {
        Fiber self = scheduler.currentFiber();
        self.attach(this);
        fiber = self;
        T value = null;
        Throwable failure = null;
        try {
            // A task cancelled before it started never runs its body, as in asyncio and kotlinx.
            checkCancelled();
            value = body.call();
        } catch (Throwable t) {
            failure = t;
        } finally {
            body = null;
        }
        TaskGroup own = ownGroup;
        if (own != null) {
            failure = own.finish(failure);
        }
        // Its CoroutineLocal values are nobody's now (its own group, whose spawns from outside any
        // task start with them, has closed): not kept for the life of a finished task held for
        // its outcome.
        context = Map.of();
        scheduler.taskCounters().recordEnded(failure);
        // The task has finished: completion callbacks that its outcome runs on this thread are
        // not in it, as they are not when they run on the thread that registered them. Seen as
        // the current task, a callback could spawn a child that outlives it (into a group that
        // has closed, or that it would make now and nobody would close), or suspend it before
        // its group hears of its end.
        // Not a task, so current() is null: the group this task ran in, so that a plain wait in
        // such a callback for a task it runs under, which waits for this end, is refused
        // (refuseInACallbackOfItsDescendant); cleared once the group has heard of the end.
        self.attach(parentGroup);
        if (failure == null) {
            result.complete(value);
        } else {
            // A CompletableFuture takes a CompletionException for its own wrapper and would hand
            // out its cause: wrapped once more, the task's own exception comes back as it was.
            result.completeExceptionally(failure instanceof CompletionException ? new CompletionException(failure) : failure);
        }
        result.wakeJoiners(); // completes the task's views: their callbacks run there too
        // The callbacks just run were outside any task, with the thread's coroutine-local values:
        // on a carrier that other tasks end on (threadpool), what they set must not stay for the
        // callbacks of the next task. A virtual thread (loom) ends with its task: nothing to do.
        if (!Thread.currentThread().isVirtual()) {
            CoroutineLocal.clearThreadValues();
        }
        if (parentGroup != null) {
            parentGroup.childDone(this, failure);
            self.attach(null); // a finished task keeps its fiber: not its group, and the tasks above, too
        }
    }

    // ---- the caller side ----

    /** The scheduler running this task. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /**
     * A name for diagnostics, {@code task-N}: unique among the last 2<sup>32</sup> tasks made in the
     * JVM (the count wraps after 4,294,967,295, the price of a 4-byte id in every task).
     */
    public String name() {
        return "task-" + Integer.toUnsignedString(id);
    }

    /**
     * Waits for the task and returns its result: suspending inside a task, blocking outside one.
     *
     * @throws CancellationException if the task was cancelled, or the caller's task is cancelled while waiting
     * @throws CompletionException wrapping a checked exception the task failed with; unchecked
     *     exceptions and errors are rethrown as they are
     * @throws IllegalStateException if a task joins itself or a task it runs under (its parent, or
     *     theirs, and so on: they end only after it), also from inside a {@link Coro#blocking} call
     *     it waits for or the body of a generator it steps that runs outside it (a loom generator
     *     stepped by a threadpool task), or in a completion callback that the end of a task running under it runs
     *     (before its group hears of that end); or if called outside any task on a
     *     carrier thread that must not block (threadpool: a completion callback run by a task that
     *     ended), while the task has not ended: blocking there could block the task waited for too
     */
    public T join() {
        Task<?> caller = current();
        refuseHopelessWait(caller, "join", true);
        if (caller != null && !result.isDone()) {
            waitAsJoiner(caller, result::isDone, null); // returns once the task ended: its wakeJoiners takes the joiner off
        }
        return outcome(); // from plain Java too: outcome() marks the task observed before it waits
    }

    /**
     * Whether this task runs under {@code other}: spawned by it or into one of its groups, or by or
     * into those of such a task, and so on. {@code other} then ends only after this task has.
     */
    boolean runsUnder(Task<?> other) {
        // Walks up from both, a step each in turn: found above this, other is an ancestor; this
        // found above other, it is not (the tree has no cycles). Walking from this alone, a task
        // that joins the child it spawned took as many steps as it has ancestors, so a chain of n
        // tasks each joining its child took n²/2.
        TaskGroup down = other.parentGroup;
        for (TaskGroup g = parentGroup; g != null; ) {
            Task<?> owner = g.owner();
            if (owner == other) {
                return true;
            }
            g = owner.parentGroup;
            if (down != null) {
                Task<?> below = down.owner();
                if (below == this) {
                    return false;
                }
                down = below.parentGroup;
            }
        }
        return false;
    }

    /**
     * Whether this task runs under {@code group}: spawned into it, or under a task that was, and so
     * on up. Such a task cannot take over the group's children: it is one of them, or ends before one.
     */
    boolean runsUnder(TaskGroup group) {
        for (TaskGroup g = parentGroup; g != null; g = g.owner().parentGroup) {
            if (g == group) {
                return true;
            }
        }
        return false;
    }

    /**
     * Refuses a wait of this task, for {@code what} ("join", "gather"), for {@code target} if it is
     * one this task runs under: the wait would never end.
     */
    void refuseToWaitForAnAncestor(Task<?> target, String what) {
        if (runsUnder(target)) {
            throw waitForAnAncestor(target, what);
        }
    }

    private IllegalStateException waitForAnAncestor(Task<?> target, String what) {
        return new IllegalStateException(name() + " cannot " + what + " " + target.name() + ", a task it runs under:"
                + " a task ends only after the tasks spawned under it, so this would wait forever; hand the value"
                + " over another way (a Channel, a CompletableFuture)");
    }

    /**
     * Refuses a wait by {@code caller}, for {@code what} (a select clause), for the end of this task
     * if it could never come while the wait lasts: this task is the caller, or one it runs under.
     */
    private void refuseEndWait(Task<?> caller, String what) {
        if (caller == this) {
            throw new IllegalStateException(what + " of " + name() + ", the task running the select: a task ends only"
                    + " after its select returns, so this clause could never be chosen");
        }
        if (caller.runsUnder(this)) {
            throw new IllegalStateException(what + " of " + name() + " in " + caller.name() + ", a task that runs under it:"
                    + " a task ends only after the tasks spawned under it, so this clause could never be chosen;"
                    + " hand the value over another way (a Channel, a CompletableFuture)");
        }
    }

    /**
     * Registers {@code caller} to be woken when this task ends (a select's task clause), running
     * {@code atEnd} first, which says whether it observes the outcome; null if it has ended.
     * Removable, as a join's registration is: a select that another clause completes leaves
     * nothing behind here.
     */
    private Joiner wakeAtEnd(Task<?> caller, BooleanSupplier atEnd) {
        Joiner j = new Joiner(caller, atEnd);
        return result.addJoiner(j) ? j : null;
    }

    /**
     * Registers {@code action} to run when this task ends, on the task's thread before its group
     * hears of the end, as {@link #whenDone} does, but removably ({@link #withdrawAtEnd}): a loop
     * over a long-lived task that stops early leaves nothing behind on it. Returns the
     * registration; or, if the task has ended, runs {@code action} on the calling thread, now,
     * and returns null. The action does not count as observing the task.
     */
    Object atEnd(Runnable action) {
        Joiner j = new Joiner(null, () -> {
            try {
                action.run();
            } catch (Throwable e) {
                // Not out of the task's end, which must go on to tell its group (as a completion
                // callback's failure stays in its own future); nor lost.
                TimerThread.reportUncaught(e);
            }
            return false;
        });
        if (result.addJoiner(j)) {
            return j;
        }
        action.run(); // ended already
        return null;
    }

    /** Takes back a registration of {@link #atEnd}; no effect once the task has ended. */
    void withdrawAtEnd(Object registration) {
        result.removeJoiner((Joiner) registration);
    }

    /**
     * {@link #refuseToWaitForAnAncestor} for the many tasks of one wait (a gather): the first few
     * are checked by walking up as {@link #runsUnder} does; past those, the tasks this one runs
     * under are collected once, so that a wait for many tasks from deep in a tree costs its depth
     * once, not once per task. One wait's, on the waiting task's own fiber.
     */
    final class AncestorCheck {
        private static final int WALKS = 8;
        private final String what;
        private int walked;
        private Set<Task<?>> ancestors;

        AncestorCheck(String what) {
            this.what = what;
        }

        void refuse(Task<?> target) {
            if (ancestors == null) {
                if (walked++ < WALKS) {
                    refuseToWaitForAnAncestor(target, what);
                    return;
                }
                ancestors = Collections.newSetFromMap(new IdentityHashMap<>());
                for (TaskGroup g = parentGroup; g != null; g = g.owner().parentGroup) {
                    ancestors.add(g.owner());
                }
            }
            if (ancestors.contains(target)) {
                throw waitForAnAncestor(target, what);
            }
        }
    }

    /**
     * Refuses a blocking wait ({@code Task.what}) on a carrier thread that must not block: code
     * outside any task that runs on a fiber's thread (a completion callback run by a task that
     * ended) on a scheduler whose fibers share carriers. Blocked, the carrier would not run the task
     * waited for either when that task's home is this carrier: for ever. A virtual thread (loom)
     * may block.
     */
    private void requireMayBlock(String what) {
        Fiber f = Schedulers.currentFiber();
        if (f != null && !f.scheduler().runsBlockingCallsInPlace()) {
            throw new IllegalStateException("Task." + what + " of " + name() + " called outside any task on a carrier thread of"
                    + " scheduler \"" + f.scheduler().name() + "\" (in a completion callback of a task?): it would"
                    + " block the carrier, which may have to run that task; join inside a task, or chain on"
                    + " toCompletableFuture() instead");
        }
    }

    /**
     * Refuses a wait ({@code Task.what}: join, get) by {@code caller} (null outside any task) for
     * this task, not ended, that would never end: a task waiting for itself or for a task it runs
     * under; outside any task, a wait inside a {@link Coro#blocking} call, a generator body or a
     * completion callback that this task waits for; and, for an {@code untimed} one, a wait that would block a carrier
     * that must not block. (A timed get of a task by itself or an ancestor could only time out, its
     * carrier blocked meanwhile.)
     */
    private void refuseHopelessWait(Task<?> caller, String what, boolean untimed) {
        if (result.isDone()) {
            return;
        }
        if (caller == this) {
            throw new IllegalStateException("a task cannot " + what + " itself: it would wait forever (" + name() + ")");
        }
        if (caller != null) {
            caller.refuseToWaitForAnAncestor(this, what);
            return;
        }
        refuseInsideItsBlockingCall(what);
        refuseInACallbackOfItsDescendant(what);
        if (untimed) {
            requireMayBlock(what);
        }
    }

    /**
     * Refuses a plain wait ({@code Task.what}) for this task, not ended, in a completion callback
     * that the end of a task running under it runs on that task's thread: the callback runs before
     * the task's group hears of its end, which this task waits for, so the wait would never end
     * (loom: the thread may block, and would for ever; threadpool: refused as the carrier's too).
     */
    private void refuseInACallbackOfItsDescendant(String what) {
        Fiber f = Schedulers.currentFiber();
        if (f != null && f.attachment() instanceof TaskGroup g && (g.owner() == this || g.owner().runsUnder(this))) {
            throw new IllegalStateException("Task." + what + " of " + name() + " called in a completion callback run by"
                    + " the end of a task that runs under it, before its group hears of that end: it would wait forever;"
                    + " chain on toCompletableFuture() instead");
        }
    }

    /**
     * Refuses a plain wait ({@code Task.what}) for this task, not ended, inside a
     * {@link Coro#blocking} call of this task or of a task that runs under it, or in the body of a
     * generator that such a task steps and that runs outside it (a loom body stepped by a threadpool
     * task): that task waits for the call or the body, so the wait would never end.
     */
    private void refuseInsideItsBlockingCall(String what) {
        Task<?> waiting = (Task<?>) FreshThreadLocals.get(Coro.BLOCKING_FOR);
        if (waiting != null && (waiting == this || waiting.runsUnder(this))) {
            throw new IllegalStateException("Task." + what + " of " + name() + " called inside Coro.blocking(...) of "
                    + waiting.name() + ", which waits for the call to end: it would wait forever; wait for it after"
                    + " the blocking call");
        }
        GeneratorCore<?, ?, ?> stepped = (GeneratorCore<?, ?, ?>) FreshThreadLocals.get(Coro.STEPPED_BY);
        Task<?> stepper = stepped != null ? stepped.stepper : null;
        if (stepper != null && (stepper == this || stepper.runsUnder(this))) {
            throw new IllegalStateException("Task." + what + " of " + name() + " called in the body of a generator"
                    + " stepped by " + stepper.name() + ", which waits for the body: it would wait forever; wait for it"
                    + " outside the generator");
        }
    }

    /**
     * Registers {@code caller} as a joiner of this task and suspends it until {@code ready} holds;
     * the joiner, or null if the task had ended before it could register. A removable
     * registration, not a completion callback: a wait that ends early (the caller cancelled or
     * timed out) must not leave anything behind on a long-lived task. Nor does it count as
     * observing the task: a joiner is marked only by wakeJoiners, once the task has finished and
     * the joiner will hand its outcome out. A wait that ends early takes the joiner back, and
     * {@code view}'s if not null; if the task ended first and counted them, the wait returns
     * instead, so that its caller hands the outcome out.
     */
    private Joiner waitAsJoiner(Task<?> caller, BooleanSupplier ready, Joiner view) {
        // An await of a view whose holder completed it before the task ended returns the holder's
        // completion, whenever it wakes: the end must not count it as observing the task then.
        Joiner j = new Joiner(caller, view == null ? null : () -> !view.view.holderWon());
        if (!result.addJoiner(j)) {
            return null;
        }
        try {
            caller.suspendUntil(ready);
        } catch (CancellationException e) {
            if (takeBack(j, view)) {
                throw e;
            }
            // The task ended first and counted this wait as the one that observes it, so the
            // caller hands the outcome out, as a receive completed before its task saw a
            // cancellation does; the cancellation stays pending for the next suspension.
        } catch (RuntimeException | Error e) {
            // A park that cannot suspend here (threadpool, under a native frame): thrown after
            // the task counted this wait as observing it, the outcome would be lost.
            if (takeBack(j, view) || e instanceof Error) {
                throw e;
            }
        }
        return j;
    }

    /**
     * Takes back a join that stops waiting, and the view it awaited, if any: true if the task had
     * not ended (nothing was counted as observed), false if it had and counted them.
     */
    private boolean takeBack(Joiner j, Joiner view) {
        boolean waiting = result.removeJoiner(j);
        if (view != null) {
            waiting &= result.stopObserving(view); // still linked: the view gets the outcome at the end
        }
        return waiting;
    }

    /** The result of a finished task, or its failure rethrown as {@link #join()} does. */
    T outcome() {
        retrieved = true;
        try {
            return result.join();
        } catch (CancellationException | CompletionException e) {
            throw rethrow(failure());
        }
    }

    /**
     * The failure of {@code f}, done exceptionally, as it was completed with: a
     * {@link CompletionException} wrapper taken off (not one without a cause, which is the failure
     * itself), and a cancellation as it is, not the copy that {@code join()} and {@code get()}
     * throw in its place since JDK 23.
     */
    static Throwable failureOf(CompletableFuture<?> f) {
        Throwable[] seen = new Throwable[1];
        f.whenComplete((v, e) -> seen[0] = e); // done: runs now, on this thread
        Throwable x = seen[0];
        return x instanceof CompletionException && x.getCause() != null ? x.getCause() : x;
    }

    /**
     * Adds {@code failure}, thrown by user code that a cancellation ran (a stage's cancel), as
     * suppressed on {@code cancellation}; where it cannot ride there (it is the cancellation, or
     * suppression is disabled on it), reports it to the uncaught-exception handler instead.
     */
    static void suppressOn(CancellationException cancellation, Throwable failure) {
        if (failure != cancellation) {
            int before = cancellation.getSuppressed().length;
            cancellation.addSuppressed(failure);
            if (cancellation.getSuppressed().length == before) {
                TimerThread.reportUncaught(failure);
            }
        }
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new CompletionException(t);
    }

    /**
     * Requests cancellation: the task gets a {@link CancellationException} at its next
     * suspension point; a task that has not started yet never runs its body (it ends cancelled
     * when its turn comes, as in asyncio). Idempotent.
     *
     * @return {@code true} if the task had not finished (it may still finish normally if it does
     *     not suspend again); {@code false} if it had already finished
     */
    public boolean cancel() {
        if (result.isDone()) {
            return false;
        }
        cancelRequested = true;
        Fiber f = fiber;
        if (f != null) {
            f.unpark();
        }
        return true;
    }

    /**
     * {@link #cancel()}; the argument is ignored, since cancellation is cooperative. So, unlike
     * what {@link Future#cancel} promises, {@link #isDone()} and {@link #isCancelled()} need not be
     * true when this returns {@code true}: they turn true when the task ends cancelled (a task that
     * does not suspend again, or catches the cancellation, ends with its value or failure instead).
     * A call after the task ended returns {@code false}, also when it ended cancelled, as
     * {@link java.util.concurrent.FutureTask#cancel} does ({@link CompletableFuture#cancel} returns
     * {@code true} then).
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        return cancel();
    }

    @Override
    public boolean isCancelled() {
        return result.isCancelled() || (result.isCompletedExceptionally() && failure() instanceof CancellationException);
    }

    @Override
    public boolean isDone() {
        return result.isDone();
    }

    /**
     * The task's state, as {@link Future#state()} defines it. Like {@link #isDone()} and
     * {@link #isCancelled()}, and unlike {@link #get()}, asking does not count as observing the
     * task: a failure it reports ({@code FAILED}) is still reported by the task's group unless
     * someone joins, gathers or gets it (a default-mode task group reports it in any case).
     */
    @Override
    public State state() {
        if (!result.isDone()) {
            return State.RUNNING;
        }
        if (isCancelled()) {
            return State.CANCELLED;
        }
        return result.isCompletedExceptionally() ? State.FAILED : State.SUCCESS;
    }

    /**
     * The result of a task that completed normally, without waiting, as {@link Future#resultNow()}.
     *
     * @throws IllegalStateException if the task has not finished, or was cancelled, or failed: then
     *     with the failure as its cause, handed out as {@link #join()} hands it out (the task's group
     *     does not report it as well, unless it is a default-mode task group, which reports every
     *     child failure)
     */
    @Override
    public T resultNow() {
        requireEndedUncancelled();
        Throwable f = failure();
        if (f != null) {
            retrieved = true;
            throw new IllegalStateException("Task completed with exception (" + name() + "): " + f, f);
        }
        return outcome();
    }

    /** What resultNow and exceptionNow refuse, naming the task: it has not ended, or was cancelled. */
    private void requireEndedUncancelled() {
        if (!result.isDone()) {
            throw new IllegalStateException("Task has not completed (" + name() + ")");
        }
        if (isCancelled()) {
            throw new IllegalStateException("Task was cancelled (" + name() + ")");
        }
    }

    /**
     * The failure of a task that failed, without waiting, as {@link Future#exceptionNow()}; it is
     * then handed out, as by {@link #resultNow()} (the task's group does not report it as well,
     * unless it is a default-mode task group, which reports every child failure).
     *
     * @throws IllegalStateException if the task has not finished, or was cancelled, or returned a value
     */
    @Override
    public Throwable exceptionNow() {
        requireEndedUncancelled();
        Throwable f = failure();
        if (f == null) {
            throw new IllegalStateException("Task completed with a result (" + name() + ")");
        }
        retrieved = true;
        return f;
    }

    /**
     * Blocks the calling thread; inside a task use {@link #join()}, which suspends instead (on a
     * scheduler whose fibers share carriers, threadpool, a get inside a task blocks its carrier,
     * and with it every task whose home that carrier is: with one carrier, a get of a task that
     * has not ended waits forever). A get
     * that gives up (interrupted, or timed out for the timed one) does not count as having seen
     * the task, so a failure that comes later is still reported by the task's group; one that
     * gives up just as the task ends returns the outcome instead, keeping the interrupt status.
     *
     * @throws IllegalStateException as {@link #join()}: if a task gets itself or a task it runs
     *     under (it would wait forever), also from inside a {@link Coro#blocking} call or a
     *     generator body it waits for, or a completion callback that the end of a task running under it runs; or if called outside any task on a carrier thread that
     *     must not block (threadpool: a completion callback run by a task that ended), while the
     *     task has not ended
     */
    @Override
    public T get() throws InterruptedException, ExecutionException {
        refuseHopelessWait(current(), "get", true);
        Joiner j = plainJoiner();
        try {
            return result.get();
        } catch (InterruptedException e) {
            return afterGivingUp(j, e);
        }
    }

    /**
     * {@link #get()}, giving up after {@code timeout}.
     *
     * @throws IllegalStateException as {@link #get()}, except on a carrier thread that must not
     *     block (a timed get there blocks it until the task ends or the timeout expires): if a task
     *     gets itself or a task it runs under, or if called inside a {@link Coro#blocking} call it
     *     waits for or in a completion callback that the end of a task running under it runs, while
     *     the task has not ended; such a get could only time out (a task's carrier blocked meanwhile)
     * @throws NullPointerException if {@code unit} is null (refused before the get waits, so that it
     *     does not count as observing the task)
     */
    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        requireNonNullArg(unit, "unit");
        refuseHopelessWait(current(), "get", false);
        Joiner j = plainJoiner();
        try {
            return result.get(timeout, unit);
        } catch (InterruptedException e) {
            return afterGivingUp(j, e);
        } catch (TimeoutException e) {
            return afterGivingUp(j, e);
        }
    }

    /**
     * For a wait that may give up (interrupted, timed out): a joiner without a task to wake, so
     * that the task counts as observed only if it ends while the wait lasts, as for
     * {@link #join()}; null, with the task marked, if it has ended already.
     */
    private Joiner plainJoiner() {
        if (!result.isDone()) {
            Joiner j = new Joiner((Task<?>) null);
            if (result.addJoiner(j)) {
                return j;
            }
        }
        retrieved = true;
        return null;
    }

    /**
     * A plain wait gave up with {@code e}: rethrows it unless the task ended first and counted the
     * wait as observing it, in which case the outcome is handed out (an interrupt status is kept).
     * {@code j} is null when the task had ended before the wait began: such a wait returns at once
     * and does not give up.
     */
    private <E extends Exception> T afterGivingUp(Joiner j, E e) throws E, ExecutionException {
        if (j == null || result.removeJoiner(j)) {
            throw e;
        }
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        try {
            return result.get(); // done: returns at once, whatever the interrupt status
        } catch (InterruptedException unreachable) {
            throw new IllegalStateException(unreachable);
        }
    }

    /**
     * This task's outcome as a stage for plain Java code, completed when the task ends; completing
     * it has no effect on the task. Whoever obtains it answers for the task's failure: the task
     * counts as observed (its group does not report its failure) when it ends, or at once if it
     * has ended already, also if the stage was dropped unread (the task keeps the stage to complete
     * it, and callbacks chained on a dropped stage still run, so a dropped stage cannot be told
     * apart from a held one). {@link Coro#await} of it inside a task is a
     * {@link #join()}: one that gives up (cancelled, timed out) takes that back. So does a holder
     * that completes the stage before the task ends (complete, cancel, orTimeout,
     * completeOnTimeout, ...): the stage will not show the task's failure, so its group reports it;
     * an await of such a stage returns what it was completed with. Its callbacks must not wait for
     * anything that waits for this task: see {@link #toCompletableFuture()}.
     *
     * <p>A task that failed with a {@link CompletionException} completes it with that exception
     * wrapped in one more: a {@code CompletableFuture} takes a {@code CompletionException} for its
     * own wrapper, so its {@code get}, {@code exceptionNow} and {@code join} (as the cause of what it
     * throws) hand out the task's own exception, as the task's {@link #get()}, {@link #exceptionNow()}
     * and {@link #join()} do, where a {@code CompletableFuture} whose computation threw it would hand
     * out its cause; callbacks ({@code handle}, {@code whenComplete}, {@code exceptionally}) see the
     * outer wrapper.
     */
    public CompletionStage<T> toCompletionStage() {
        return view();
    }

    /**
     * {@link #toCompletionStage()}, as a {@link CompletableFuture}: the same kind of copy. Its
     * blocking {@code get} and {@code join} refuse, with {@link #get()}'s
     * {@link IllegalStateException}, a wait that could never end: by this task or one it runs
     * under, or inside this task's own {@link Coro#blocking} call. In a callback that the task's end
     * runs for another of its views (the end completes them one after another), they complete the
     * view at once with the task's outcome, instead of waiting for the end to reach it.
     *
     * <p>Callbacks chained on a view before the task ends run where it ends, outside any task,
     * before the tasks that join it are woken (so that a joiner finds every view taken before the
     * end complete). So a callback must not wait for anything that waits for this task: one that
     * joins a task (or gets its view) which itself joins this task waits forever on loom, whose
     * callbacks run on the ended task's virtual thread and may block (on threadpool, a carrier,
     * such a blocking wait is refused with an {@link IllegalStateException}), as a blocking
     * callback of a {@code CompletableFuture} or a kotlinx completion handler can. Chain what
     * would wait with an {@code ...Async} variant, or wait in a task.
     */
    public CompletableFuture<T> toCompletableFuture() {
        return view();
    }

    private View<T> view() {
        View<T> v = new View<>(this);
        if (result.isDone() || !result.addJoiner(v.joiner)) {
            retrieved = true;
            result.whenComplete(v::deliver); // ended: runs now
        }
        // Else the task's end delivers it through its joiner (Outcome#wakeJoiners), which a holder
        // that completes it first takes back: a completion callback, which cannot be taken off,
        // would keep every view done with on a long-lived task, and what it holds, for the task's life.
        return v;
    }

    /**
     * {@link Coro#await} of one of this task's views, by the current task: waits until the view
     * completes, with this task's outcome or with what its holder completed it with, and returns
     * that. Only this task's outcome counts as observing it; an await that gives up (cancelled, timed
     * out) takes its registration, and the view's, back, as a {@link #join()} that gives up does.
     * Refused, as a join is, by this task itself or a task that runs under it, unless the view or
     * the task is done.
     */
    T await(View<T> view) {
        Task<?> caller = require("Coro.await");
        Joiner j = null;
        if (!view.isDone()) {
            // Refused only while the view is not done (a holder may have completed it), as join()
            // refuses it: it would wait forever.
            if (caller == this) {
                throw new IllegalStateException("a task cannot await itself: it would wait forever (" + name() + ")");
            }
            if (!result.isDone()) {
                caller.refuseToWaitForAnAncestor(this, "await");
            }
            // Woken when the task ends, or when a holder completes the view (View wakes every
            // waiter of the task then), whichever comes first.
            j = waitAsJoiner(caller, () -> view.isDone() || result.isDone(), view.joiner);
        }
        if (!view.isDone()) {
            result.whenComplete(view::deliver); // the task has ended: the view gets its outcome now
        }
        if (view.fromTask() || j != null && !result.removeJoiner(j) && !view.holderWon()) {
            return outcome(); // the task's outcome (it counted this await, if it ended meanwhile)
        }
        return valueOf(view); // what its holder completed it with: the task's failure stays its group's
    }

    /** The value of {@code f}, done, or its failure rethrown as {@link Coro#await} does. */
    static <T> T valueOf(CompletableFuture<T> f) {
        if (f.isCompletedExceptionally()) {
            throw rethrow(failureOf(f));
        }
        return f.join();
    }

    /**
     * What {@link #toCompletionStage()} and {@link #toCompletableFuture()} hand out: a copy of the
     * outcome, and the registration ({@link Joiner} without a task to wake) that makes the task
     * count as observed by it when it ends. A holder that completes it (complete, cancel,
     * orTimeout, completeOnTimeout, ...) before the task ends takes the registration back: the
     * view will not show the task's failure, so the task's group reports it.
     */
    static final class View<T> extends CompletableFuture<T> {
        private static final java.lang.invoke.VarHandle CLAIM;
        /** {@link #claim} of a view that the task's end completes with its outcome. */
        private static final Object BY_TASK = new Object();
        /** {@link #claim} of a view whose outcome obtrudeValue or obtrudeException replaced. */
        private static final Object OBTRUDED = new Object();

        static {
            try {
                CLAIM = java.lang.invoke.MethodHandles.lookup().findVarHandle(View.class, "claim", Object.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final Task<T> task;
        final Joiner joiner = new Joiner(this);
        /**
         * Who completes this view: null until the task's end ({@link #BY_TASK}) or a holder (its
         * {@link HolderClaim}) claims it, before completing it. A holder's claim carries the
         * completion it asked for, so that whoever finds the view claimed finishes that completion
         * itself instead of waiting for the claimant, which may be descheduled, unmounted with no
         * carrier free, or gone (a StackOverflowError between its claim and its completion).
         */
        private volatile Object claim;

        View(Task<T> task) {
            this.task = task;
        }

        /**
         * Completes this view with the task's outcome, unless a holder has claimed it; then as
         * the claim says, since a holder cut short between its claim and its completion (a
         * StackOverflowError) may never call again.
         */
        void deliver(T value, Throwable failure) {
            if (CLAIM.compareAndSet(this, null, BY_TASK)) {
                completeWithOutcome(value, failure);
            } else {
                finish(claim);
            }
        }

        private void completeWithOutcome(T value, Throwable failure) {
            if (failure == null) {
                super.complete(value);
            } else {
                super.completeExceptionally(failure);
            }
        }

        /**
         * Whether a holder's completion was decided for before the task ended: then the view never
         * shows the task's outcome, and nothing that waits for it observes the task. Stable once the
         * task has ended (a decision comes before the end, or is for the task).
         */
        boolean holderWon() {
            return claim instanceof HolderClaim h && h.decided == HolderClaim.HOLDER;
        }

        /** Whether the task's outcome completed this view (read once it is done). */
        boolean fromTask() {
            Object c = claim;
            return c == BY_TASK || c instanceof HolderClaim h && h.decided == HolderClaim.TASK;
        }

        /**
         * A holder's complete, completeExceptionally or cancel, published by its claim. Which of
         * the holder's completion and the task's outcome the view gets is decided once, by whoever
         * finishes the claim first ({@link Outcome#decide}).
         */
        static final class HolderClaim {
            static final int UNDECIDED = 0;
            /** The holder's: its registration was taken back before the task ended. */
            static final int HOLDER = 1;
            /** The task's outcome: the task ended first and counted the view as observing it. */
            static final int TASK = 2;

            /** The value, or the failure. */
            final Object value;
            final boolean failure;
            final boolean cancel;
            final boolean mayInterruptIfRunning;
            /** Written once, under the task's {@link Outcome} lock. */
            volatile int decided;

            HolderClaim(Object value, boolean failure, boolean cancel, boolean mayInterruptIfRunning) {
                this.value = value;
                this.failure = failure;
                this.cancel = cancel;
                this.mayInterruptIfRunning = mayInterruptIfRunning;
            }
        }

        /**
         * Claims this view for {@code mine} and completes it so: true if the claim won and the
         * holder's completion was decided for. A view claimed first (by the task's end, another
         * holder, or a holder whose call failed part-way) is finished here as that claim says, so
         * that a false return finds the view done, as CompletableFuture's contract says, without
         * waiting for anyone.
         */
        private boolean claimFor(HolderClaim mine) {
            // Claimed before the registration is taken back (in finish), so that the task's end
            // cannot complete the view in between: the view would then show a failure that the
            // task, finding no registration, leaves to its group to report as well.
            if (claim == null && CLAIM.compareAndSet(this, null, mine)) {
                finish(mine);
                return mine.decided == HolderClaim.HOLDER;
            }
            finish(claim);
            return false;
        }

        /** Completes this view as {@code c}, its claim, says; idempotent, by any caller. */
        @SuppressWarnings("unchecked")
        private void finish(Object c) {
            if (!(c instanceof HolderClaim h)) {
                if (c == BY_TASK && !isDone()) {
                    // The task's end claimed it and is completing it: its outcome is there (deliver
                    // runs once the task's result is complete), so this completes it as well.
                    task.result.whenComplete(this::completeWithOutcome);
                }
                return; // OBTRUDED: done
            }
            if (task.result.decide(h, joiner) == HolderClaim.TASK) {
                task.result.whenComplete(this::completeWithOutcome); // the task has ended: runs now
                return;
            }
            if (h.cancel) {
                super.cancel(h.mayInterruptIfRunning);
            } else if (h.failure) {
                super.completeExceptionally((Throwable) h.value);
            } else {
                super.complete((T) h.value);
            }
            // Done: the task keeps nothing of it (no-op once the task has ended).
            task.result.removeJoiner(joiner);
            // Awaits of this view wait in the task's joiners: each re-checks.
            task.result.wakeWaiting();
        }

        @Override
        public boolean complete(T value) {
            return claimFor(new HolderClaim(value, false, false, false));
        }

        @Override
        public boolean completeExceptionally(Throwable ex) {
            Objects.requireNonNull(ex);
            return claimFor(new HolderClaim(ex, true, false, false));
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            return claimFor(new HolderClaim(null, false, true, mayInterruptIfRunning)) || isCancelled();
        }

        @Override
        public CompletableFuture<T> completeAsync(java.util.function.Supplier<? extends T> supplier,
                                                  java.util.concurrent.Executor executor) {
            Objects.requireNonNull(supplier);
            Objects.requireNonNull(executor);
            // Not CompletableFuture's own, which completes this view without calling complete().
            // A failure of the supplier as CompletableFuture's own keeps it: wrapped in a
            // CompletionException (one the supplier threw as it is), which callbacks see.
            executor.execute(() -> {
                if (!isDone()) {
                    try {
                        complete(supplier.get());
                    } catch (Throwable e) {
                        completeExceptionally(e instanceof CompletionException ? e : new CompletionException(e));
                    }
                }
            });
            return this;
        }

        /**
         * A blocking wait on this view, refused where it could never end, as {@link Task#get()}
         * refuses one on the task: by the task itself or one it runs under, inside the task's own
         * {@link Coro#blocking} call, or (untimed) on a carrier thread that must not block.
         */
        @Override
        public T get() throws InterruptedException, ExecutionException {
            refuseHopeless("toCompletableFuture().get", true);
            return super.get();
        }

        @Override
        public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
            requireNonNullArg(unit, "unit");
            refuseHopeless("toCompletableFuture().get", false);
            return super.get(timeout, unit);
        }

        /** {@link #get()}'s refusal, for a join. */
        @Override
        public T join() {
            refuseHopeless("toCompletableFuture().join", true);
            return super.join();
        }

        private void refuseHopeless(String what, boolean untimed) {
            if (!isDone()) {
                if (task.result.isDone() && Schedulers.currentFiber() == task.fiber) {
                    // On the thread of the task's end, which completes its views one after another,
                    // in a callback of one completed before this one: the end would complete this
                    // one only once that callback returns. Completed now instead, with the outcome
                    // the end would give it (or as a holder's claim says), and its callbacks run
                    // here, where the task ends, as they would have.
                    task.result.deliverTo(this);
                    return;
                }
                task.refuseHopelessWait(current(), what, untimed);
            }
        }

        @Override
        public void obtrudeValue(T value) {
            task.result.removeJoiner(joiner);
            super.obtrudeValue(value);
            claim = OBTRUDED;
            task.result.wakeWaiting();
        }

        @Override
        public void obtrudeException(Throwable ex) {
            Objects.requireNonNull(ex);
            task.result.removeJoiner(joiner);
            super.obtrudeException(ex);
            claim = OBTRUDED;
            task.result.wakeWaiting();
        }
    }

    /** The failure of a finished task, or null. */
    Throwable failure() {
        // Read through a callback, not join(), which since JDK 23 throws a new CancellationException
        // in place of a cancellation. Not kept in a field: it would make every task 8 bytes larger.
        return result.isCompletedExceptionally() ? failureOf(result) : null;
    }

    @Override
    public String toString() {
        return "Task[" + name() + (result.isDone() ? ", done" : cancelRequested ? ", cancelling" : "") + "]";
    }

    // ---- the task's own side: suspension points ----

    /**
     * Throws if this task (or one of its open scopes) is cancelled, unless a shield
     * ({@link Coro#shielded}) holds that cancellation off. Called by the task's own fiber.
     */
    void checkCancelled() {
        CancellationException e = pendingCancellation();
        if (e != null) {
            throw e;
        }
    }

    /** The exception {@link #checkCancelled()} would throw now, or null. */
    CancellationException pendingCancellation() {
        Object by = cancelledBy();
        if (by == null) {
            return null;
        }
        return by == this ? new CancellationException("task " + name() + " was cancelled")
                : new ScopeCancelledException((CancelScope) by);
    }

    /** Whether a cancellation would be raised at a suspension point now. */
    boolean cancellationPending() {
        return cancelledBy() != null;
    }

    /**
     * What a suspension point would raise a cancellation for now: this task (its {@link #cancel()}),
     * a cancelled scope (its own group's, or an open one's, outermost first), or null if nothing
     * is cancelled or a shield holds it off. Own fiber only.
     */
    private Object cancelledBy() {
        List<CancelScope> open = scopes;
        int from = open == null ? -1 : shieldedBelow(open);
        if (from < 0) {
            if (cancelRequested) {
                return this;
            }
            TaskGroup own = ownGroup;
            if (own != null && own.scope.cancelled) {
                return own.scope;
            }
            from = 0;
        }
        if (open != null) {
            for (int i = from, n = open.size(); i < n; i++) {
                CancelScope s = open.get(i);
                if (s.cancelled && !s.closed) {
                    return s;
                }
            }
        }
        return null;
    }

    /**
     * Where in {@code open} the scopes that can cancel the task now begin: just inside the
     * innermost open shield, or -1 if none is open (then the task's own cancellation and its own
     * group's count too, and every scope).
     */
    private static int shieldedBelow(List<CancelScope> open) {
        for (int i = open.size() - 1; i >= 0; i--) {
            CancelScope s = open.get(i);
            if (s.shield && !s.closed) {
                return i + 1;
            }
        }
        return -1;
    }

    /** Parks this task's fiber until {@code ready} holds; throws on cancellation. Own fiber only. */
    void suspendUntil(BooleanSupplier ready) {
        Fiber f = fiber;
        while (!ready.getAsBoolean()) {
            checkCancelled();
            f.park();
        }
    }

    /** Parks until {@code ready} holds, ignoring cancellation (it stays pending). Own fiber only. */
    void suspendUninterruptiblyUntil(BooleanSupplier ready) {
        Fiber f = fiber;
        while (!ready.getAsBoolean()) {
            f.park();
        }
    }

    /** Parks once (may return early); throws on cancellation. Own fiber only. */
    void park() {
        checkCancelled();
        fiber.park();
    }

    /** Wakes this task's fiber if it is parked (for wake-up callbacks). Any thread. */
    void wake() {
        Fiber f = fiber;
        if (f != null) {
            f.unpark();
        }
    }

    /** Registers {@code action} to run (on any thread) when this task finishes. */
    void whenDone(Runnable action) {
        result.whenComplete((v, e) -> action.run());
    }

    Fiber fiber() {
        return fiber;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    /**
     * A task's result, which is also what its fiber runs: one object instead of a future and a
     * lambda, 16 bytes less per task (a crowd of sleeping tasks is mostly such objects). Never
     * handed out: callers get {@link #toCompletableFuture() copies} and minimal stages.
     */
    static final class Outcome<T> extends CompletableFuture<T> implements Runnable {
        private static final Joiner WOKEN = new Joiner((Task<?>) null);

        private final Task<T> task;
        /**
         * Tasks suspended in {@link Task#join()} on this task, newest first, linked through
         * {@link Joiner#next}; {@link #WOKEN} once the task has finished and woken them. Guarded
         * by this (never handed out, so nobody else locks it).
         */
        private Joiner joiners;

        Outcome(Task<T> task) {
            this.task = task;
        }

        /** Runs the task's body in the fiber that was started for it. */
        @Override
        public void run() {
            task.run();
        }

        /** Registers a joiner to be woken at the end; false if the task has already finished. */
        synchronized boolean addJoiner(Joiner j) {
            Joiner first = joiners;
            if (first == WOKEN) {
                return false;
            }
            j.next = first;
            if (first != null) {
                first.prev = j;
            }
            joiners = j;
            j.linked = true;
            return true;
        }

        /**
         * Takes back a joiner that stops waiting: true if it was still waiting, false if the task
         * had ended and woken it (and marked the task observed for it).
         */
        synchronized boolean removeJoiner(Joiner j) {
            if (joiners == WOKEN) {
                return false;
            }
            if (!j.linked) {
                return true;
            }
            j.linked = false;
            if (j.prev != null) {
                j.prev.next = j.next;
            } else {
                joiners = j.next;
            }
            if (j.next != null) {
                j.next.prev = j.prev;
            }
            j.prev = null;
            j.next = null;
            return true;
        }

        /**
         * An await of a view that gives up: the view no longer counts as observing the task, but
         * stays linked, so that the task's end still delivers its outcome to it. False if the task
         * had ended and counted it already (as {@link #removeJoiner}).
         */
        synchronized boolean stopObserving(Joiner view) {
            if (joiners == WOKEN) {
                return false;
            }
            view.observes = false;
            return true;
        }

        /**
         * Decides a holder's claim on one of this task's views, once: for the holder's completion
         * if it comes before the task ends, which then no longer counts the view's registration
         * ({@code j}) as observing it, else for the task's outcome (the end counted the view as
         * observing it). Under this lock, so that the taking back and the decision are one step
         * for every caller that finishes the claim. The registration stays linked until the view
         * is done ({@link View#finish}), so that the task's end finishes a holder's completion that
         * was cut short (a StackOverflowError) after this decision.
         */
        synchronized int decide(View.HolderClaim c, Joiner j) {
            if (c.decided == View.HolderClaim.UNDECIDED) {
                if (joiners == WOKEN) {
                    c.decided = View.HolderClaim.TASK;
                } else {
                    j.observes = false;
                    c.decided = View.HolderClaim.HOLDER;
                }
            }
            return c.decided;
        }

        /**
         * Wakes every task waiting in a join or an await of this task, to re-check what it waits
         * for: a view's holder has completed it. The others find the task still running and wait on.
         */
        void wakeWaiting() {
            List<Task<?>> callers = new ArrayList<>();
            synchronized (this) {
                if (joiners == WOKEN) {
                    return;
                }
                for (Joiner j = joiners; j != null; j = j.next) {
                    if (j.caller != null) {
                        callers.add(j.caller);
                    }
                }
            }
            for (Task<?> c : callers) {
                c.wake();
            }
        }

        /** Completes {@code view} with this (done) outcome, unless its holder claimed it first. */
        @SuppressWarnings("unchecked")
        private void deliverTo(View<?> view) {
            whenComplete(((View<T>) view)::deliver);
        }

        /** Wakes every joiner; called once, after this future completed. */
        void wakeJoiners() {
            // The views first, before the end is published (WOKEN) and before anyone is woken (a
            // join, a select, a gather, an asCompleted loop, all woken from here): whoever learns
            // of the end, here or by finding it published, finds the views taken before it complete
            // (as when they were completion callbacks of this future). Not under the lock: their
            // callbacks run. Again while one is linked undone: its view() looked before this future
            // completed and linked it after the last round (a view taken from now on is completed
            // by view() itself), or a holder's completion was cut short. A few rounds at most: one
            // that a delivery left undone (no memory) is delivered again after the end is published.
            // Still linked, each counts below as observing unless taken back meanwhile.
            Joiner j;
            for (int round = 0; ; round++) {
                List<View<?>> views = null;
                synchronized (this) {
                    for (Joiner k = joiners; k != null; k = k.next) {
                        if (k.view != null && !k.view.isDone()) {
                            (views == null ? views = new ArrayList<>() : views).add(k.view);
                        }
                    }
                    if (views == null || round == 3) {
                        j = joiners;
                        joiners = WOKEN;
                        break;
                    }
                }
                for (View<?> v : views) {
                    deliverTo(v); // runs now (done)
                }
            }
            for (Joiner k = j; k != null; k = k.next) {
                if (k.view != null && !k.view.isDone()) {
                    deliverTo(k.view);
                }
            }
            boolean observed = false;
            for (Joiner k = j; k != null; k = k.next) {
                // Every select's atEnd runs (each claims its own select), before anyone is woken.
                observed |= k.atEnd == null ? k.observes : k.atEnd.getAsBoolean();
            }
            if (observed) {
                // A joiner returns the outcome. Marked here, on the task's own thread before its
                // group hears of its end, so that the group does not report it as well.
                task.retrieved = true;
            }
            for (; j != null; j = j.next) {
                if (j.caller != null) { // null: a plain Java get(), which the future itself wakes
                    j.caller.wake();
                }
            }
        }
    }

    /**
     * A wait for a task in {@link Task#join()} (its task to wake), in a plain Java
     * {@link Task#get} (no task), in a select's {@code onJoin} or {@code onAwait} clause, or the
     * registration of one of its {@link View}s: a node of its target's {@link Outcome#joiners}.
     */
    static final class Joiner {
        final Task<?> caller;
        /** The view this registers, to be completed at the end; null for a wait. */
        final View<?> view;
        /**
         * Whether the end counts this joiner (without {@link #atEnd}) as observing the task: false
         * for a view whose await gave up ({@link Outcome#stopObserving}). Guarded by the Outcome.
         */
        boolean observes = true;
        /**
         * Null for a join or get, which hands the outcome out once woken; for a select's task
         * clause, what the end runs first: it claims the select and says whether it observes.
         */
        final BooleanSupplier atEnd;
        Joiner prev;
        Joiner next;
        boolean linked;

        Joiner(Task<?> caller) {
            this(caller, null);
        }

        Joiner(Task<?> caller, BooleanSupplier atEnd) {
            this.caller = caller;
            this.atEnd = atEnd;
            this.view = null;
        }

        Joiner(View<?> view) {
            this.caller = null;
            this.atEnd = null;
            this.view = view;
        }
    }

    /**
     * What to throw for {@code primary} with {@code failures} beside it: {@code primary}, or a
     * failure that already carries it as suppressed (where an earlier gather of the same tasks,
     * or a failing cleanup, put it), with each of {@code failures} then suppressed on it once.
     * Gathering the same failed tasks again so throws the same exception, whichever task a gather
     * sees fail first, and no failure that could not go on {@code primary} (that would make a
     * loop) is dropped. One that only wraps {@code primary} as its cause is not preferred: it adds
     * nothing but the wrapping.
     */
    static Throwable combine(Throwable primary, List<Throwable> failures) {
        Throwable thrown = primary;
        for (Throwable f : failures) {
            if (f != primary && carries(f, primary, identitySet(), false)) {
                thrown = f;
                break;
            }
        }
        suppressEachOnce(thrown, failures);
        return thrown;
    }

    /**
     * Attaches each of {@code failures} to {@code primary} as suppressed, once: not one it already
     * carries directly (a gather may have attached it), not {@code primary} itself, and not one
     * that carries {@code primary}, which would make a loop.
     */
    private static void suppressEachOnce(Throwable primary, List<Throwable> failures) {
        Throwable[] carried = primary.getSuppressed();
        Set<Throwable> seen = identitySet();
        seen.addAll(Arrays.asList(carried));
        seen.add(primary);
        Suppressor onto = new Suppressor(primary, carried.length);
        for (Throwable f : failures) {
            if (seen.add(f) && !carries(f, primary)) {
                onto.attachOrReport(f);
            }
        }
    }

    /**
     * Suppresses failures on one exception, {@code primary}; if {@code primary} was made with
     * suppression disabled (as stackless exceptions often are), where a failure would silently
     * vanish, reports it to the current thread's uncaught-exception handler instead, as a failure
     * nobody could observe (unless it is a cancellation: nothing went wrong). In time linear in the
     * number of failures: {@link Throwable#getSuppressed()} copies every suppressed one, so asking
     * it after each attach made attaching n failures take n²/2 copies (100,000 failed children:
     * minutes). Whether the exception can carry suppressed ones is fixed when it is made, so it is
     * asked once, after the first attach, and only if it carried none before.
     */
    static final class Suppressor {
        private final Throwable primary;
        private final int before;
        private int enabled; // 0: not known yet, 1: suppression enabled, -1: disabled

        Suppressor(Throwable primary, int suppressedBefore) {
            this.primary = primary;
            this.before = suppressedBefore;
            this.enabled = suppressedBefore > 0 ? 1 : 0;
        }

        Suppressor(Throwable primary) {
            this(primary, primary.getSuppressed().length);
        }

        void attachOrReport(Throwable f) {
            primary.addSuppressed(f);
            if (enabled == 0) {
                enabled = primary.getSuppressed().length > before ? 1 : -1;
            }
            if (enabled < 0 && !(f instanceof CancellationException)) {
                reportUnattached(primary, f);
            }
        }
    }

    private static void reportUnattached(Throwable primary, Throwable f) {
        TimerThread.reportUncaught(new IllegalStateException("a failure that ended beside " + primary
                + " could not be attached to it as suppressed, because it was made with suppression disabled;"
                + " reported here so that it is not lost (make exceptions that may end tasks with suppression"
                + " enabled)", f));
    }

    /**
     * Whether each of {@code failures} is already carried by {@code primary}, or can be attached
     * to it without a loop (it does not carry {@code primary}).
     */
    static boolean canCarryAll(Throwable primary, List<Throwable> failures) {
        // What primary carries, found once: walked again for each failure, a primary that carries
        // n of them (a gather's, rethrown by a group's body) took n²/2 steps.
        Set<Throwable> carried = null;
        for (Throwable f : failures) {
            if (f == primary) {
                continue;
            }
            if (carried == null) {
                carried = reachableFrom(primary);
            }
            if (!carried.contains(f) && carries(f, primary)) {
                return false;
            }
        }
        return true;
    }

    /** {@code t} and every exception reached from it through causes and suppressed ones. */
    private static Set<Throwable> reachableFrom(Throwable t) {
        Set<Throwable> reached = identitySet();
        java.util.ArrayDeque<Throwable> toVisit = new java.util.ArrayDeque<>();
        toVisit.push(t);
        while (!toVisit.isEmpty()) {
            Throwable x = toVisit.pop();
            if (reached.add(x)) {
                for (Throwable s : x.getSuppressed()) {
                    toVisit.push(s);
                }
                if (x.getCause() != null) {
                    toVisit.push(x.getCause());
                }
            }
        }
        return reached;
    }

    /** Whether {@code target} is {@code t}, or is reached from it through causes and suppressed ones. */
    private static boolean carries(Throwable t, Throwable target) {
        return carries(t, target, identitySet(), true);
    }

    /** {@link #carries(Throwable, Throwable)}, through suppressed ones only unless {@code viaCauses}. */
    private static boolean carries(Throwable t, Throwable target, Set<Throwable> visited, boolean viaCauses) {
        if (t == null || !visited.add(t)) {
            return false;
        }
        if (t == target) {
            return true;
        }
        for (Throwable s : t.getSuppressed()) {
            if (carries(s, target, visited, viaCauses)) {
                return true;
            }
        }
        return viaCauses && carries(t.getCause(), target, visited, true);
    }

    /** An empty set that compares by identity. */
    static Set<Throwable> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }

    /**
     * A region of a task's body that can be cancelled on its own (a timeout, a task group's
     * body), or a shield ({@link Coro#shielded}): a region that nothing outside it can cancel,
     * and that is never cancelled itself.
     */
    static final class CancelScope {
        volatile boolean cancelled;
        /** Closed by a thread other than its task's, which has yet to drop it ({@link Task#popScope}). */
        volatile boolean closed;
        final boolean shield;

        CancelScope(boolean shield) {
            this.shield = shield;
        }
    }

    /** The cancellation of one {@link CancelScope}; caught by whoever opened the scope. */
    static final class ScopeCancelledException extends CancellationException {
        private static final long serialVersionUID = 1L;
        final transient CancelScope scope;

        ScopeCancelledException(CancelScope scope) {
            super("cancelled by an enclosing timeout or task group");
            this.scope = scope;
        }
    }

    static <T> T requireNonNullArg(T value, String name) {
        return Objects.requireNonNull(value, name + " must not be null");
    }
}
