package io.coro4j;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;

/**
 * A structured scope for tasks (Python's {@code asyncio.TaskGroup}, Kotlin's
 * {@code coroutineScope}): opened by {@link Coro#taskGroup} or {@link Coro#supervisorGroup}, it
 * closes only when every task spawned into it has finished, so no child outlives it.
 *
 * <ul>
 *   <li>Default mode: the first child failure cancels the group's body and every sibling.</li>
 *   <li>Supervisor mode: a child may fail without cancelling anything; failures of children
 *       nobody {@link Task#join() joined} or gathered are still reported when the group closes
 *       (a gather, by any task, answers for a child that ended while it waited).</li>
 *   <li>When the group closes with failures, the first is thrown and the others are attached to
 *       it as {@linkplain Throwable#getSuppressed() suppressed}; none is lost. They are in the
 *       order the group heard of the children's ends, which a child's end reaches just after its
 *       {@link Task#isDone()} turns true: children that end close together may be listed in
 *       either order. (A first failure
 *       made with suppression disabled cannot carry them: each other one then goes to the
 *       uncaught-exception handler of the thread that closes the group.)</li>
 *   <li>If the task running the group is cancelled, or an enclosing timeout expires, also while
 *       the group waits for its children, the children are cancelled and waited for, and the
 *       group throws that cancellation ({@link Coro#withTimeout} turns its own into a
 *       {@link TimeoutExceededException}). A child's real failure outranks a cancellation: it is
 *       thrown instead, with the cancellation suppressed.</li>
 * </ul>
 *
 * <p>A group that cannot suspend to wait for its children (on the threadpool scheduler, one
 * closed inside a class initializer) does not leave them unwatched: it cancels those still
 * running, hands them to its task, which waits for them before it ends and fails with a failure
 * they then have (as with children of {@link Coro#spawn}), and throws an
 * {@link IllegalStateException} that says so, with the failures it had so far suppressed.
 *
 * <p>Thread-safe: any task may spawn into an open group.
 */
public final class TaskGroup {

    private static final VarHandle LOCKED;

    static {
        try {
            LOCKED = MethodHandles.lookup().findVarHandle(TaskGroup.class, "locked", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Failed tries to take the lock before a contended {@link #lock()} yields the thread, between tries. */
    private static final int SPINS = 128;

    /** The code run inside a group. */
    @FunctionalInterface
    public interface Body<R> {
        R run(TaskGroup group) throws Exception;
    }

    private final Task<?> owner;
    private final boolean supervisor;
    private final boolean explicit;
    final Task.CancelScope scope = new Task.CancelScope(false);
    /**
     * Running children, so they can be cancelled: a circular doubly linked list through
     * {@link Task#prevSibling}/{@link Task#nextSibling}, newest first after this head (a sentinel,
     * made at the first spawn). A finished child is unlinked at once (O(1)), so a long-lived task
     * that spawns children forever keeps only the running ones. Linking and unlinking have no
     * branches on purpose: a child unlinks itself at its end, in a frame compiled while it ran
     * and possibly suspended since; a branch C2 had pruned as never taken would deoptimize every
     * such frame once the branch is taken (tens of thousands of deoptimizations when a million
     * sleepers began to finish out of order).
     */
    private Task<?> children;
    /**
     * Failed children in the order the group heard of their ends, with their failures; allocated at the first failure.
     * A supervisor group does not report a failure someone observed ({@link Task#retrieved}, which
     * never goes back to false): it does not record one observed before the child's end, and drops
     * those observed since when the map has doubled ({@link #pruneAt}), so that a long-lived task
     * joining failing children keeps only the failures nobody has observed (and a few more).
     */
    private Map<Task<?>, Throwable> failures;
    /** The size of {@link #failures} at which a supervisor group next drops the observed ones. */
    private int pruneAt = 16;
    /**
     * Children whose outcome a gather waiting on them has claimed at their end, with the number of
     * such gathers: a supervisor group does not report their failures, which the gathers hand out,
     * or give back ({@link #releaseClaim}). Null until the first claim.
     */
    private Map<Task<?>, Integer> claims;
    private int running;
    private boolean closed;
    private boolean childrenCancelled;
    /**
     * Whether the owner, with a cancellation pending, last found every child it waits for ended
     * ({@link #childrenHaveEnded}), and so waits for them without cancelling them: a child spawned
     * meanwhile then wakes it, to be cancelled as any running child is. Guarded by the lock.
     */
    private boolean waitingOutEnded;
    /**
     * The group that answers for this one's children since this one could not wait for them
     * ({@link #handOver}): the owner's own group. Null until then; written once, under the lock.
     */
    private TaskGroup heir;
    /**
     * Whether this group ended where it could not wait, after its owner had ended ({@link #handOver}):
     * nobody waits for its children, and a failure they have goes to the uncaught-exception handler.
     * Written once, under the lock.
     */
    private boolean orphaned;
    /**
     * The lock that guards this group's fields: 1 while held. A spin lock, not a monitor: the
     * spawning task and its children ending on other carriers take it for a few field updates
     * each, and a contended monitor may park the carrier thread, which then waits to be woken by
     * the OS (on threadpool, spawn + join of 10,000 tasks ran at 490 ns or more in four forks of
     * nine with a monitor, in one of nine with this lock; bench/README.md). Never held across a
     * suspension or a call that may block.
     */
    private volatile int locked;

    TaskGroup(Task<?> owner, boolean supervisor, boolean explicit) {
        this.owner = owner;
        this.supervisor = supervisor;
        this.explicit = explicit;
    }

    /**
     * Starts {@code body} as a child task of this group. The child inherits the caller's
     * {@link CoroutineLocal} values (the group owner's, when called outside a task; none once the
     * owner has ended, which only a group a generator body yielded inside can outlive).
     *
     * <p>A group whose children are being cancelled (a child failed in default mode, or the owner
     * was cancelled, or an enclosing timeout expired, while the group waits) still accepts a spawn
     * until it closes, but the child starts cancelled: its body never runs, and it ends cancelled
     * (kotlinx.coroutines' rule for a cancelled scope; asyncio's {@code TaskGroup} refuses such a
     * spawn with a {@code RuntimeError} instead).
     *
     * @throws IllegalStateException if the group has closed
     * @throws java.util.concurrent.RejectedExecutionException if the scheduler is shut down
     */
    public <T> Task<T> spawn(Callable<T> body) {
        Task.requireNonNullArg(body, "body");
        return spawn(body, Task.current());
    }

    /** {@link #spawn(Callable)} by {@code caller}, the current task (or null outside one). */
    <T> Task<T> spawn(Callable<T> body, Task<?> caller) {
        var context = caller != null ? caller.context : owner.context;
        Task<T> child = new Task<>(owner.scheduler, body, this, context);
        boolean wakeOwner;
        lock();
        try {
            if (closed) {
                throw new IllegalStateException("this task group has closed: spawn into a group only while it is open"
                        + " (inside its body, or from its children)");
            }
            link(child);
            running++;
            if (childrenCancelled) {
                child.cancel();
            }
            wakeOwner = waitingOutEnded;
        } finally {
            unlock();
        }
        if (wakeOwner) {
            owner.wake(); // its cancellation now cancels this child, which has not ended
        }
        try {
            child.start();
        } catch (Throwable e) { // refused (shut down), or no thread could be made: it never runs
            neverStarted(child);
            throw e;
        }
        return child;
    }

    /** Takes back a linked child whose start failed; the group that has it now, if handed over. */
    private void neverStarted(Task<?> child) {
        boolean last;
        TaskGroup h = lockUnlessHandedOver();
        if (h != null) {
            h.neverStarted(child);
            return;
        }
        try {
            unlink(child);
            last = --running == 0;
        } finally {
            unlock();
        }
        if (last) {
            owner.wake(); // finish() may be waiting for this child, spawned from outside
        }
    }

    private void link(Task<?> child) {
        Task<?> head = children;
        if (head == null) {
            children = head = Task.sentinel();
        }
        Task<?> first = head.nextSibling;
        child.prevSibling = head;
        child.nextSibling = first;
        first.prevSibling = child;
        head.nextSibling = child;
    }

    /** Unlinks a linked child. */
    private static void unlink(Task<?> child) {
        Task<?> prev = child.prevSibling;
        Task<?> next = child.nextSibling;
        next.prevSibling = prev;
        prev.nextSibling = next;
        child.prevSibling = null;
        child.nextSibling = null;
    }

    /** Whether this is a supervisor group. */
    public boolean isSupervisor() {
        return supervisor;
    }

    /** Called on the child's fiber when it has finished. */
    void childDone(Task<?> child, Throwable failure) {
        boolean cancelSiblings = false;
        boolean last;
        TaskGroup h = lockUnlessHandedOver();
        if (h != null) {
            h.childDone(child, failure);
            return;
        }
        boolean unreported = false;
        try {
            last = --running == 0;
            unlink(child);
            if (failure != null && !(failure instanceof CancellationException)) {
                if (orphaned) {
                    unreported = !child.retrieved && (claims == null || !claims.containsKey(child));
                } else if (!supervisor) {
                    if (failures == null) {
                        failures = new java.util.LinkedHashMap<>();
                    }
                    failures.put(child, failure);
                    // Once, not again for each failure: a failure that came after the siblings
                    // were cancelled walked all those still running again (100,000 children
                    // failing in their cleanup: n²/2 cancels).
                    cancelSiblings = !childrenCancelled;
                    scope.cancelled = true;
                } else if (!child.retrieved) { // a joiner woken at its end hands the failure out
                    recordUnobserved(child, failure);
                }
            }
        } finally {
            unlock();
        }
        if (unreported) {
            io.coro4j.spi.TimerThread.reportUncaught(new IllegalStateException("task " + child.name() + " failed after"
                    + " its task group ended where it could not wait, when the task that opened the group, " + owner.name()
                    + ", had ended: nobody else can report it", failure));
            return;
        }
        if (cancelSiblings) {
            cancelChildren();
        }
        // The owner waits for the group only when it closes (for the last child) or to see the
        // cancellation above; a join of one child registers its own wake-up.
        if (last || cancelSiblings) {
            owner.wake();
        }
    }

    /** Records a supervisor group's child failure, first dropping those observed since; under the lock. */
    private void recordUnobserved(Task<?> child, Throwable failure) {
        if (failures == null) {
            failures = new java.util.LinkedHashMap<>();
        } else if (failures.size() >= pruneAt) {
            failures.keySet().removeIf(c -> c.retrieved);
            pruneAt = Math.max(16, 2 * failures.size());
        }
        failures.put(child, failure);
    }

    /** The children still running, in a new list; under the lock. */
    private List<Task<?>> runningChildren() {
        List<Task<?>> list = new ArrayList<>(running);
        Task<?> head = children;
        for (Task<?> c = head == null ? null : head.nextSibling; c != head; c = c.nextSibling) {
            list.add(c);
        }
        return list;
    }

    private void cancelChildren() {
        List<Task<?>> snapshot;
        lock();
        try {
            childrenCancelled = true;
            snapshot = runningChildren();
        } finally {
            unlock();
        }
        for (Task<?> c : snapshot) {
            c.cancel();
        }
    }

    /**
     * Whether every child not yet counted out has ended (its outcome is complete): it is only
     * on its way to {@link #childDone}, which it gets to without anyone's help. Asked by the
     * owner with a cancellation pending: a child spawned after a true answer wakes it.
     */
    private boolean childrenHaveEnded() {
        lock();
        try {
            Task<?> head = children;
            for (Task<?> c = head == null ? null : head.nextSibling; c != head; c = c.nextSibling) {
                if (!c.isDone()) {
                    return waitingOutEnded = false;
                }
            }
            return waitingOutEnded = true;
        } finally {
            unlock();
        }
    }

    private boolean allDone() {
        lock();
        try {
            return running == 0;
        } finally {
            unlock();
        }
    }

    /**
     * Called by the owner's fiber when the group's body has ended: waits for every child
     * (cancelling them if the body failed or the owner is cancelled) and returns the failure the
     * group ends with, or null.
     *
     * <p>The first failure is thrown, the others suppressed, and a real failure outranks a
     * cancellation: a body cancelled by an enclosing timeout, whose children then fail, throws
     * their failure, not a cancellation that the timeout would turn into a
     * {@link TimeoutExceededException} of its own and so drop what hangs on it. A cancellation
     * that arrives while the group waits for its children ends the group with that cancellation,
     * as at any other suspension point, unless a child fails for real: then that failure is
     * thrown, the cancellation suppressed on it. Children that have all ended, and have only yet
     * to tell the group, are no such wait (as a join of an ended task is not).
     */
    Throwable finish(Throwable bodyFailure) {
        // Our scope is cancelled only by a child's failure: then that failure came first.
        boolean childFailedFirst = scope.cancelled;
        boolean bodyFailedFirst = bodyFailure != null && !(bodyFailure instanceof CancellationException) && !childFailedFirst;
        if (bodyFailure != null && !isOwnCancellation(bodyFailure)) {
            cancelChildren();
        }
        boolean cancelledWhileWaiting = false;
        List<Throwable> childFailures;
        while (true) {
            lock();
            try {
                // Closed in the same critical section that sees no child running: a spawn either
                // linked its child before this (and it was waited for) or is refused after it.
                if (running == 0) {
                    closed = true;
                    childFailures = failuresToReport();
                    break;
                }
            } finally {
                unlock();
            }
            // Children that have all ended and only have yet to tell this group are not waited
            // for as at a suspension point, as a join of a task that has ended is not: a
            // cancellation pending (one that came during Coro.shielded, or after the body's last
            // suspension point) does not turn a body's value into a cancellation by how soon
            // they tell. Asked only with a cancellation pending: it walks the children.
            boolean pending = !childrenCancelled && owner.cancellationPending();
            boolean waitOut = pending && childrenHaveEnded();
            if (pending && !waitOut) {
                cancelledWhileWaiting = true;
                cancelChildren();
            }
            try {
                // Waiting out ended children, it goes on only while no child has been spawned since.
                owner.suspendUninterruptiblyUntil(() -> allDone()
                        || (!childrenCancelled && owner.cancellationPending() && !(waitOut && childrenHaveEnded())));
            } catch (RuntimeException | Error cannotWait) {
                if (!explicit) {
                    throw cannotWait; // a task's own group ends at the top of its fiber: nothing else to wait there
                }
                Throwable handedOver = handOver(cannotWait, bodyFailure);
                if (handedOver != null) {
                    return handedOver;
                } // else every child had ended: closes as usual
            }
        }
        if (childFailures.isEmpty()) {
            if (bodyFailure != null) {
                return bodyFailure; // the common failure case: allocate nothing
            }
            return cancelledWhileWaiting ? owner.pendingCancellation() : null;
        }
        Throwable primary = bodyFailedFirst ? bodyFailure : childFailures.get(0);
        if (!bodyFailedFirst && bodyFailure != null && childFailures.contains(bodyFailure)
                && Task.canCarryAll(bodyFailure, childFailures)) {
            // The body rethrew a child's failure (a gather's), which carries what the gather
            // added: thrown as it is, unless some other failure could then not go on it.
            primary = bodyFailure;
        }
        List<Throwable> others = childFailures;
        Throwable alsoEnded = bodyFailure != null ? bodyFailure : cancelledWhileWaiting ? owner.pendingCancellation() : null;
        if (alsoEnded != null && !isOwnCancellation(alsoEnded)) {
            others = new ArrayList<>(childFailures);
            others.add(alsoEnded); // what else ended the body or the wait, for the record
        } else if (alsoEnded != null && alsoEnded.getSuppressed().length > 0) {
            // Our own cancellation is dropped, but not what it carried (a blocking call's end,
            // Coro.blocking): it goes on the failure thrown, as a timeout carries it over.
            others = new ArrayList<>(childFailures);
            for (Throwable s : alsoEnded.getSuppressed()) {
                if (!(s instanceof Task.ScopeCancelledException)) {
                    others.add(s);
                }
            }
        }
        return Task.combine(primary, others);
    }

    /**
     * Ends a group whose end runs where its owner does not: a generator body opened it, yielded
     * inside it (which {@link Coro#taskGroup} asks not to do) and was resumed by another
     * task, {@code now}, or outside any task ({@code now} null). The owner cannot wait there, and may
     * have ended. The group closes to new spawns and cancels the children still running; in a task,
     * it hands them to that task, which waits for them before it ends and fails with a failure they
     * then have (as with {@link #handOver}); outside any task, where the thread may block, it waits
     * for them here. Either way no child outlives the code that ends the group unwatched.
     *
     * @return what the group throws: an {@link IllegalStateException} that names the misuse, with
     *     the body's failure and the children's failures (outside a task: all of them) suppressed
     */
    Throwable finishElsewhere(Throwable bodyFailure, Task<?> now) {
        TaskGroup own = now != null ? now.ownGroup() : null;
        List<Task<?>> handed;
        lock();
        try {
            closed = true;
            childrenCancelled = true;
            if (own != null) {
                handed = running == 0 ? List.of() : own.adopt(this);
            } else {
                handed = runningChildren();
            }
        } finally {
            unlock();
        }
        for (Task<?> c : handed) {
            c.cancel();
        }
        if (own == null) {
            awaitChildrenBlocking(handed);
        }
        List<Throwable> childFailures;
        lock();
        try {
            childFailures = failuresToReport();
        } finally {
            unlock();
        }
        String where = now != null ? "in task " + now.name() : "outside any task";
        IllegalStateException thrown = new IllegalStateException("this task group, opened by task " + owner.name()
                + " in a generator body, ends " + where + ": the body yielded inside the group and was resumed there,"
                + " where the group cannot wait for its children; it cancelled the " + handed.size() + " still running"
                + (now != null ? " and left them to task " + now.name() + ", which waits for them before it ends and"
                        + " fails if they fail" : " and waited for them")
                + ". Do not yield inside a task group opened in a generator body: open it around the code between"
                + " two yields");
        return withFailures(thrown, childFailures, bodyFailure);
    }

    /**
     * Blocks the calling thread, outside any task, until each of {@code ended} (this group's
     * children, cancelled, the group closed) has ended and told this group; uninterruptibly, keeping
     * the interrupt status. The group's wake-ups go to its owner, not to this thread: a child's end
     * is waited for through its outcome, and the group hears of it just after.
     */
    private void awaitChildrenBlocking(List<Task<?>> ended) {
        for (Task<?> c : ended) {
            try {
                c.result.join(); // uninterruptible; an interrupt stays set
            } catch (java.util.concurrent.CompletionException | CancellationException e) {
                // ended: what it ended with is the group's to hear of
            }
        }
        boolean interrupted = false;
        while (!allDone()) {
            // Each child tells the group just after its outcome completes (after the completion
            // callbacks that run on its thread): a short wait, polled.
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
            interrupted |= Thread.interrupted(); // kept for the end, so that the park does not return at once
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Ends a group that cannot wait for its children: on the threadpool scheduler, a task cannot
     * suspend under a class initializer. Its running children are cancelled and handed to the
     * owner's own group (with the claims of gathers on them), which the owner waits for at its end,
     * never under such a frame: so no child outlives the owner, and a failure they have later is
     * the owner's, as a {@link Coro#spawn spawned} child's is. The group closes to new spawns.
     *
     * @return what the group throws: an {@link IllegalStateException} saying so, caused by the
     *     failed suspension, with the body's failure and the children's failures so far suppressed;
     *     or null if no child was running any more (the group then closes as usual)
     */
    private Throwable handOver(Throwable cannotWait, Throwable bodyFailure) {
        List<Task<?>> handed;
        List<Throwable> childFailures;
        lock();
        try {
            if (running == 0) {
                return null;
            }
            closed = true;
            childrenCancelled = true;
            // An owner that has ended (a generator body opened the group, yielded inside it, and
            // the group's own child resumed it) waits for nothing: its own group, closed or never
            // made, would keep their failures unread.
            orphaned = owner.isDone();
            handed = orphaned ? runningChildren() : owner.ownGroup().adopt(this);
            childFailures = failuresToReport();
        } finally {
            unlock();
        }
        for (Task<?> c : handed) {
            c.cancel();
        }
        IllegalStateException thrown = new IllegalStateException("this task group cannot wait for its children here ("
                + cannotWait.getMessage() + "), so it cancelled the " + handed.size() + " still running and left them to task "
                + owner.name() + (orphaned ? ", which has ended: a failure they then have goes to the uncaught-exception"
                        + " handler" : ", which waits for them before it ends and fails if they fail")
                + ": open the group where the task can suspend", cannotWait);
        return withFailures(thrown, childFailures, bodyFailure);
    }

    /**
     * {@code thrown}, what a group that could not wait for its children throws, with their failures
     * so far and the body's own (not this group's cancellation of it) suppressed.
     */
    private Throwable withFailures(Throwable thrown, List<Throwable> childFailures, Throwable bodyFailure) {
        List<Throwable> others = new ArrayList<>(childFailures);
        if (bodyFailure != null && !isOwnCancellation(bodyFailure)) {
            others.add(bodyFailure);
        }
        return Task.combine(thrown, others);
    }

    /**
     * Takes over the running children of {@code from}, a group of the same owner that cannot wait
     * for them, and the claims on its children; from then on {@code from} forwards their ends,
     * claims and failed starts here. Called under {@code from}'s lock; no path takes the two locks the other way
     * round, as this group never hands over (it is a task's own group, closed at the task's end).
     *
     * @return the children taken over
     */
    private List<Task<?>> adopt(TaskGroup from) {
        List<Task<?>> taken = new ArrayList<>(from.running);
        lock();
        try {
            Task<?> head = from.children;
            if (head != null) {
                Task<?> c = head.nextSibling;
                while (c != head) {
                    Task<?> next = c.nextSibling;
                    unlink(c);
                    link(c);
                    taken.add(c);
                    c = next;
                }
            }
            running += from.running;
            from.running = 0;
            if (from.claims != null) {
                if (claims == null) {
                    claims = new IdentityHashMap<>();
                }
                for (Map.Entry<Task<?>, Integer> e : from.claims.entrySet()) {
                    Task<?> child = e.getKey();
                    claims.merge(child, e.getValue(), Integer::sum);
                    // A supervisor group leaves a claimed failure to the claim: if the gather gives
                    // it back, this group reports it now.
                    Throwable failure = from.supervisor && from.failures != null ? from.failures.remove(child) : null;
                    if (failure != null) {
                        recordUnobserved(child, failure);
                    }
                }
                from.claims = null;
            }
            from.heir = this;
        } finally {
            unlock();
        }
        return taken;
    }

    /** The failures the group reports, in the order it heard of them; under the lock. */
    private List<Throwable> failuresToReport() {
        if (failures == null) {
            return List.of();
        }
        List<Throwable> out = new ArrayList<>();
        for (Map.Entry<Task<?>, Throwable> e : failures.entrySet()) {
            Task<?> child = e.getKey();
            if (!supervisor || !(child.retrieved || claims != null && claims.containsKey(child))) {
                out.add(e.getValue());
            }
        }
        return out;
    }

    /** The task that runs this group's body (and waits for its children before it ends). */
    Task<?> owner() {
        return owner;
    }

    /** Whether {@code t} runs this group's body: then the group cannot close while {@code t} waits in a gather. */
    boolean isOwnedBy(Task<?> t) {
        return owner == t;
    }

    /**
     * Called by a gather, as {@code child} ends while it waits: the gather will hand the child's
     * outcome out, so this group leaves its failure alone from now on, until the claim is
     * released.
     *
     * @return false if the group has already closed (it decided on the failure without the claim)
     */
    boolean claim(Task<?> child) {
        TaskGroup h = lockUnlessHandedOver();
        if (h != null) {
            return h.claim(child);
        }
        try {
            if (closed) {
                return false;
            }
            if (claims == null) {
                claims = new IdentityHashMap<>();
            }
            claims.merge(child, 1, Integer::sum);
            return true;
        } finally {
            unlock();
        }
    }

    /**
     * Releases a claim of {@link #claim}: after the gather handed the outcome out (and marked the
     * child {@link Task#retrieved}), or gave it back when it was cancelled.
     *
     * @return whether this group reports the child's failure itself if nobody else observed it:
     *     false once a supervisor group has closed, having left it to the claim
     */
    boolean releaseClaim(Task<?> child) {
        TaskGroup h = lockUnlessHandedOver();
        if (h != null) {
            return h.releaseClaim(child);
        }
        try {
            claims.computeIfPresent(child, (c, n) -> n == 1 ? null : n - 1);
            return !(closed && supervisor);
        } finally {
            unlock();
        }
    }

    private boolean isOwnCancellation(Throwable t) {
        return t instanceof Task.ScopeCancelledException s && s.scope == scope;
    }

    /**
     * Takes the lock, unless this group has handed its children over ({@link #handOver}): then
     * returns the group that has them, not holding the lock, for the caller to forward to; else
     * null, holding the lock.
     */
    private TaskGroup lockUnlessHandedOver() {
        lock();
        TaskGroup h = heir;
        if (h != null) {
            unlock();
        }
        return h;
    }

    /** Takes the group's lock ({@link #locked}): spins, yielding the thread every {@value #SPINS} tries. */
    private void lock() {
        int tries = 0;
        while (!LOCKED.compareAndSet(this, 0, 1)) {
            if (++tries < SPINS) {
                Thread.onSpinWait();
            } else {
                tries = 0;
                Thread.yield(); // the holder's thread may have been descheduled
            }
        }
    }

    private void unlock() {
        LOCKED.setRelease(this, 0);
    }

    @Override
    public String toString() {
        lock();
        try {
            return "TaskGroup[" + (supervisor ? "supervisor, " : "") + (explicit ? "" : "implicit, ")
                    + running + " running" + (closed ? ", closed" : "") + "]";
        } finally {
            unlock();
        }
    }
}
