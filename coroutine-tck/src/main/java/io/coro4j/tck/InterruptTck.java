package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Condition;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import io.coro4j.channel.Semaphore;
import io.coro4j.spi.Scheduler;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Thread interrupts at the edges of coro4j, the same on every scheduler: a plain thread interrupted
 * before {@link Coro#run} or in a plain {@link Task#join()}, a task whose own interrupt status is set
 * waiting on each kind of wait, the status of a {@link Coro#blocking} call and of a generator's
 * resumer, and what the JDK's blocking calls answer to the interrupt that a cancellation or timeout
 * sends a {@link Coro#blocking} call.
 */
public abstract class InterruptTck extends SchedulerTck {

    /**
     * A {@link Coro#blocking} call runs on a virtual thread, where the JDK answers an interrupt
     * during a {@link Socket} connect, read or write by closing the socket and throwing a
     * {@link SocketException} (its {@code getInputStream} javadoc), not an
     * {@link java.nio.channels.ClosedByInterruptException}. That is the call's plain answer to the
     * interrupt, which {@code withTimeoutOrNull} does not report as a failure (as it reports none
     * for an {@link InterruptedException}): the timeout returns null and nothing goes to the
     * uncaught-exception handler.
     */
    @Test
    void aSocketReadsAnswerToTheInterruptOfAnExpiredWithTimeoutOrNullIsNoFailure() throws Exception {
        Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread.setDefaultUncaughtExceptionHandler((th, e) -> reported.add(e));
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            // A timeout that expires before the read has begun (the task descheduled on a loaded
            // machine) tests less: such a run is tried again.
            AtomicReference<Throwable> readFailed = new AtomicReference<>();
            Object result = "not run";
            for (int attempt = 0; attempt < 50 && readFailed.get() == null; attempt++) {
                reported.clear();
                result = runTask(Duration.ofSeconds(30), () -> Coro.withTimeoutOrNull(Duration.ofMillis(100),
                        () -> Coro.blocking(() -> {
                            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                                InputStream in = socket.getInputStream();
                                try {
                                    return in.read(); // the server never writes
                                } catch (SocketException e) {
                                    readFailed.set(e);
                                    throw e;
                                }
                            }
                        })));
            }
            assertThat(readFailed.get()).as("a read interrupted in one of 50 runs").isNotNull()
                    .isExactlyInstanceOf(SocketException.class);
            assertThat(result).isNull();
            assertThat(reported).as("reported to the uncaught-exception handler").isEmpty();
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(saved);
        }
    }

    /** Runs {@code action} on a new platform thread and returns what it returned (10 s at most). */
    private static <T> T onPlainThread(java.util.concurrent.Callable<T> action) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-plain").start(() -> {
            try {
                f.complete(action.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f.get(10, TimeUnit.SECONDS);
    }

    /**
     * {@link Coro#run} called with the interrupt status already set cancels the main task before it
     * starts, as an interrupt while it waits does: the body never runs, a
     * {@link CancellationException} comes out, and the caller keeps its interrupt status, as the
     * JDK's blocking methods that answer an interrupt with an exception do not (they clear it).
     */
    @Test
    void runCalledWithTheInterruptStatusSetCancelsTheMainTaskBeforeItStartsAndKeepsTheStatus() throws Exception {
        // Whether the main task could start, and even end, before Coro.run looked at the status was
        // a race: tried 100 times, each of which must come out the same.
        AtomicInteger ran = new AtomicInteger();
        List<String> outcomes = onPlainThread(() -> {
            List<String> each = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Thread.currentThread().interrupt();
                try {
                    each.add("returned " + Coro.run(scheduler, () -> {
                        ran.incrementAndGet();
                        return "main";
                    }) + "; still interrupted: " + Thread.interrupted());
                } catch (CancellationException e) {
                    each.add("cancelled; still interrupted: " + Thread.interrupted());
                }
            }
            return each;
        });
        assertThat(outcomes).as("outcomes of 100 runs").containsOnly("cancelled; still interrupted: true");
        assertThat(ran).as("main bodies that ran").hasValue(0);
        Scheduler shutDown = newScheduler(1);
        shutDown.shutdown();
        String refused = onPlainThread(() -> {
            Thread.currentThread().interrupt();
            try {
                return "returned " + Coro.run(shutDown, () -> "main");
            } catch (java.util.concurrent.RejectedExecutionException e) {
                return "refused; still interrupted: " + Thread.interrupted();
            }
        });
        assertThat(refused).as("on a scheduler shut down").isEqualTo("refused; still interrupted: true");
    }

    /**
     * A plain {@link Task#join()} waits uninterruptibly, as {@link CompletableFuture#join()} does: a
     * thread whose interrupt status is set waits for the task's end, gets its outcome, and keeps the status.
     */
    @Test
    void aPlainJoinWithTheInterruptStatusSetWaitsForTheEndAndKeepsTheStatus() throws Exception {
        CompletableFuture<Task<String>> task = new CompletableFuture<>();
        Event go = new Event();
        CompletableFuture<String> main = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-main").start(() -> {
            try {
                main.complete(Coro.run(scheduler, () -> {
                    Task<String> t = Coro.spawn(() -> {
                        go.await();
                        return "value";
                    });
                    task.complete(t);
                    return t.join();
                }));
            } catch (Throwable e) {
                main.completeExceptionally(e);
            }
        });
        Task<String> t = task.get(10, TimeUnit.SECONDS);
        AtomicReference<String> waited = new AtomicReference<>("not seen");
        String joined = onPlainThread(() -> {
            Thread joiner = Thread.currentThread();
            joiner.interrupt();
            Thread.ofPlatform().daemon().start(() -> {
                // Set only once the join waits (a sleep instead let a slow joiner find the task
                // ended and return at once, testing nothing); a join that spins on the status never waits.
                long giveUp = System.nanoTime() + 5_000_000_000L;
                while (joiner.getState() != Thread.State.WAITING && System.nanoTime() < giveUp) {
                    Thread.onSpinWait();
                }
                waited.set(joiner.getState() == Thread.State.WAITING ? "the join waited" : "the join never waited");
                go.set();
            });
            String v = t.join();
            return v + "; still interrupted: " + Thread.interrupted();
        });
        assertThat(waited).hasValue("the join waited");
        assertThat(joined).isEqualTo("value; still interrupted: true");
        assertThat(main.get(10, TimeUnit.SECONDS)).isEqualTo("value");
    }

    /**
     * A task whose own interrupt status is set waits on a lock, a semaphore, a channel, an awaited
     * future, a condition, a join and a timeout as any other task: each wait ends when what it waits
     * for comes (not at once, and not in a busy loop of parks), the status is still set after each,
     * and the task that runs meanwhile on the same carrier does not see it.
     */
    @Test
    void aTaskWithItsInterruptStatusSetWaitsOnEachKindOfWaitAsAnyOther() throws Exception {
        Scheduler one = newScheduler(1);
        CompletableFuture<List<String>> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-main").start(() -> {
            try {
                f.complete(Coro.run(one, () -> {
                    Lock lock = new Lock();
                    Condition condition = new Condition(lock);
                    Semaphore semaphore = new Semaphore(1);
                    semaphore.acquire();
                    Channel<String> channel = Channel.rendezvous();
                    CompletableFuture<String> future = new CompletableFuture<>();
                    Event inCondition = new Event();
                    List<String> log = new CopyOnWriteArrayList<>();
                    lock.lock();
                    Task<Long> waiter = Coro.spawn(() -> {
                        Thread.currentThread().interrupt();
                        long before = one.stats().suspensions();
                        lock.lock();
                        lock.unlock();
                        log.add("locked " + Thread.currentThread().isInterrupted());
                        semaphore.acquire();
                        log.add("acquired " + Thread.currentThread().isInterrupted());
                        log.add("received " + channel.receive() + " " + Thread.currentThread().isInterrupted());
                        log.add("awaited " + Coro.await(future) + " " + Thread.currentThread().isInterrupted());
                        lock.lock();
                        try {
                            inCondition.set();
                            condition.await();
                        } finally {
                            lock.unlock();
                        }
                        log.add("signalled " + Thread.currentThread().isInterrupted());
                        log.add("joined " + Coro.spawn(() -> {
                            Coro.sleep(Duration.ofMillis(5));
                            return "child";
                        }).join() + " " + Thread.currentThread().isInterrupted());
                        log.add("timed out " + Coro.withTimeoutOrNull(Duration.ofMillis(5), () -> {
                            new Event().await();
                            return "set";
                        }) + " " + Thread.currentThread().isInterrupted());
                        return one.stats().suspensions() - before;
                    });
                    for (int i = 0; i < 3; i++) {
                        Coro.sleep(Duration.ofMillis(5)); // the waiter waits for the lock meanwhile
                    }
                    log.add("main " + Thread.currentThread().isInterrupted());
                    lock.unlock();
                    Coro.sleep(Duration.ofMillis(5));
                    semaphore.release();
                    Coro.sleep(Duration.ofMillis(5));
                    channel.send("item");
                    Coro.sleep(Duration.ofMillis(5));
                    future.complete("value");
                    inCondition.await();
                    lock.lock();
                    try {
                        condition.signal();
                    } finally {
                        lock.unlock();
                    }
                    long suspensions = waiter.join();
                    log.add("main " + Thread.currentThread().isInterrupted());
                    // The waiter's seven waits, the child's and main's own sleeps and waits, with room
                    // for spurious wake-ups; a park that returned at once on the status loops thousands of times.
                    log.add("suspensions under 100: " + (suspensions < 100));
                    return log;
                }));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        assertThat(f.get(30, TimeUnit.SECONDS)).containsExactly("main false", "locked true", "acquired true",
                "received item true", "awaited value true", "signalled true", "joined child true", "timed out null true",
                "main false", "suspensions under 100: true");
    }

    /**
     * A {@link Coro#blocking} call runs on a thread of its own: the task's interrupt status does not
     * go into it, and a status the call leaves set stays there, reaching neither the task nor the next call.
     */
    @Test
    void aBlockingCallsInterruptStatusIsItsOwn() throws Exception {
        List<Boolean> seen = runTask(Duration.ofSeconds(30), () -> {
            List<Boolean> log = new ArrayList<>();
            Coro.blocking(() -> {
                Thread.currentThread().interrupt();
                return null;
            });
            log.add(Thread.currentThread().isInterrupted());
            log.add(Coro.blocking(() -> Thread.currentThread().isInterrupted()));
            Thread.currentThread().interrupt();
            log.add(Coro.blocking(() -> Thread.currentThread().isInterrupted()));
            log.add(Thread.interrupted());
            return log;
        });
        assertThat(seen).as("task after a call set it; next call; a call of an interrupted task; that task after")
                .containsExactly(false, false, false, true);
    }

    /**
     * A plain thread that steps a generator with its interrupt status set keeps it through the body's
     * yield, return and failure and through {@code close}, and the body (its {@code finally} on close
     * included) does not see it, as a thread does not see another's.
     */
    @Test
    void anInterruptedResumerKeepsItsStatusThroughEveryEndOfAStepAndTheBodyNeverSeesIt() throws Exception {
        List<String> seen = onPlainThread(() -> {
            List<String> log = new ArrayList<>();
            Thread.currentThread().interrupt();
            Generator<String, Object, String> returns = Generator.of(scheduler, co -> {
                co.yield("body " + Thread.currentThread().isInterrupted());
                return "returned";
            });
            log.add(((Step.Yielded<String, String>) returns.next()).value() + "; resumer " + Thread.currentThread().isInterrupted());
            log.add(((Step.Returned<String, String>) returns.next()).returnValue() + "; resumer " + Thread.currentThread().isInterrupted());
            Generator<String, Object, String> fails = Generator.of(scheduler, co -> {
                co.yield("a");
                throw new IllegalStateException("failed");
            });
            fails.next();
            try {
                fails.next();
                log.add("no failure");
            } catch (IllegalStateException e) {
                log.add(e.getMessage() + " " + Thread.currentThread().isInterrupted());
            }
            Generator<String, Object, String> closed = Generator.of(scheduler, co -> {
                try {
                    co.yield("a");
                } finally {
                    log.add("finally " + Thread.currentThread().isInterrupted());
                }
                return null;
            });
            closed.next();
            closed.close();
            log.add("closed " + Thread.interrupted());
            return log;
        });
        assertThat(seen).containsExactly("body false; resumer true", "returned; resumer true", "failed true", "finally false",
                "closed true");
    }

    /**
     * {@link Scheduler#close()} interrupted while a task it waits for is parked neither cancels the
     * task nor ends the wait (unlike {@link java.util.concurrent.ExecutorService#close()}, which then
     * stops its tasks as {@code shutdownNow} does): it returns once the task has ended, with the
     * interrupt status set again. A Coro.blocking call running meanwhile is not interrupted.
     */
    @Test
    void anInterruptedCloseKeepsWaitingForAParkedTaskAndKeepsTheStatus() throws Exception {
        Scheduler s = newScheduler(2);
        Event release = new Event();
        AtomicReference<String> callEnded = new AtomicReference<>();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        CompletableFuture<String> main = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tck-main").start(() -> {
            try {
                main.complete(Coro.run(s, () -> {
                    Task<String> call = Coro.spawn(() -> Coro.blocking(() -> {
                        started.countDown();
                        try {
                            Thread.sleep(60_000);
                            callEnded.set("slept");
                        } catch (InterruptedException e) {
                            callEnded.set("interrupted");
                        }
                        return callEnded.get();
                    }));
                    release.await();
                    call.cancel();
                    try {
                        return call.join();
                    } catch (CancellationException e) {
                        return "call cancelled; suppressed: " + e.getSuppressed().length;
                    }
                }));
            } catch (Throwable e) {
                main.completeExceptionally(e);
            }
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<String> closed = new CompletableFuture<>();
        Thread closer = Thread.ofPlatform().daemon().name("tck-closer").start(() -> {
            s.close();
            closed.complete("closed; still interrupted: " + Thread.interrupted());
        });
        // Interrupted once it waits (a sleep here let a slow closer be interrupted before it began to).
        long giveUp = System.nanoTime() + 10_000_000_000L;
        while (closer.getState() != Thread.State.WAITING && closer.getState() != Thread.State.TIMED_WAITING
                && System.nanoTime() < giveUp) {
            Thread.sleep(1);
        }
        assertThat(closer.getState()).as("the closer waits").isIn(Thread.State.WAITING, Thread.State.TIMED_WAITING);
        closer.interrupt();
        Thread.sleep(200);
        assertThat(closed).as("close ended by its interrupt").isNotDone();
        assertThat(main).as("main ended by the close's interrupt").isNotDone();
        assertThat(callEnded).as("how the blocking call ended before the task was cancelled").hasNullValue();
        release.set();
        assertThat(closed.get(10, TimeUnit.SECONDS)).isEqualTo("closed; still interrupted: true");
        assertThat(main.get(10, TimeUnit.SECONDS)).isEqualTo("call cancelled; suppressed: 0");
        assertThat(callEnded).as("how the blocking call ended once the task was cancelled").hasValue("interrupted");
    }
}
