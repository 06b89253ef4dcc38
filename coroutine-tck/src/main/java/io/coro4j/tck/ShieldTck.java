package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.TimeoutExceededException;
import io.coro4j.channel.Channel;
import io.coro4j.channel.Event;
import io.coro4j.channel.Lock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link Coro#shielded}: code that must suspend while its task is cancelled (cleanup in a
 * {@code finally} block) runs to its end; the cancellation waits, and comes at the first suspension
 * point after the shield; what is opened inside the shield can still be cancelled.
 */
public abstract class ShieldTck extends SchedulerTck {

    private static final Duration LONG = Duration.ofHours(1);

    /** What joining {@code t} gives: its value, or its exception's class and message (task name replaced). */
    private static String joined(Task<?> t) {
        try {
            return "joined: " + t.join();
        } catch (RuntimeException e) {
            return "join threw " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace(t.name(), "<name>");
        }
    }

    /** Code for a {@code finally} block; may throw. */
    private interface Cleanup {
        void run() throws Exception;
    }

    /**
     * Inside a task: spawns a task that sleeps until it is cancelled, with {@code cleanup} in its
     * {@code finally} block, cancels it once it sleeps, and returns how its join ended.
     */
    private static String cancelledWhileAsleepWithCleanup(Cleanup cleanup) {
        Event asleep = new Event();
        Task<Void> worker = Coro.spawn(() -> {
            try {
                asleep.set();
                Coro.sleep(LONG);
            } finally {
                cleanup.run();
            }
            return null;
        });
        asleep.await();
        worker.cancel();
        return joined(worker);
    }

    @Test
    void aCancelledTaskSuspendsInAShieldedFinallyBlockAndStillEndsCancelled() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        runTask(() -> log.add(cancelledWhileAsleepWithCleanup(() -> {
            try {
                Coro.sleep(Duration.ofMillis(1));
                log.add("an unshielded sleep returned");
            } catch (CancellationException e) {
                log.add("an unshielded sleep threw " + e.getClass().getSimpleName());
            }
            Coro.shielded(() -> {
                Coro.sleep(Duration.ofMillis(20));
                log.add("the shielded sleep returned");
                return null;
            });
        })));
        assertThat(log).containsExactly(
                "an unshielded sleep threw CancellationException",
                "the shielded sleep returned",
                // the cancellation that ran the finally block, not replaced by the shield
                "join threw CancellationException: task <name> was cancelled");
    }

    @Test
    void aCancellationDuringTheShieldIsRaisedAtTheFirstSuspensionPointAfterIt() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        runTask(() -> {
            Event inShield = new Event();
            Event release = new Event();
            Task<String> t = Coro.spawn(() -> {
                String v = Coro.shielded(() -> {
                    inShield.set();
                    release.await(); // cancelled while it waits here: it goes on waiting
                    Coro.checkCancelled();
                    Coro.yieldNow();
                    log.add("the shield's body went on after the cancellation");
                    return "the shield's value";
                });
                log.add("after the shield: " + v);
                try {
                    Coro.yieldNow();
                    log.add("the next suspension point returned");
                } catch (CancellationException e) {
                    log.add("the next suspension point threw " + e.getClass().getSimpleName());
                    throw e;
                }
                return "end";
            });
            inShield.await();
            log.add("cancel() returned " + t.cancel());
            release.set();
            log.add(joined(t));
            return null;
        });
        assertThat(log).containsExactly(
                "cancel() returned true",
                "the shield's body went on after the cancellation",
                "after the shield: the shield's value",
                "the next suspension point threw CancellationException",
                "join threw CancellationException: task <name> was cancelled");
    }

    @Test
    void aTaskThatDoesNotSuspendAfterTheShieldEndsWithItsValue() throws Exception {
        String got = runTask(() -> {
            Event inShield = new Event();
            Event release = new Event();
            Task<String> t = Coro.spawn(() -> Coro.shielded(() -> {
                inShield.set();
                release.await();
                Coro.yieldNow(); // a suspension point after the cancel for certain
                return "cleaned up";
            }));
            inShield.await();
            t.cancel();
            release.set();
            return joined(t) + ", cancelled: " + t.isCancelled();
        });
        assertThat(got).isEqualTo("joined: cleaned up, cancelled: false");
    }

    @Test
    void aTimeoutAroundTheShieldThatExpiresMeanwhileThrowsAtTheNextSuspensionPoint() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        long[] elapsed = new long[1];
        Throwable thrown = runTask(() -> {
            long t0 = System.nanoTime();
            Throwable t = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(20), () -> {
                String v = Coro.shielded(() -> {
                    Coro.sleep(Duration.ofMillis(200));
                    return "slept 200 ms";
                });
                log.add("the shield returned: " + v);
                Coro.yieldNow();
                log.add("the next suspension point returned");
                return v;
            }));
            elapsed[0] = System.nanoTime() - t0;
            return t;
        });
        assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
        assertThat(log).containsExactly("the shield returned: slept 200 ms");
        assertThat(elapsed[0]).as("the shielded sleep lasted its whole duration").isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(200));
    }

    @Test
    void aTimeoutInsideTheShieldExpiresInACancelledTask() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        runTask(() -> log.add(cancelledWhileAsleepWithCleanup(() -> Coro.shielded(() -> {
            Throwable t = catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(20), () -> {
                Coro.sleep(LONG);
                return null;
            }));
            log.add("withTimeout threw " + t.getClass().getSimpleName());
            log.add("withTimeoutOrNull returned " + Coro.withTimeoutOrNull(Duration.ofMillis(20), () -> {
                Coro.sleep(LONG);
                return "slept";
            }));
            return null;
        }))));
        assertThat(log).containsExactly(
                "withTimeout threw TimeoutExceededException",
                "withTimeoutOrNull returned null",
                "join threw CancellationException: task <name> was cancelled");
    }

    @Test
    void aTaskGroupOpenedInsideTheShieldStillCancelsItsChildrenWhenOneFails() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        runTask(() -> log.add(cancelledWhileAsleepWithCleanup(() -> Coro.shielded(() -> {
            List<Task<?>> sleeper = new ArrayList<>();
            Throwable t = catchThrowable(() -> Coro.taskGroup(g -> {
                sleeper.add(g.spawn(() -> {
                    Coro.sleep(LONG);
                    return null;
                }));
                g.spawn(() -> {
                    throw new IllegalStateException("a child failed");
                });
                try {
                    Coro.sleep(LONG);
                } catch (CancellationException e) {
                    log.add("the group's body was cancelled");
                    throw e;
                }
                return null;
            }));
            log.add("the group threw " + t.getClass().getSimpleName() + ": " + t.getMessage());
            log.add("its sleeping child was cancelled: " + sleeper.get(0).isCancelled());
            return null;
        }))));
        assertThat(log).containsExactly(
                "the group's body was cancelled",
                "the group threw IllegalStateException: a child failed",
                "its sleeping child was cancelled: true",
                "join threw CancellationException: task <name> was cancelled");
    }

    @Test
    void aChildInATaskGroupFinishesItsShieldedCleanupWhenASiblingFails() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        Throwable thrown = runTask(() -> catchThrowable(() -> Coro.taskGroup(g -> {
            Event inShield = new Event();
            g.spawn(() -> {
                Coro.shielded(() -> {
                    inShield.set();
                    Coro.sleep(Duration.ofMillis(100));
                    log.add("the shielded cleanup finished");
                    return null;
                });
                log.add("after the shield");
                Coro.sleep(LONG);
                log.add("slept an hour");
                return null;
            });
            g.spawn(() -> {
                inShield.await();
                throw new IllegalStateException("a sibling failed");
            });
            return null;
        })));
        assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage("a sibling failed");
        assertThat(thrown.getSuppressed()).isEmpty();
        assertThat(log).containsExactly("the shielded cleanup finished", "after the shield");
    }

    @Test
    void waitsInsideTheShieldOfACancelledTaskCompleteAndTakeWhatTheyWaitedFor() throws Exception {
        CompletableFuture<String> future = new CompletableFuture<>();
        List<String> got = runTask(() -> {
            Channel<String> channel = Channel.rendezvous();
            Lock lock = new Lock();
            Event asleep = new Event();
            Task<List<String>> t = Coro.spawn(() -> {
                try {
                    asleep.set();
                    Coro.sleep(LONG);
                    return List.of("not cancelled");
                } catch (CancellationException e) {
                    return Coro.shielded(() -> {
                        List<String> out = new ArrayList<>();
                        out.add(Coro.await(future));
                        out.add(channel.receive());
                        lock.lock();
                        try {
                            out.add("locked");
                        } finally {
                            lock.unlock();
                        }
                        Task<String> child = Coro.spawn(() -> {
                            Coro.sleep(Duration.ofMillis(10));
                            return "joined child";
                        });
                        out.add(child.join());
                        out.addAll(Coro.gather(
                                Coro.spawn(() -> {
                                    Coro.sleep(Duration.ofMillis(10));
                                    return "gathered 1";
                                }),
                                Coro.spawn(() -> "gathered 2")));
                        return out;
                    });
                }
            });
            lock.lock(); // held until the cancelled task waits for it
            asleep.await();
            t.cancel();
            Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                future.complete("awaited future");
            });
            channel.send("received item"); // returns once the cancelled task has taken it
            until("the cancelled task waits for the lock", () -> lock.queueLength() == 1);
            lock.unlock();
            return t.join();
        });
        assertThat(got).containsExactly("awaited future", "received item", "locked", "joined child", "gathered 1", "gathered 2");
        assertThat(future.isCancelled()).as("the awaited future was cancelled").isFalse();
    }

    @Test
    void aBlockingCallInsideTheShieldIsNotInterruptedByTheCancellation() throws Exception {
        String got = runTask(() -> {
            CountDownLatch inCall = new CountDownLatch(1);
            Task<String> t = Coro.spawn(() -> Coro.shielded(() -> Coro.blocking(() -> {
                inCall.countDown();
                Thread.sleep(100);
                return "slept, interrupted: " + Thread.currentThread().isInterrupted();
            })));
            until("the blocking call runs", () -> inCall.getCount() == 0);
            t.cancel();
            return joined(t);
        });
        assertThat(got).isEqualTo("joined: slept, interrupted: false");
    }

    @Test
    void nestedShieldsHoldTheCancellationOffUntilTheOutermostEndsAndPassTheBodysExceptionOnAsItIs() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        RuntimeException boom = new IllegalArgumentException("boom");
        runTask(() -> log.add(cancelledWhileAsleepWithCleanup(() -> {
            Throwable thrown = catchThrowable(() -> Coro.shielded(() -> {
                String inner = Coro.shielded(() -> {
                    Coro.sleep(Duration.ofMillis(1));
                    return "inner";
                });
                Coro.sleep(Duration.ofMillis(1));
                log.add("still shielded after the " + inner + " shield");
                throw boom;
            }));
            log.add("the shield threw the body's exception: " + (thrown == boom));
            try {
                Coro.checkCancelled();
                log.add("not cancelled after the shields");
            } catch (CancellationException again) {
                log.add("cancelled again after the shields");
            }
        })));
        assertThat(log).containsExactly(
                "still shielded after the inner shield",
                "the shield threw the body's exception: true",
                "cancelled again after the shields",
                "join threw CancellationException: task <name> was cancelled");
    }

    @Test
    void aShieldInsideATimeoutThatIsInsideAnotherShieldHoldsThatTimeoutOff() throws Exception {
        // The innermost shield counts: the timeout between the two, expired, waits until it ends.
        List<String> log = new CopyOnWriteArrayList<>();
        String got = runTask(() -> Coro.shielded(() -> Coro.withTimeoutOrNull(Duration.ZERO, () -> {
            String v = Coro.shielded(() -> {
                Coro.yieldNow();
                Coro.checkCancelled();
                return "the inner shield's body ran to its end";
            });
            log.add(v);
            Coro.yieldNow();
            log.add("the suspension point after the inner shield returned");
            return v;
        })));
        assertThat(log).containsExactly("the inner shield's body ran to its end");
        assertThat(got).as("the expired timeout, raised after the inner shield").isNull();
    }

    @Test
    void aTimeoutInsideTheShieldCancelsTheChildrenOfAGroupWhoseBodyHasReturned() throws Exception {
        // The group waits for its children; the timeout opened inside the shield expires meanwhile
        // and cancels them, as it would anywhere (a shield holds off only what was opened around it).
        List<Task<String>> child = new CopyOnWriteArrayList<>();
        long t0 = System.nanoTime();
        Throwable thrown = runTask(() -> Coro.shielded(() -> catchThrowable(() -> Coro.withTimeout(Duration.ofMillis(20),
                () -> Coro.taskGroup(g -> {
                    child.add(g.spawn(() -> {
                        Coro.sleep(Duration.ofSeconds(5));
                        return "slept 5 s";
                    }));
                    return "the group's body returned";
                })))));
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
        assertThat(child.get(0).isCancelled()).as("the child was cancelled").isTrue();
        assertThat(elapsedMs).as("the group did not wait out the child's sleep").isLessThan(4_000);
    }

    @Test
    void misuseIsRefusedWithAMessageThatSaysWhy() throws Exception {
        assertThat(catchThrowable(() -> Coro.shielded(() -> 1)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("Coro.shielded" + OUTSIDE);
        assertThat(catchThrowable(() -> Coro.shielded(null)))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("body must not be null");
        Throwable inTask = runTask(() -> catchThrowable(() -> Coro.shielded(null)));
        assertThat(inTask).isInstanceOf(NullPointerException.class).hasMessage("body must not be null");
        Throwable inBlocking = runTask(() -> Coro.blocking(() -> catchThrowable(() -> Coro.shielded(() -> 1))));
        assertThat(inBlocking)
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("Coro.shielded called inside Coro.blocking(...), whose body runs on a thread of its own,"
                        + " outside the task: do task operations before or after the blocking call");
    }
}
