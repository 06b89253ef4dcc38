package io.coro4j.tck;

import static org.assertj.core.api.Assertions.assertThat;

import io.coro4j.Coro;
import io.coro4j.Task;
import io.coro4j.channel.Event;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A {@link Task} as a {@link Future} and its {@link Task#toCompletableFuture() views} as
 * {@link CompletableFuture}s, for plain Java, checked against the JDK as the oracle: a
 * {@code CompletableFuture} that ends the same way answers each call as the task (or its view)
 * must, except where coro4j's javadoc says otherwise (messages that name the task, cooperative
 * cancellation, a task's own {@link CompletionException}).
 */
public abstract class FutureTck extends SchedulerTck {

    private <T> T run(Callable<T> main) {
        return Coro.run(scheduler, main);
    }

    /** What {@code call} gives: "=" and its value, or "!" and the classes of what it threw and of its cause. */
    private static String outcome(Callable<?> call) {
        try {
            return "=" + call.call();
        } catch (Throwable t) {
            return "!" + t.getClass().getSimpleName()
                    + (t.getCause() == null ? "" : "<-" + t.getCause().getClass().getSimpleName());
        }
    }

    /**
     * The {@link Future} calls of a plain thread on {@code f}, done, each as {@link #outcome}: what the
     * JDK's contract fixes (classes, values, causes), not messages, which coro4j's name the task.
     * resultNow and exceptionNow give only the class of what they throw: coro4j's refusal of a failed
     * task carries the failure as its cause (documented), the JDK's carries none.
     */
    private static List<String> futureCalls(Future<Object> f) {
        List<String> out = new ArrayList<>();
        out.add("isDone" + outcome(f::isDone));
        out.add("isCancelled" + outcome(f::isCancelled));
        out.add("state" + outcome(f::state));
        out.add("resultNow" + outcome(f::resultNow).replaceAll("<-.*", ""));
        out.add("exceptionNow" + outcome(() -> f.exceptionNow().getClass().getSimpleName()).replaceAll("<-.*", ""));
        out.add("get" + outcome(f::get));
        out.add("get(0)" + outcome(() -> f.get(0, TimeUnit.SECONDS)));
        out.add("get(-1)" + outcome(() -> f.get(-1, TimeUnit.SECONDS)));
        out.add("get(MAX)" + outcome(() -> f.get(Long.MAX_VALUE, TimeUnit.DAYS)));
        // A done future answers an interrupted caller without an InterruptedException, keeping its status.
        Thread.currentThread().interrupt();
        out.add("interrupted get" + outcome(f::get) + ", still interrupted: " + Thread.interrupted());
        Thread.currentThread().interrupt();
        out.add("interrupted get(1s)" + outcome(() -> f.get(1, TimeUnit.SECONDS)) + ", still interrupted: "
                + Thread.interrupted());
        return out;
    }

    /** A CompletableFuture that ends as a task of {@code kind} does. */
    private static CompletableFuture<Object> oracle(String kind, Throwable failure) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        switch (kind) {
            case "value" -> f.complete("v");
            case "null" -> f.complete(null);
            case "cancelled before it started", "cancelled while suspended" -> f.cancel(false);
            default -> f.completeExceptionally(failure);
        }
        return f;
    }

    /**
     * Every way a task can end, seen from plain Java through its {@link Future} methods and through
     * a view's, matches a {@code CompletableFuture} that ended the same way: isDone, isCancelled,
     * state, resultNow, exceptionNow, get (untimed; timed with 0, a negative and a huge timeout; with
     * the caller's interrupt status set), including the class of each exception's cause
     * (ExecutionException wrapping the failure, CancellationException for a cancellation).
     */
    @Test
    void aTaskThatEndedAnswersEveryFutureCallAsACompletableFutureThatEndedTheSameWay() throws Exception {
        List<String> kinds = List.of("value", "null", "unchecked", "checked", "error", "cancelled before it started",
                "cancelled while suspended");
        for (String kind : kinds) {
            Throwable failure = switch (kind) {
                case "unchecked" -> new IllegalStateException("unchecked");
                case "checked" -> new IOException("checked");
                case "error" -> new Error("error");
                default -> null;
            };
            CompletableFuture<Task<Object>> ended = new CompletableFuture<>();
            CompletableFuture<Void> looked = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    Coro.run(scheduler, () -> {
                        Event never = new Event();
                        Task<Object> t = switch (kind) {
                            case "value" -> Coro.spawn(() -> "v");
                            case "null" -> Coro.spawn(() -> null);
                            case "cancelled before it started", "cancelled while suspended" -> Coro.spawn(() -> {
                                never.await();
                                return "never";
                            });
                            default -> Coro.spawn(() -> {
                                if (failure instanceof Exception e) {
                                    throw e;
                                }
                                throw (Error) failure;
                            });
                        };
                        if (kind.equals("cancelled before it started")) {
                            t.cancel();
                        } else if (kind.equals("cancelled while suspended")) {
                            until("the task waits", () -> never.queueLength() == 1);
                            t.cancel();
                        }
                        until("the task has ended", t::isDone);
                        ended.complete(t);
                        return Coro.await(looked); // the failure is observed (got) by then
                    });
                } catch (Throwable e) {
                    ended.completeExceptionally(e);
                }
            });
            Task<Object> task = ended.get(20, TimeUnit.SECONDS);
            try {
                List<String> expected = futureCalls(oracle(kind, failure));
                assertThat(futureCalls(task)).as("the task, %s", kind).isEqualTo(expected);
                assertThat(futureCalls(task.toCompletableFuture())).as("its view, %s", kind).isEqualTo(expected);
                if (failure != null) {
                    assertThat(task.exceptionNow()).as(kind).isSameAs(failure);
                    assertThat(task.toCompletableFuture().exceptionNow()).as(kind).isSameAs(failure);
                    ExecutionException got = org.assertj.core.api.Assertions.catchThrowableOfType(
                            ExecutionException.class, task::get);
                    assertThat(got.getCause()).as(kind).isSameAs(failure);
                }
            } finally {
                looked.complete(null);
            }
        }
    }

    /**
     * completeAsync of a task's view whose supplier throws completes the view as the JDK completes a
     * CompletableFuture then: with the failure wrapped in a {@link CompletionException} (one the
     * supplier threw itself kept as it is), which handle, whenComplete and exceptionally see; get
     * and exceptionNow hand out the failure itself. The task is not touched, and its later failure,
     * which the view will never show, is its group's to report.
     */
    @Test
    void completeAsyncOfATasksViewWhoseSupplierThrowsCompletesItAsTheJdkDoes() {
        IllegalStateException thrown = new IllegalStateException("the supplier failed");
        CompletionException wrapper = new CompletionException(thrown);
        List<String> seen = new ArrayList<>();
        Throwable parent = org.assertj.core.api.Assertions.catchThrowable(() -> run(() -> {
            for (RuntimeException supplierThrows : List.of(thrown, wrapper)) {
                Event gate = new Event();
                Task<Object> child = Coro.spawn(() -> {
                    gate.await();
                    throw new IllegalStateException("failed after its view was completed");
                });
                CompletableFuture<Object> view = child.toCompletableFuture();
                CompletableFuture<Object> jdk = new CompletableFuture<>();
                for (CompletableFuture<Object> f : List.of(view, jdk)) {
                    f.completeAsync(() -> {
                        throw supplierThrows;
                    }, Runnable::run);
                }
                for (CompletableFuture<Object> f : List.of(view, jdk)) {
                    String which = (f == view ? "view" : "jdk") + ", supplier threw "
                            + supplierThrows.getClass().getSimpleName();
                    Throwable handled = f.handle((v, e) -> e).join();
                    Throwable got = org.assertj.core.api.Assertions.catchThrowable(f::get);
                    seen.add(which + ": handle saw " + describe(handled, thrown, wrapper)
                            + ", get threw ExecutionException of " + describe(got.getCause(), thrown, wrapper)
                            + ", exceptionNow " + describe(f.exceptionNow(), thrown, wrapper));
                }
                assertThat(child.isDone()).isFalse();
                gate.set();
            }
            return "parent returned";
        }));
        assertThat(seen).containsExactly(
                "view, supplier threw IllegalStateException: handle saw a CompletionException of the failure,"
                        + " get threw ExecutionException of the failure, exceptionNow the failure",
                "jdk, supplier threw IllegalStateException: handle saw a CompletionException of the failure,"
                        + " get threw ExecutionException of the failure, exceptionNow the failure",
                "view, supplier threw CompletionException: handle saw the wrapper it threw,"
                        + " get threw ExecutionException of the failure, exceptionNow the failure",
                "jdk, supplier threw CompletionException: handle saw the wrapper it threw,"
                        + " get threw ExecutionException of the failure, exceptionNow the failure");
        assertThat(parent).as("the child's failure, which no view showed").isExactlyInstanceOf(IllegalStateException.class)
                .hasMessage("failed after its view was completed");
    }

    private static String describe(Throwable t, Throwable failure, Throwable wrapper) {
        if (t == failure) {
            return "the failure";
        }
        if (t == wrapper) {
            return "the wrapper it threw";
        }
        if (t instanceof CompletionException && t.getCause() == failure) {
            return "a CompletionException of the failure";
        }
        return String.valueOf(t);
    }

    /**
     * Coro.await of a task's view by a task that is cancelled while it waits: unlike a
     * CompletableFuture awaited so, which is cancelled too, the view is left as it is (an await of a
     * task's own stage is a join, which does not cancel what it joins), and the task runs on; the
     * view still gets the task's outcome when it ends, and the task's failure, which the await gave
     * up on, is also its group's to report.
     */
    @Test
    void anAwaitOfATasksViewCancelledMeanwhileLeavesTheViewAndTheTask_aPlainFutureIsCancelled() {
        List<String> seen = new ArrayList<>();
        Throwable parent = org.assertj.core.api.Assertions.catchThrowable(() -> run(() -> {
            Event gate = new Event();
            Task<Object> child = Coro.spawn(() -> {
                gate.await();
                throw new IllegalStateException("failed after the await gave up");
            });
            CompletableFuture<Object> view = child.toCompletableFuture();
            CompletableFuture<Object> plain = new CompletableFuture<>();
            Event viewAwaited = new Event();
            Event plainAwaited = new Event();
            // Each awaits right after setting its event, without suspending in between: cancelled
            // from then on, the cancellation comes in its await, whether it has parked yet or not.
            Task<Object> awaitsView = Coro.spawn(() -> {
                viewAwaited.set();
                return Coro.await(view);
            });
            Task<Object> awaitsPlain = Coro.spawn(() -> {
                plainAwaited.set();
                return Coro.await(plain);
            });
            viewAwaited.await();
            plainAwaited.await();
            awaitsView.cancel();
            awaitsPlain.cancel();
            until("both awaits ended", () -> awaitsView.isDone() && awaitsPlain.isDone());
            seen.add("awaits cancelled: " + awaitsView.isCancelled() + ", " + awaitsPlain.isCancelled());
            seen.add("plain future cancelled: " + plain.isCancelled());
            seen.add("view done: " + view.isDone() + ", task done: " + child.isDone());
            gate.set();
            until("the task has ended", child::isDone);
            Throwable shown = view.handle((v, e) -> e).join();
            seen.add("view shows: " + shown.getMessage());
            return "parent returned";
        }));
        assertThat(seen).containsExactly("awaits cancelled: true, true", "plain future cancelled: true",
                "view done: false, task done: false", "view shows: failed after the await gave up");
        assertThat(parent).isExactlyInstanceOf(IllegalStateException.class).hasMessage("failed after the await gave up");
    }

    /**
     * A task that fails with a CompletionException of its own: the task's get and exceptionNow, and
     * its view's get, exceptionNow and join (as the cause), hand out that exception, not its cause as
     * a CompletableFuture whose computation threw it would; the view's callbacks see it wrapped once
     * more, as Task#toCompletionStage's javadoc says.
     */
    @Test
    void aTasksOwnCompletionExceptionIsWhatItsFutureAndViewHandOut_itsViewsCallbacksSeeItWrapped() throws Exception {
        CompletionException mine = new CompletionException("mine", new IllegalArgumentException("inner"));
        List<Object> seen = run(() -> {
            Task<Object> t = Coro.spawn(() -> {
                throw mine;
            });
            CompletableFuture<Object> view = t.toCompletableFuture();
            until("the task has ended", t::isDone);
            List<Object> out = new ArrayList<>();
            out.add(org.assertj.core.api.Assertions.catchThrowable(t::get).getCause());
            out.add(t.exceptionNow());
            out.add(org.assertj.core.api.Assertions.catchThrowable(view::get).getCause());
            out.add(view.exceptionNow());
            out.add(org.assertj.core.api.Assertions.catchThrowable(view::join).getCause());
            Throwable handled = view.handle((v, e) -> e).join();
            out.add(handled == mine ? "not wrapped" : handled.getCause());
            return out;
        });
        assertThat(seen).as("task get, task exceptionNow, view get, view exceptionNow, view join, view handle's wrapper")
                .hasSize(6).allMatch(e -> e == mine);
        CompletableFuture<Object> jdk = CompletableFuture.supplyAsync(() -> {
            throw mine;
        }, Runnable::run);
        assertThat(jdk.exceptionNow()).as("the JDK, for contrast").isSameAs(mine.getCause());
    }

    /**
     * Future#cancel of a task is cooperative, as Task#cancel(boolean)'s javadoc says: it returns
     * true while the task runs, but isDone and isCancelled turn true only when the task ends
     * cancelled (here: once a shield it is in ends); a call after that returns false, as
     * FutureTask's does, where CompletableFuture's returns true.
     */
    @Test
    void cancelOfATaskIsCooperative_isDoneAndIsCancelledTurnTrueWhenItEnds_aLaterCancelReturnsFalse() {
        List<String> seen = run(() -> {
            Event inShield = new Event();
            Event leave = new Event();
            Task<Object> t = Coro.spawn(() -> {
                Coro.shielded(() -> {
                    inShield.set();
                    leave.await();
                    return null;
                });
                Coro.checkCancelled(); // the cancellation comes here
                return "not cancelled";
            });
            inShield.await();
            List<String> out = new ArrayList<>();
            out.add("cancel(true): " + t.cancel(true) + ", again: " + t.cancel(false) + ", done: " + t.isDone()
                    + ", cancelled: " + t.isCancelled() + ", state: " + t.state());
            leave.set();
            until("the task has ended", t::isDone);
            out.add("ended: cancelled: " + t.isCancelled() + ", state: " + t.state() + ", cancel: " + t.cancel(true));
            CompletableFuture<Object> jdk = new CompletableFuture<>();
            jdk.cancel(false);
            out.add("a cancelled CompletableFuture's cancel: " + jdk.cancel(true));
            return out;
        });
        assertThat(seen).containsExactly("cancel(true): true, again: true, done: false, cancelled: false, state: RUNNING",
                "ended: cancelled: true, state: CANCELLED, cancel: false",
                "a cancelled CompletableFuture's cancel: true");
    }

    /**
     * Coro.await of a task's own view, or of a view of a task it runs under, is refused only while
     * neither the view nor the task is done (it would wait forever), as Coro.await's javadoc says: a
     * view its holder has completed returns what it holds, as a CompletableFuture would. The task's
     * own was refused whatever the view held.
     */
    @Test
    void awaitingItsOwnViewOrItsParentsThatAHolderCompletedReturnsWhatItHolds_notDoneIsRefused() {
        List<String> seen = run(() -> {
            List<String> out = new ArrayList<>();
            CompletableFuture<Task<Object>> me = new CompletableFuture<>();
            Task<Object> self = Coro.spawn(() -> {
                Task<Object> t = Coro.await(me);
                CompletableFuture<Object> notDone = t.toCompletableFuture();
                out.add("own, not done: " + outcome(() -> Coro.await(notDone)));
                CompletableFuture<Object> completed = t.toCompletableFuture();
                completed.complete("the holder's");
                out.add("own, completed by its holder: " + outcome(() -> Coro.await(completed)));
                CompletableFuture<Object> cancelled = t.toCompletableFuture();
                cancelled.cancel(false);
                out.add("own, cancelled by its holder: " + outcome(() -> Coro.await(cancelled)));
                Coro.spawn(() -> {
                    out.add("its parent's, not done: " + outcome(() -> Coro.await(notDone)));
                    out.add("its parent's, completed by its holder: " + outcome(() -> Coro.await(completed)));
                    return null;
                }).join();
                return "self returned";
            });
            me.complete(self);
            out.add(self.join().toString());
            return out;
        });
        assertThat(seen).containsExactly("own, not done: !IllegalStateException",
                "own, completed by its holder: =the holder's",
                "own, cancelled by its holder: !CancellationException",
                "its parent's, not done: !IllegalStateException",
                "its parent's, completed by its holder: =the holder's",
                "self returned");
    }

    /** Applies {@code op} to {@code f} twice, as a holder would, and says what each call returned. */
    private static String holderCompletes(CompletableFuture<Object> f, String op) {
        List<String> returned = new ArrayList<>();
        for (int call = 1; call <= 2; call++) {
            String value = "holder's " + call;
            returned.add(switch (op) {
                case "completeExceptionally" -> outcome(() -> f.completeExceptionally(new IOException(value)));
                case "obtrudeValue" -> outcome(() -> {
                    f.obtrudeValue(value);
                    return "void";
                });
                case "obtrudeException" -> outcome(() -> {
                    f.obtrudeException(new IOException(value));
                    return "void";
                });
                default -> outcome(() -> f.completeAsync(() -> value, Runnable::run) == f);
            });
        }
        return returned + ", then " + outcome(() -> f.getNow("not done")) + ", state " + f.state();
    }

    /**
     * Each toCompletableFuture() is a copy of its own: a holder's completeExceptionally,
     * obtrudeValue, obtrudeException or completeAsync of one answers as on a CompletableFuture (what
     * each call returns, what the view then holds), and touches neither the task nor its other
     * views, which show the task's outcome at its end (and so observe its failure: the group does
     * not report it). Without another view, the task's failure, which the completed view will never
     * show, is its group's to report: nothing is lost.
     */
    @Test
    void aHolderCompletingOneViewAnswersAsTheJdkAndLeavesTheTaskAndItsOtherViewsAlone() {
        for (String op : List.of("completeExceptionally", "obtrudeValue", "obtrudeException", "completeAsync")) {
            for (boolean otherView : new boolean[] {true, false}) {
                List<String> seen = new ArrayList<>();
                Object parent;
                try {
                    parent = run(() -> {
                        Event gate = new Event();
                        Task<Object> child = Coro.spawn(() -> {
                            gate.await();
                            throw new IllegalStateException("failed after a view was completed");
                        });
                        CompletableFuture<Object> completed = child.toCompletableFuture();
                        CompletableFuture<Object> other = otherView ? child.toCompletableFuture() : null;
                        String jdk = holderCompletes(new CompletableFuture<>(), op);
                        String view = holderCompletes(completed, op);
                        seen.add(view.equals(jdk) ? "as the JDK" : "view: " + view + "; jdk: " + jdk);
                        seen.add("task done: " + child.isDone());
                        if (other != null) {
                            seen.add("copies: " + (completed != other) + ", other view done: " + other.isDone());
                        }
                        gate.set();
                        if (other != null) {
                            seen.add("other view shows: " + other.handle((v, e) -> e.getMessage()).join());
                        }
                        return "parent returned";
                    });
                } catch (IllegalStateException e) {
                    parent = "parent failed: " + e.getMessage();
                }
                List<String> expected = new ArrayList<>(List.of("as the JDK", "task done: false"));
                if (otherView) {
                    expected.add("copies: true, other view done: false");
                    expected.add("other view shows: failed after a view was completed");
                }
                assertThat(seen).as("%s, other view: %s", op, otherView).isEqualTo(expected);
                assertThat(parent).as("%s, other view: %s", op, otherView).isEqualTo(otherView ? "parent returned"
                        : "parent failed: failed after a view was completed");
            }
        }
    }

    /** {@code view}'s outcome read with {@code way} (join, get, a timed get), or what that threw. */
    private static String read(CompletableFuture<String> view, String way) {
        try {
            return switch (way) {
                case "join" -> view.join();
                case "get" -> view.get();
                default -> view.get(5, TimeUnit.SECONDS);
            };
        } catch (Exception e) {
            return "threw " + e;
        }
    }

    /**
     * The views of a task taken before its end are completed one after another on the thread where
     * it ends, each running its callbacks there. A callback of one that reads another with its
     * blocking join or get, which completes a view a task has ended, gets the task's outcome at
     * once, as it would from a CompletableFuture completed as the task was; it did not return: it
     * waited for the end to complete the other view next, on the thread it blocked (a carrier on
     * threadpool, the ended task's virtual thread on loom), and the task's parent waited for ever.
     */
    @Test
    void aViewReadInACallbackOfAnotherViewOfTheSameTaskGivesTheOutcomeAtOnce() throws Exception {
        // Bounded: before the fix the end's thread waited for ever, and the parent with it.
        List<String> got = runTask(Duration.ofSeconds(10), () -> {
            List<String> out = new ArrayList<>();
            for (String way : List.of("join", "get", "get(5 s)")) {
                Event gate = new Event();
                Task<String> t = Coro.spawn(() -> {
                    gate.await();
                    return "value";
                });
                CompletableFuture<String> a = t.toCompletableFuture();
                CompletableFuture<String> b = t.toCompletableFuture();
                // Each reads the other: whichever the end completes first finds the other not yet done.
                CompletableFuture<String> readsB = a.thenApply(v -> read(b, way));
                CompletableFuture<String> readsA = b.thenApply(v -> read(a, way));
                long start = System.nanoTime();
                gate.set();
                out.add(way + ": " + Coro.await(readsA) + ", " + Coro.await(readsB)
                        + (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(4) ? "" : " (after a wait)"));
            }
            return out;
        });
        assertThat(got).isEqualTo(List.of("join: value, value", "get: value, value", "get(5 s): value, value"));
    }
}
