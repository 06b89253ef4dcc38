package io.coro4j.channel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.coro4j.internal.TaskHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;

/**
 * {@link Waiter#await} when the park throws: before the waiter was completed the operation had no
 * effect and the exception comes out; after, the operation took effect and must be reported as
 * done, or the item handed over, the permit or the lock granted is lost. The park here is a stub
 * that lets a completer run (as another thread would, in the window before the park fails), then
 * throws.
 */
class WaiterTest {

    private final ReentrantLock lock = new ReentrantLock();
    private final WaitQueue queue = new WaitQueue();

    /** A waiter linked in {@link #queue} whose first park runs {@code meanwhile}, then throws {@code thrown}. */
    private Waiter waiter(Runnable meanwhile, Throwable thrown) {
        Waiter w = new Waiter(new TaskHandle() {
            @Override
            public void checkCancelled() {}

            @Override
            public void park() {
                meanwhile.run();
                throwUnchecked(thrown);
            }

            @Override
            public void parkNanos(long nanos) {
                park();
            }

            @Override
            public void parkUninterruptibly() {
                park();
            }

            @Override
            public void wake() {}
        }, null);
        queue.addLast(w);
        return w;
    }

    /** What a receiver's counterpart does under the lock: hands {@code item} to the first waiter. */
    private void handOver(Object item) {
        lock.lock();
        try {
            Waiter w = queue.pollFirst();
            w.value = item;
            w.state = Waiter.DONE;
        } finally {
            lock.unlock();
        }
    }

    @Test
    void aParkThatCannotSuspendAfterTheHandOverReturnsDone_theItemIsNotLost() {
        IllegalStateException cannotSuspend = new IllegalStateException("this fiber cannot suspend here");
        Waiter w = waiter(() -> handOver("item"), cannotSuspend);
        assertThat(Waiter.await(lock, queue, w)).isEqualTo(Waiter.DONE);
        assertThat(w.value).isEqualTo("item");
        assertThat(queue.isEmpty()).isTrue();
    }

    @Test
    void aCancellationAfterTheHandOverReturnsDone() {
        Waiter w = waiter(() -> handOver("item"), new CancellationException("cancelled"));
        assertThat(Waiter.await(lock, queue, w)).isEqualTo(Waiter.DONE);
        assertThat(w.value).isEqualTo("item");
    }

    @Test
    void aCloseBeforeAParkThatCannotSuspendReturnsClosed() {
        Waiter w = waiter(() -> {
            lock.lock();
            try {
                Waiter.wakeAll(queue.drainInto(null, Waiter.CLOSED));
            } finally {
                lock.unlock();
            }
        }, new IllegalStateException("this fiber cannot suspend here"));
        assertThat(Waiter.await(lock, queue, w)).isEqualTo(Waiter.CLOSED);
    }

    @Test
    void aParkThatThrowsWhileStillWaitingUnlinksTheWaiterAndRethrows() {
        IllegalStateException cannotSuspend = new IllegalStateException("this fiber cannot suspend here");
        Waiter first = waiter(() -> {}, cannotSuspend);
        Waiter second = waiter(() -> {}, cannotSuspend);
        assertThatThrownBy(() -> Waiter.await(lock, queue, first)).isSameAs(cannotSuspend);
        assertThat(first.state).isEqualTo(Waiter.CANCELLED);
        assertThat(queue.size()).isEqualTo(1);
        assertThat(queue.pollFirst()).as("the one behind it is next").isSameAs(second);
    }

    @Test
    void anErrorAfterTheHandOverIsRethrown() {
        StackOverflowError error = new StackOverflowError();
        Waiter w = waiter(() -> handOver("item"), error);
        assertThatThrownBy(() -> Waiter.await(lock, queue, w)).isSameAs(error);
    }

    /**
     * {@link WaitQueue#drainInto} then {@link Waiter#wakeAll} (Event.set, Channel.close) wake the
     * waiters first come, first served, as every other hand-over does, and then the chain that
     * was passed in.
     */
    @Test
    void aDrainedQueueIsWokenInArrivalOrderBeforeTheChainItPrecedes() {
        List<String> woken = new ArrayList<>();
        WaitQueue other = new WaitQueue();
        for (String name : List.of("x", "y")) {
            other.addLast(new Waiter(waking(name, woken), null));
        }
        for (String name : List.of("a", "b", "c")) {
            queue.addLast(new Waiter(waking(name, woken), null));
        }
        lock.lock();
        Waiter chain;
        try {
            chain = queue.drainInto(other.drainInto(null, Waiter.CLOSED), Waiter.CLOSED);
        } finally {
            lock.unlock();
        }
        Waiter.wakeAll(chain);
        assertThat(woken).containsExactly("a", "b", "c", "x", "y");
        assertThat(queue.isEmpty()).isTrue();
        assertThat(other.isEmpty()).isTrue();
    }

    private static TaskHandle waking(String name, List<String> woken) {
        return new TaskHandle() {
            @Override
            public void checkCancelled() {}

            @Override
            public void park() {}

            @Override
            public void parkNanos(long nanos) {}

            @Override
            public void parkUninterruptibly() {}

            @Override
            public void wake() {
                woken.add(name);
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void throwUnchecked(Throwable t) throws E {
        throw (E) t;
    }
}
