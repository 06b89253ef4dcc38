package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.coro4j.Coro;
import io.coro4j.CoroutineLocal;
import io.coro4j.Generator;
import io.coro4j.GeneratorExit;
import io.coro4j.Outcome;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.TaskGroup;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Barrier;
import io.coro4j.channel.Channel;
import io.coro4j.channel.ClosedChannelException;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Select;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import io.coro4j.spi.SchedulerStats;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Random programs, each built from a seed by a small grammar of everything a task can do: spawn
 * (joined, left to its parent, cancelled), task and supervisor groups, gather, gatherSettled,
 * asCompleted (to the end or left early), timeouts (also returning null), shields, try/catch,
 * sleeps of 0 to 2 ms, yieldNow, sends and receives on a rendezvous, a bounded and an unbounded
 * channel under short timeouts, selects of channel, semaphore, lock and event clauses with
 * {@code onTimeout}, {@code onJoin} and {@code onAwait} of a child, semaphore and lock held across
 * suspensions, event wait/set/clear, condition await/signal, barrier rounds, generators and
 * async generators (awaiting between yields; {@code yieldFrom}, {@code throwInto}, close before
 * the end; never a yield inside a timeout, group or shield the body opened), {@code blocking},
 * {@code CoroutineLocal}, crowds of up to 16 tasks running one block, thrown failures, a child's
 * wait (receive, send, lock, acquire, event, condition) completed by its parent, the child
 * cancelled just before or after, and cancellation of a random live task from a task or from a
 * plain thread (which also calls {@code trySend}, {@code tryReceive}, {@code Event.set} and
 * {@code clear}). Every wait in a program is bounded, by a timeout or by waits that are, so every
 * program ends: one that does not within 10 s lost a wake-up.
 *
 * <p>The seed fixes the program; the interleaving is the scheduler's. Whatever it is, at the end
 * of each program: {@code Coro.run} returned within 10 s; every item whose send returned normally
 * was received or left buffered exactly once, and none whose send failed was; every permit, lock,
 * condition, event and barrier is free and unwaited; a barrier handed out each place equally often;
 * every failure thrown was seen exactly once (by a join, gather, group, try/catch, {@code Coro.run}
 * or the uncaught-exception handler); a join returned only the value its task's body returned; no
 * exception but the documented ones (the thrown failures, cancellation, timeout, an interrupted
 * {@code blocking} call's) came out; {@code CoroutineLocal} values held; the scheduler counts no
 * live or parked fiber.
 *
 * <p>If a test here fails, the message gives the seed, the rule broken and the program: rerun that
 * seed alone ({@link #runProgram}) to minimise it. A hang is reported with every thread's stack.
 */
public abstract class RandomProgramTck extends SchedulerTck {

    /** Programs per test (about 3 to 7 s on a loaded 2-core machine); scaled by {@link Stress}. */
    private static final int PROGRAMS = 300;

    @Test
    void randomProgramsLoseNoItemPermitLockOrFailure() throws Exception {
        runPrograms(scheduler, 1);
    }

    @Test
    void randomProgramsLoseNoItemPermitLockOrFailureOnOneCarrier() throws Exception {
        assumeTrue(honoursParallelism(), "this scheduler does not own its carrier threads (parallelism is not honoured)");
        runPrograms(newScheduler(1), 1_000_001);
    }

    private void runPrograms(Scheduler s, long firstSeed) throws Exception {
        List<String> anomalies = Collections.synchronizedList(new ArrayList<>());
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            Program p = current;
            if (p != null) {
                p.sink("uncaught", e);
            } else {
                anomalies.add("uncaught outside any program: " + stackOf(e));
            }
        });
        try {
            int n = Stress.scaled(PROGRAMS);
            for (long seed = firstSeed; seed < firstSeed + n; seed++) {
                Program p = runProgram(s, seed);
                if (!p.anomalies.isEmpty()) {
                    anomalies.add("seed " + seed + ":\n  " + String.join("\n  ", p.anomalies) + "\nprogram:\n" + describe(p.root, 1));
                    if (p.hung || anomalies.size() >= 3) {
                        break; // a program still running spoils the books of the next ones
                    }
                }
            }
        } finally {
            current = null;
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
        assertThat(anomalies).as("rules broken by random programs").isEmpty();
    }

    static volatile Program current;

    /** Builds the program of {@code seed}, runs it on {@code s} and checks it; returns it with what it broke. */
    protected static Program runProgram(Scheduler s, long seed) throws Exception {
        Grammar g = new Grammar(seed);
        Program p = new Program(g.block(0));
        int cancelEvery = g.r.nextInt(4); // 0: no cancellations from the plain thread
        boolean plainOps = g.r.nextBoolean();
        current = p;
        AtomicBoolean done = new AtomicBoolean();
        Thread plain = Thread.ofPlatform().name("random-program-plain").daemon(true).start(() -> {
            Random r = new Random(seed);
            while (!done.get()) {
                try {
                    Thread.sleep(Math.max(1, cancelEvery));
                } catch (InterruptedException e) {
                    return;
                }
                if (cancelEvery > 0 && r.nextInt(4) == 0) {
                    p.cancelRandom();
                }
                if (plainOps) {
                    int c = r.nextInt(3);
                    if (r.nextBoolean()) {
                        long item = p.newItem(c);
                        if (p.ch.get(c).trySend(item)) {
                            p.sent.put(item, true);
                        }
                    } else {
                        Long v = p.ch.get(c).tryReceive();
                        if (v != null) {
                            p.received(c, v);
                        }
                    }
                    if (r.nextInt(8) == 0) {
                        if (r.nextBoolean()) {
                            p.event.set();
                        } else {
                            p.event.clear();
                        }
                    }
                }
            }
        });
        TaskInfo rootInfo = new TaskInfo();
        Thread runner = Thread.ofPlatform().name("random-program-main").daemon(true).start(() -> {
            try {
                Object v = Coro.run(s, p.body(p.root, rootInfo));
                if (!Objects.equals(v, rootInfo.value)) {
                    p.anomaly("Coro.run returned " + v + " but its body returned " + rootInfo.value);
                }
            } catch (Throwable e) {
                p.sink("Coro.run", e);
            }
        });
        runner.join(10_000);
        done.set(true);
        plain.join();
        if (runner.isAlive()) {
            p.hung = true;
            p.anomaly("Coro.run still running after 10 s: a lost wake-up or a hang; threads:\n" + threadDump());
            return p;
        }
        p.check(s);
        return p;
    }

    // ---------------------------------------------------------------- the grammar

    interface Op {}

    record Block(List<Op> ops) {}

    record Sleep(int ms) implements Op {}

    record YieldNow() implements Op {}

    record Throw() implements Op {}

    /** joinMode: 0 joined at the end of the block, 1 never joined, 2 cancelled and joined at the end, 3 joined at once. */
    record Spawn(Block body, int joinMode) implements Op {}

    /** mode: 0 gather, 1 gatherSettled, 2 asCompleted to the end. */
    record Gather(List<Block> bodies, int mode) implements Op {}

    record AsCompletedEarly(List<Block> bodies, int take) implements Op {}

    record Group(boolean supervisor, List<Block> children, Block body, boolean joinChildren) implements Op {}

    record Crowd(Block body, int n, boolean group) implements Op {}

    record Timeout(int ms, boolean orNull, Block body) implements Op {}

    record Shield(Block body) implements Op {}

    record Try(Block body) implements Op {}

    record Send(int ch, int ms) implements Op {}

    record Receive(int ch, int ms) implements Op {}

    /** Each clause {kind, index}: 0 receive, 1 send, 2 semaphore, 3 lock, 4 event. */
    record Choose(List<int[]> clauses, int ms) implements Op {}

    record ChooseEnd(Block body, boolean onJoin, int ms) implements Op {}

    record Acquire(int semaphore, Block inner) implements Op {}

    record Locked(int lock, Block inner) implements Op {}

    record EventWait(int ms) implements Op {}

    record EventSet(boolean clear) implements Op {}

    record ConditionAwait(int ms) implements Op {}

    record ConditionSignal(boolean all) implements Op {}

    record BarrierAwait(int barrier, int ms) implements Op {}

    record Gen(List<Block> segments, int steps) implements Op {}

    record GenFrom(List<Block> outer, List<Block> inner, int steps, boolean throwIn) implements Op {}

    record Blocking(int ms) implements Op {}

    record CancelRandom() implements Op {}

    record Local(int value, Block body) implements Op {}

    /**
     * A child waits in one primitive and this task completes its wait; {@code cancel} 1 cancels
     * the child right after that, 2 right before (both before the child can run on one carrier,
     * so that the completion and the cancellation meet in its wait): kind 0 a receive (completed by trySend), 1 a
     * rendezvous send (by tryReceive), 2 a lock (by unlock), 3 an acquire (by release), 4 an event
     * wait (by set), 5 a condition await (by signalAll). A lost wake-up leaves the child waiting
     * and the join hangs; a completed wait that the cancellation undoes loses the item, permit or
     * lock.
     */
    record HandOver(int kind, int index, int cancel) implements Op {}

    private static final class Grammar {
        final Random r;
        int budget;

        Grammar(long seed) {
            r = new Random(seed);
            budget = 20 + r.nextInt(40);
        }

        Block block(int depth) {
            int n = 1 + r.nextInt(depth > 2 ? 3 : 5);
            List<Op> ops = new ArrayList<>();
            for (int i = 0; i < n && budget > 0; i++) {
                budget--;
                ops.add(op(depth));
            }
            return new Block(ops);
        }

        /** Only sleeps and yields: what a task does while it holds a permit or a lock. */
        Block holding() {
            List<Op> ops = new ArrayList<>();
            for (int i = r.nextInt(3); i > 0; i--) {
                ops.add(r.nextBoolean() ? new Sleep(r.nextInt(2)) : new YieldNow());
            }
            return new Block(ops);
        }

        List<Block> blocks(int n, int depth) {
            List<Block> bs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                bs.add(block(depth));
            }
            return bs;
        }

        Op op(int depth) {
            int k = r.nextInt(depth >= 4 ? 12 : 36);
            switch (k) {
                case 0: return new Sleep(r.nextInt(3));
                case 1: return new YieldNow();
                case 2: return new Send(r.nextInt(3), r.nextInt(4));
                case 3: return new Receive(r.nextInt(3), r.nextInt(4));
                case 4: {
                    List<int[]> clauses = new ArrayList<>();
                    for (int i = 1 + r.nextInt(3); i > 0; i--) {
                        int kind = r.nextInt(5);
                        clauses.add(new int[] {kind, r.nextInt(kind <= 1 ? 3 : 2)});
                    }
                    return new Choose(clauses, r.nextInt(4));
                }
                case 5: return new Acquire(r.nextInt(2), holding());
                case 6: return new Locked(r.nextInt(2), holding());
                case 7: return r.nextInt(3) == 0 ? new EventSet(true) : r.nextBoolean() ? new EventSet(false) : new EventWait(r.nextInt(4));
                case 8: return r.nextBoolean() ? new ConditionAwait(r.nextInt(4)) : new ConditionSignal(r.nextBoolean());
                case 9: return r.nextInt(4) == 0 ? new Throw() : new Sleep(r.nextInt(2));
                case 10: return r.nextInt(3) == 0 ? new CancelRandom() : new Blocking(r.nextInt(2));
                case 11: return r.nextBoolean() ? new BarrierAwait(r.nextInt(2), 1 + r.nextInt(4)) : new Receive(r.nextInt(3), 1 + r.nextInt(4));
                case 12: case 13: case 14: return new Spawn(block(depth + 1), r.nextInt(4));
                case 15: case 16: return new Gather(blocks(1 + r.nextInt(3), depth + 1), r.nextInt(3));
                case 17: case 18: {
                    List<Block> children = blocks(r.nextInt(3), depth + 1);
                    boolean supervisor = r.nextBoolean();
                    return new Group(supervisor, children, block(depth + 1), supervisor && r.nextBoolean());
                }
                case 19: case 20: return new Timeout(r.nextInt(6), r.nextBoolean(), block(depth + 1));
                case 21: return new Shield(block(depth + 1));
                case 22: case 23: return new Try(block(depth + 1));
                case 24: {
                    int n = 1 + r.nextInt(3);
                    return new Gen(blocks(n, depth + 1), r.nextInt(n + 2));
                }
                case 25: return new Local(r.nextInt(100), block(depth + 1));
                case 26: return new BarrierAwait(r.nextInt(2), 1 + r.nextInt(4));
                case 27: return new ChooseEnd(block(depth + 1), r.nextBoolean(), r.nextInt(4));
                case 28: {
                    int n = 1 + r.nextInt(3);
                    return new AsCompletedEarly(blocks(n, depth + 1), r.nextInt(n + 1));
                }
                case 29: {
                    int n = 1 + r.nextInt(2);
                    int m = 1 + r.nextInt(3);
                    return new GenFrom(blocks(n, depth + 1), blocks(m, depth + 1), r.nextInt(n + m + 2), r.nextInt(3) == 0);
                }
                case 32: case 33: case 34: case 35: return new HandOver(r.nextInt(6), r.nextInt(2), r.nextInt(3));
                default:
                    return depth <= 1 ? new Crowd(block(3), 4 + r.nextInt(13), r.nextBoolean()) : new YieldNow();
            }
        }
    }

    static String describe(Block b, int indent) {
        StringBuilder sb = new StringBuilder();
        String pad = "  ".repeat(indent);
        for (Op op : b.ops()) {
            sb.append(pad).append(op.getClass().getSimpleName());
            switch (op) {
                case Spawn s -> sb.append("(join=").append(s.joinMode()).append(")\n").append(describe(s.body(), indent + 1));
                case Gather g -> sb.append("(mode=").append(g.mode()).append(")\n").append(describeAll(g.bodies(), "task", indent + 1));
                case AsCompletedEarly g -> sb.append("(take=").append(g.take()).append(")\n").append(describeAll(g.bodies(), "task", indent + 1));
                case Group g -> sb.append("(supervisor=").append(g.supervisor()).append(" joinChildren=").append(g.joinChildren()).append(")\n")
                        .append(describeAll(g.children(), "child", indent + 1)).append(describeAll(List.of(g.body()), "body", indent + 1));
                case Crowd c -> sb.append("(n=").append(c.n()).append(" group=").append(c.group()).append(")\n").append(describe(c.body(), indent + 1));
                case Timeout t -> sb.append("(").append(t.ms()).append(" ms, orNull=").append(t.orNull()).append(")\n").append(describe(t.body(), indent + 1));
                case Shield s -> sb.append("\n").append(describe(s.body(), indent + 1));
                case Try t -> sb.append("\n").append(describe(t.body(), indent + 1));
                case HandOver h -> sb.append("(").append(new String[] {"receive", "send", "lock", "acquire", "event", "condition"}[h.kind()])
                        .append(' ').append(h.index()).append(new String[] {"", ", then cancel", ", cancel first"}[h.cancel()]).append(")\n");
                case Local l -> sb.append("(").append(l.value()).append(")\n").append(describe(l.body(), indent + 1));
                case Acquire a -> sb.append("(").append(a.semaphore()).append(")\n").append(describe(a.inner(), indent + 1));
                case Locked l -> sb.append("(").append(l.lock()).append(")\n").append(describe(l.inner(), indent + 1));
                case ChooseEnd c -> sb.append("(onJoin=").append(c.onJoin()).append(", ").append(c.ms()).append(" ms)\n").append(describe(c.body(), indent + 1));
                case Gen g -> sb.append("(steps=").append(g.steps()).append(")\n").append(describeAll(g.segments(), "segment", indent + 1));
                case GenFrom g -> sb.append("(steps=").append(g.steps()).append(", throwIn=").append(g.throwIn()).append(")\n")
                        .append(describeAll(g.outer(), "outer", indent + 1)).append(describeAll(g.inner(), "inner", indent + 1));
                case Choose c -> {
                    sb.append("(");
                    for (int[] cl : c.clauses()) {
                        sb.append(new String[] {"receive", "send", "acquire", "lock", "event"}[cl[0]]).append(cl[1]).append(' ');
                    }
                    sb.append("timeout ").append(c.ms()).append(" ms)\n");
                }
                default -> sb.append(op.toString().replaceFirst("^[A-Za-z]+", "")).append('\n');
            }
        }
        return sb.toString();
    }

    private static String describeAll(List<Block> bs, String label, int indent) {
        StringBuilder sb = new StringBuilder();
        for (Block b : bs) {
            sb.append("  ".repeat(indent)).append(label).append('\n').append(describe(b, indent + 1));
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- running a program

    /**
     * A failure the program throws; each is created once and must be seen exactly once. Every other
     * one has suppression disabled, so that a gather reports what it would suppress on it to the
     * uncaught-exception handler.
     */
    static final class Boom extends RuntimeException {
        final int id;

        Boom(int id) {
            super("boom#" + id, null, id % 2 == 0, false);
            this.id = id;
        }
    }

    /** How a task's body ended: 0 not run (or not yet), 1 returned {@link #value}, 2 threw, 3 threw a cancellation. */
    static final class TaskInfo {
        volatile int end;
        volatile Object value;
    }

    private static final CoroutineLocal<Integer> LOCAL = CoroutineLocal.withInitial("random-program", () -> -1);

    /** One program's state and books. */
    protected static final class Program {
        final Block root;
        final List<String> anomalies = Collections.synchronizedList(new ArrayList<>());
        /** The program's three channels, then one of its own for each hand-over. */
        final Map<Integer, Channel<Long>> ch = new ConcurrentHashMap<>(Map.of(0, Channel.rendezvous(), 1, Channel.bounded(2), 2, Channel.unbounded()));
        final AtomicInteger nextChannel = new AtomicInteger(3);
        /** Each hand-over's {lock, semaphore, permits, event, condition lock, condition}. */
        final List<Object[]> handOvers = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** Per item: whether its send returned normally (true) or failed (false). */
        final Map<Long, Boolean> sent = new ConcurrentHashMap<>();
        final Map<Long, Integer> channelOf = new ConcurrentHashMap<>();
        final Map<Long, Integer> receivedCount = new ConcurrentHashMap<>();
        final AtomicLong nextItem = new AtomicLong(1);
        final int[] permits = {1, 2};
        final Semaphore[] semaphore = {new Semaphore(1), new Semaphore(2)};
        final Lock[] lock = {new Lock(), new Lock()};
        final Event event = new Event();
        final Lock conditionLock = new Lock();
        final Condition condition = new Condition(conditionLock);
        final Barrier[] barrier = {new Barrier(2), new Barrier(3)};
        final AtomicInteger[][] places = {
            {new AtomicInteger(), new AtomicInteger()}, {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()}
        };
        final AtomicInteger nextBoom = new AtomicInteger(1);
        final Map<Integer, Boom> thrown = new ConcurrentHashMap<>();
        final Map<Integer, List<String>> seen = new ConcurrentHashMap<>();
        final Map<Integer, Task<?>> live = new ConcurrentHashMap<>();
        final AtomicInteger nextTask = new AtomicInteger();
        final Random cancelPicks;
        volatile boolean hung;

        Program(Block root) {
            this.root = root;
            this.cancelPicks = new Random(root.hashCode());
        }

        void anomaly(String s) {
            anomalies.add(s);
        }

        long newItem(int c) {
            long item = nextItem.getAndIncrement();
            channelOf.put(item, c);
            sent.put(item, false);
            return item;
        }

        void received(int c, Long item) {
            receivedCount.merge(item, 1, Integer::sum);
            Integer from = channelOf.get(item);
            if (from == null || from != c) {
                anomaly("item " + item + " received from channel " + c + " but sent to " + from);
            }
        }

        void cancelRandom() {
            Object[] tasks = live.values().toArray();
            if (tasks.length > 0) {
                int i;
                synchronized (cancelPicks) {
                    i = cancelPicks.nextInt(tasks.length);
                }
                ((Task<?>) tasks[i]).cancel();
            }
        }

        /** Where a failure ends its way (caught and dropped): counts each Boom in it, flags the unexpected. */
        void sink(String where, Throwable t) {
            int before = anomalies.size();
            walk(where, t, null, Collections.newSetFromMap(new IdentityHashMap<>()));
            if (anomalies.size() > before) {
                anomaly("... in this failure seen by " + where + ": " + stackOf(t));
            }
        }

        private void walk(String where, Throwable t, Throwable parent, Set<Throwable> visited) {
            if (t == null || !visited.add(t)) {
                return;
            }
            if (t instanceof Boom b) {
                seen.computeIfAbsent(b.id, k -> Collections.synchronizedList(new ArrayList<>())).add(where);
            } else if (!expected(t, parent)) {
                anomaly("unexpected " + t + " seen by " + where);
            }
            walk(where, t.getCause(), t, visited);
            for (Throwable s : t.getSuppressed()) {
                walk(where, s, t, visited);
            }
        }

        private static boolean expected(Throwable t, Throwable parent) {
            return t instanceof CancellationException
                    || t instanceof TimeoutExceededException
                    || t instanceof GeneratorExit
                    || t instanceof CompletionException
                    || t instanceof ExecutionException
                    // a blocking call interrupted by a cancellation: its failure rides on another
                    || (t instanceof InterruptedException && parent != null)
                    // a failure reported to the uncaught-exception handler because it could not ride on a null or a timeout
                    || (t instanceof IllegalStateException && t.getMessage() != null
                            && (t.getMessage().startsWith("a failure that ended beside") || t.getMessage().contains("failed after")));
        }

        Callable<Object> body(Block b, TaskInfo info) {
            return wrap(info, () -> run(b));
        }

        void run(Block b) throws Exception {
            List<Object[]> pending = new ArrayList<>(); // {task, info, joinMode}
            for (Op op : b.ops()) {
                exec(op, pending);
            }
            for (Object[] pe : pending) {
                if ((int) pe[2] == 2) {
                    ((Task<?>) pe[0]).cancel();
                }
                join((Task<?>) pe[0], (TaskInfo) pe[1], "join");
            }
        }

        void join(Task<?> t, TaskInfo info, String where) {
            try {
                Object v = t.join();
                if (info.end != 1 || !Objects.equals(v, info.value)) {
                    anomaly(where + " of " + t + " returned " + v + " but its body " + (info.end == 1 ? "returned " + info.value : info.end >= 2 ? "threw" : "did not run"));
                }
            } catch (Throwable e) {
                // a task whose body was cancelled ends cancelled, unless a child's failure outranks that;
                // one whose body returned fails only with a child's failure or a cancellation
                if ((info.end == 3 || info.end == 1) && !(e instanceof CancellationException) && !hasBoom(e)) {
                    anomaly(where + " of " + t + " threw " + e + " but its body " + (info.end == 1 ? "returned" : "was cancelled"));
                }
                sink(where, e);
            }
        }

        private static boolean hasBoom(Throwable t) {
            Set<Throwable> visited = Collections.newSetFromMap(new IdentityHashMap<>());
            List<Throwable> todo = new ArrayList<>(List.of(t));
            while (!todo.isEmpty()) {
                Throwable x = todo.remove(todo.size() - 1);
                if (x == null || !visited.add(x)) {
                    continue;
                }
                if (x instanceof Boom) {
                    return true;
                }
                todo.add(x.getCause());
                todo.addAll(List.of(x.getSuppressed()));
            }
            return false;
        }

        private static Duration ms(int ms) {
            return Duration.ofMillis(ms);
        }

        private List<Task<Object>> spawnAll(List<Block> bodies, List<TaskInfo> infos) {
            List<Task<Object>> ts = new ArrayList<>();
            for (Block b : bodies) {
                TaskInfo i = new TaskInfo();
                infos.add(i);
                ts.add(Coro.spawn(body(b, i)));
            }
            return ts;
        }

        void exec(Op op, List<Object[]> pending) throws Exception {
            switch (op) {
                case Sleep s -> Coro.sleep(ms(s.ms()));
                case YieldNow y -> Coro.yieldNow();
                case Throw t -> {
                    Boom b = new Boom(nextBoom.getAndIncrement());
                    thrown.put(b.id, b);
                    throw b;
                }
                case Spawn s -> {
                    TaskInfo info = new TaskInfo();
                    Task<Object> t = Coro.spawn(body(s.body(), info));
                    if (s.joinMode() == 3) {
                        join(t, info, "join");
                    } else if (s.joinMode() != 1) {
                        pending.add(new Object[] {t, info, s.joinMode()});
                    }
                }
                case Gather g -> {
                    List<TaskInfo> infos = new ArrayList<>();
                    List<Task<Object>> ts = spawnAll(g.bodies(), infos);
                    if (g.mode() == 0) {
                        try {
                            List<Object> vs = Coro.gather(ts);
                            for (int i = 0; i < vs.size(); i++) {
                                if (!Objects.equals(vs.get(i), infos.get(i).value)) {
                                    anomaly("gather gave " + vs.get(i) + " for a body that returned " + infos.get(i).value);
                                }
                            }
                        } catch (Throwable e) {
                            sink("gather", e);
                        }
                    } else if (g.mode() == 1) {
                        try {
                            List<Outcome<Object>> os = Coro.gatherSettled(ts);
                            for (int i = 0; i < os.size(); i++) {
                                if (os.get(i) instanceof Outcome.Failure<Object> f) {
                                    sink("gatherSettled", f.exception());
                                } else if (!Objects.equals(os.get(i).getOrThrow(), infos.get(i).value)) {
                                    anomaly("gatherSettled gave " + os.get(i) + " for a body that returned " + infos.get(i).value);
                                }
                            }
                        } catch (Throwable e) {
                            sink("gatherSettled", e);
                        }
                    } else {
                        try (Generator<Task<Object>, Object, Void> loop = Coro.asCompleted(ts)) {
                            for (Task<Object> t : loop) {
                                join(t, infos.get(ts.indexOf(t)), "asCompleted");
                            }
                        } catch (Throwable e) {
                            sink("asCompleted", e);
                        }
                    }
                }
                case AsCompletedEarly g -> {
                    List<TaskInfo> infos = new ArrayList<>();
                    List<Task<Object>> ts = spawnAll(g.bodies(), infos);
                    try (Generator<Task<Object>, Object, Void> loop = Coro.asCompleted(ts)) {
                        int n = 0;
                        for (Task<Object> t : loop) {
                            join(t, infos.get(ts.indexOf(t)), "asCompleted"); // one handed out is the loop's to report
                            if (++n >= g.take()) {
                                break;
                            }
                        }
                    } catch (Throwable e) {
                        sink("asCompleted", e);
                    }
                }
                case Group g -> {
                    TaskGroup.Body<Object> body = group -> {
                        List<Object[]> children = new ArrayList<>();
                        for (Block b : g.children()) {
                            TaskInfo i = new TaskInfo();
                            children.add(new Object[] {group.spawn(body(b, i)), i});
                        }
                        run(g.body());
                        // only a supervisor's: a task group reports every child failure, joined or not
                        if (g.joinChildren()) {
                            for (Object[] c : children) {
                                join((Task<?>) c[0], (TaskInfo) c[1], "join");
                            }
                        }
                        return null;
                    };
                    if (g.supervisor()) {
                        Coro.supervisorGroup(body);
                    } else {
                        Coro.taskGroup(body);
                    }
                }
                case Crowd c -> {
                    if (c.group()) {
                        Coro.supervisorGroup(group -> {
                            List<Task<Object>> ts = new ArrayList<>();
                            for (int i = 0; i < c.n(); i++) {
                                ts.add(group.spawn(body(c.body(), new TaskInfo())));
                            }
                            try {
                                for (Outcome<Object> o : Coro.gatherSettled(ts)) {
                                    if (o instanceof Outcome.Failure<Object> f) {
                                        sink("gatherSettled", f.exception());
                                    }
                                }
                            } catch (Throwable e) {
                                sink("gatherSettled", e);
                            }
                            return null;
                        });
                    } else {
                        List<Object[]> children = new ArrayList<>();
                        for (int i = 0; i < c.n(); i++) {
                            TaskInfo info = new TaskInfo();
                            children.add(new Object[] {Coro.spawn(body(c.body(), info)), info});
                        }
                        for (Object[] k : children) {
                            join((Task<?>) k[0], (TaskInfo) k[1], "join");
                        }
                    }
                }
                case Timeout t -> {
                    try {
                        Callable<Object> body = () -> {
                            run(t.body());
                            return null;
                        };
                        if (t.orNull()) {
                            Coro.withTimeoutOrNull(ms(t.ms()), body);
                        } else {
                            Coro.withTimeout(ms(t.ms()), body);
                        }
                    } catch (TimeoutExceededException e) {
                        sink("withTimeout", e);
                    }
                }
                case Shield s -> Coro.shielded(() -> {
                    run(s.body());
                    return null;
                });
                case Try t -> {
                    try {
                        run(t.body());
                    } catch (Exception e) {
                        sink("try", e);
                    }
                }
                case Send s -> {
                    long item = newItem(s.ch());
                    Coro.withTimeoutOrNull(ms(s.ms()), () -> {
                        ch.get(s.ch()).send(item);
                        sent.put(item, true);
                        return null;
                    });
                }
                case Receive r -> Coro.withTimeoutOrNull(ms(r.ms()), () -> {
                    received(r.ch(), ch.get(r.ch()).receive());
                    return null;
                });
                case Choose s -> {
                    List<Select.Clause<?>> clauses = new ArrayList<>();
                    boolean[] gotLock = new boolean[2];
                    boolean[] gotPermit = new boolean[2];
                    for (int[] c : s.clauses()) {
                        int i = c[1];
                        switch (c[0]) {
                            case 0 -> clauses.add(ch.get(i).onReceive(v -> {
                                received(i, v);
                                return "received";
                            }));
                            case 1 -> {
                                long item = newItem(i);
                                clauses.add(ch.get(i).onSend(item, () -> {
                                    sent.put(item, true);
                                    return "sent";
                                }));
                            }
                            case 2 -> clauses.add(semaphore[i].onAcquire(() -> gotPermit[i] = true));
                            case 3 -> clauses.add(lock[i].onLock(() -> gotLock[i] = true));
                            default -> clauses.add(event.onSet(() -> "set"));
                        }
                    }
                    clauses.add(Select.onTimeout(ms(s.ms()), () -> "timeout"));
                    try {
                        Select.select(clauses);
                    } finally {
                        for (int i = 0; i < 2; i++) {
                            if (gotPermit[i]) {
                                semaphore[i].release();
                            }
                            if (gotLock[i]) {
                                lock[i].unlock();
                            }
                        }
                    }
                }
                case ChooseEnd c -> {
                    TaskInfo info = new TaskInfo();
                    Task<Object> t = Coro.spawn(body(c.body(), info));
                    Object r = c.onJoin()
                            ? Select.select(Select.onJoin(t, () -> "ended"), Select.onTimeout(ms(c.ms()), () -> "timeout"))
                            : Select.select(Select.onAwait(t, v -> {
                                if (!Objects.equals(v, info.value)) {
                                    anomaly("onAwait gave " + v + " for a body that returned " + info.value);
                                }
                                return "awaited";
                            }), Select.onTimeout(ms(c.ms()), () -> "timeout"));
                    if (!"awaited".equals(r)) {
                        pending.add(new Object[] {t, info, 0}); // onJoin observes nothing, nor a timeout
                    }
                }
                case Acquire a -> {
                    semaphore[a.semaphore()].acquire();
                    try {
                        run(a.inner());
                    } finally {
                        semaphore[a.semaphore()].release();
                    }
                }
                case Locked l -> {
                    lock[l.lock()].lock();
                    try {
                        run(l.inner());
                    } finally {
                        lock[l.lock()].unlock();
                    }
                }
                case EventWait w -> Coro.withTimeoutOrNull(ms(w.ms()), () -> {
                    event.await();
                    return null;
                });
                case EventSet e -> {
                    if (e.clear()) {
                        event.clear();
                    } else {
                        event.set();
                    }
                }
                case ConditionAwait c -> {
                    conditionLock.lock();
                    try {
                        Coro.withTimeoutOrNull(ms(c.ms()), () -> {
                            condition.await();
                            return null;
                        });
                    } finally {
                        conditionLock.unlock();
                    }
                }
                case ConditionSignal c -> {
                    conditionLock.lock();
                    try {
                        if (c.all()) {
                            condition.signalAll();
                        } else {
                            condition.signal();
                        }
                    } finally {
                        conditionLock.unlock();
                    }
                }
                case BarrierAwait b -> Coro.withTimeoutOrNull(ms(b.ms()), () -> {
                    places[b.barrier()][barrier[b.barrier()].await()].incrementAndGet();
                    return null;
                });
                case Gen g -> {
                    Generator<Integer, Integer, Integer> gen = Generator.of(co -> {
                        for (int i = 0; i < g.segments().size(); i++) {
                            run(g.segments().get(i));
                            co.yield(i);
                        }
                        return -1;
                    });
                    try {
                        Step<Integer, Integer> step = gen.next();
                        for (int k = 0; k < g.steps() && !step.isDone(); k++) {
                            step = gen.send(k);
                        }
                    } finally {
                        gen.close();
                    }
                }
                case GenFrom g -> {
                    Generator<Integer, Integer, Integer> gen = Generator.of(co -> {
                        Generator<Integer, Integer, Integer> sub = Generator.of(inner -> {
                            for (int i = 0; i < g.inner().size(); i++) {
                                run(g.inner().get(i));
                                inner.yield(100 + i);
                            }
                            return 7;
                        });
                        try {
                            run(g.outer().get(0));
                            int r = co.yieldFrom(sub);
                            if (r != 7) {
                                anomaly("yieldFrom returned " + r + ", not 7");
                            }
                            for (int i = 1; i < g.outer().size(); i++) {
                                co.yield(i);
                                run(g.outer().get(i));
                            }
                        } catch (IllegalArgumentException thrownIn) {
                            // the driver's throwInto: the body ends normally
                        } finally {
                            sub.close();
                        }
                        return -1;
                    });
                    try {
                        Step<Integer, Integer> step = gen.next();
                        for (int k = 0; k < g.steps() && !step.isDone(); k++) {
                            step = g.throwIn() && k == g.steps() - 1 ? gen.throwInto(new IllegalArgumentException("thrown in")) : gen.send(k);
                        }
                    } finally {
                        gen.close();
                    }
                }
                case Blocking b -> Coro.blocking(() -> {
                    if (b.ms() > 0) {
                        Thread.sleep(b.ms());
                    }
                    return null;
                });
                case CancelRandom c -> cancelRandom();
                case HandOver h -> handOver(h);
                case Local l -> {
                    int outside = LOCAL.get();
                    LOCAL.with(l.value(), () -> {
                        run(l.body());
                        if (LOCAL.get() != l.value()) {
                            anomaly("CoroutineLocal " + LOCAL.get() + " inside with(" + l.value() + ")");
                        }
                        return null;
                    });
                    if (LOCAL.get() != outside) {
                        anomaly("CoroutineLocal " + LOCAL.get() + " after with(...), " + outside + " before");
                    }
                }
                default -> throw new AssertionError(op);
            }
        }

        private void handOver(HandOver h) throws Exception {
            // Primitives of its own, so that the child is the only one that can be waiting there.
            int c = h.kind() <= 1 ? nextChannel.getAndIncrement() : -1;
            Channel<Long> hc = h.kind() == 1 ? Channel.rendezvous() : h.index() == 0 ? Channel.bounded(1) : Channel.unbounded();
            if (c >= 0) {
                ch.put(c, hc);
            }
            Lock hl = new Lock();
            int permitCount = 1 + h.index();
            Semaphore hs = new Semaphore(permitCount);
            Event he = new Event();
            Lock hcl = new Lock();
            Condition hcond = new Condition(hcl);
            handOvers.add(new Object[] {hl, hs, permitCount, he, hcl, hcond});
            TaskInfo info = new TaskInfo();
            int heldPermits = 0;
            boolean heldLock = false;
            Task<Object> child;
            boolean completed = false;
            try {
                if (h.kind() == 2) {
                    hl.lock();
                    heldLock = true;
                } else if (h.kind() == 3) {
                    for (; heldPermits < permitCount; heldPermits++) {
                        hs.acquire();
                    }
                }
                child = Coro.spawn(wrap(info, () -> {
                    switch (h.kind()) {
                        case 0 -> received(c, hc.receive());
                        case 1 -> {
                            long item = newItem(c);
                            hc.send(item);
                            sent.put(item, true);
                        }
                        case 2 -> {
                            hl.lock();
                            hl.unlock();
                        }
                        case 3 -> {
                            hs.acquire();
                            hs.release();
                        }
                        case 4 -> he.await();
                        default -> {
                            hcl.lock();
                            try {
                                hcond.await();
                            } finally {
                                hcl.unlock();
                            }
                        }
                    }
                }));
                try {
                    BooleanSupplier waiting = switch (h.kind()) {
                        case 0 -> () -> hc.receiversWaiting() > 0;
                        case 1 -> () -> hc.sendersWaiting() > 0;
                        case 2 -> () -> hl.queueLength() > 0;
                        case 3 -> () -> hs.queueLength() > 0;
                        case 4 -> () -> he.queueLength() > 0;
                        default -> () -> hcond.queueLength() > 0;
                    };
                    for (int tries = 0; tries < 1_000 && !waiting.getAsBoolean(); tries++) {
                        Coro.yieldNow();
                    }
                    if (waiting.getAsBoolean()) {
                        if (h.cancel() == 2) {
                            child.cancel();
                        }
                        switch (h.kind()) {
                            case 0 -> {
                                long item = newItem(c);
                                if (hc.trySend(item)) {
                                    sent.put(item, true);
                                }
                            }
                            case 1 -> {
                                Long v = hc.tryReceive();
                                if (v != null) {
                                    received(c, v);
                                }
                            }
                            case 2 -> {
                                heldLock = false;
                                hl.unlock();
                            }
                            case 3 -> {
                                for (; heldPermits > 0; heldPermits--) {
                                    hs.release();
                                }
                            }
                            case 4 -> he.set();
                            default -> {
                                hcl.lock();
                                try {
                                    hcond.signal();
                                } finally {
                                    hcl.unlock();
                                }
                            }
                        }
                        completed = true;
                    }
                } finally {
                    if (!completed || h.cancel() == 1) {
                        child.cancel();
                    }
                }
            } finally {
                for (; heldPermits > 0; heldPermits--) {
                    hs.release();
                }
                if (heldLock) {
                    hl.unlock();
                }
            }
            join(child, info, "join");
        }

        interface Action {
            void run() throws Exception;
        }

        /** A task body that runs {@code action} and books its end in {@code info}, as {@link #body} does. */
        Callable<Object> wrap(TaskInfo info, Action action) {
            int id = nextTask.incrementAndGet();
            return () -> {
                live.put(id, Coro.currentTask());
                try {
                    action.run();
                    Object v = "v" + id;
                    info.value = v;
                    info.end = 1;
                    return v;
                } catch (Throwable e) {
                    info.end = e instanceof CancellationException ? 3 : 2;
                    throw e;
                } finally {
                    live.remove(id);
                }
            };
        }

        /** After the program: the books must balance. */
        void check(Scheduler s) throws InterruptedException {
            SchedulerStats st = s.stats();
            long deadline = System.nanoTime() + 2_000_000_000L;
            while ((st.liveFibers() != 0 || st.parkedFibers() != 0) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            if (st.liveFibers() != 0 || st.parkedFibers() != 0) {
                anomaly("scheduler counts " + st.liveFibers() + " live and " + st.parkedFibers() + " parked fibers 2 s after the program ended");
            }
            for (int i = 0; i < 2; i++) {
                if (semaphore[i].availablePermits() != permits[i] || semaphore[i].queueLength() != 0) {
                    anomaly("semaphore " + i + " of " + permits[i] + " permits left as " + semaphore[i]);
                }
                if (lock[i].isLocked() || lock[i].queueLength() != 0) {
                    anomaly("lock " + i + " left as " + lock[i]);
                }
                if (barrier[i].waiting() != 0 || barrier[i].isBroken()) {
                    anomaly("barrier " + i + " left as " + barrier[i]);
                }
                for (AtomicInteger place : places[i]) {
                    if (place.get() != places[i][0].get()) {
                        anomaly("barrier " + i + " handed out its places " + java.util.Arrays.toString(places[i]) + " times");
                    }
                }
            }
            if (conditionLock.isLocked() || condition.queueLength() != 0) {
                anomaly("condition left as " + condition + ", its lock as " + conditionLock);
            }
            if (event.queueLength() != 0) {
                anomaly("event left as " + event);
            }
            Map<Long, Integer> buffered = new HashMap<>();
            for (Object[] h : handOvers) {
                Lock hl = (Lock) h[0];
                Semaphore hs = (Semaphore) h[1];
                Event he = (Event) h[3];
                Lock hcl = (Lock) h[4];
                Condition hcond = (Condition) h[5];
                if (hl.isLocked() || hl.queueLength() != 0 || hs.availablePermits() != (int) h[2] || hs.queueLength() != 0
                        || he.queueLength() != 0 || hcl.isLocked() || hcond.queueLength() != 0) {
                    anomaly("a hand-over's primitives left as " + hl + ", " + hs + ", " + he + ", " + hcond + ", " + hcl);
                }
            }
            for (int c = 0; c < ch.size(); c++) {
                if (ch.get(c).sendersWaiting() != 0 || ch.get(c).receiversWaiting() != 0) {
                    anomaly("channel " + c + " left with waiters: " + ch.get(c));
                }
                ch.get(c).close();
                try {
                    for (Long v; (v = ch.get(c).tryReceive()) != null; ) {
                        buffered.merge(v, 1, Integer::sum);
                    }
                } catch (ClosedChannelException drained) {
                    // the end of the buffer
                }
            }
            for (Map.Entry<Long, Boolean> e : sent.entrySet()) {
                long item = e.getKey();
                int delivered = receivedCount.getOrDefault(item, 0) + buffered.getOrDefault(item, 0);
                if (e.getValue() && delivered != 1) {
                    anomaly("item " + item + " sent but received " + receivedCount.get(item) + " and left buffered " + buffered.get(item) + " times");
                }
                if (!e.getValue() && delivered != 0) {
                    anomaly("item " + item + " whose send failed was received " + receivedCount.get(item) + " and left buffered " + buffered.get(item) + " times");
                }
            }
            for (Boom b : thrown.values()) {
                List<String> where = seen.get(b.id);
                if (where == null || where.size() != 1) {
                    anomaly(b.getMessage() + " seen " + (where == null ? 0 : where.size()) + " times, not once: " + where);
                }
            }
        }
    }

    static String stackOf(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }

    private static String threadDump() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            sb.append('"').append(e.getKey().getName()).append("\" ").append(e.getKey().getState()).append('\n');
            for (StackTraceElement f : e.getValue()) {
                sb.append("    at ").append(f).append('\n');
            }
        }
        return sb.toString();
    }
}
