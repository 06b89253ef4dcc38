package io.coro4j.examples.modular;

import io.coro4j.Coro;
import io.coro4j.Generator;
import io.coro4j.Schedulers;
import io.coro4j.Step;
import io.coro4j.Task;
import io.coro4j.channel.Channel;
import io.coro4j.spi.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Spawns and gathers tasks, passes items through a channel and steps a generator, on the
 * scheduler {@code ServiceLoader} finds; prints what it did and which modules it ran in. Exits 3
 * with the message when the scheduler cannot be made.
 */
public final class ModularMain {

    private ModularMain() {}

    public static void main(String[] args) {
        Module api = Coro.class.getModule();
        System.out.println("app " + ModularMain.class.getModule().getName() + ", api " + api.getName()
                + " (internal exported to all: " + api.isExported("io.coro4j.internal") + ")");
        Scheduler scheduler;
        try {
            scheduler = Schedulers.defaultScheduler();
        } catch (IllegalStateException e) {
            System.out.println("failed: " + e.getMessage());
            System.exit(3);
            return;
        }
        System.out.println("scheduler " + scheduler.kind() + " from " + scheduler.getClass().getModule().getName()
                + ", found " + Schedulers.available());
        List<Integer> squares = Coro.run(() -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                int n = i;
                tasks.add(Coro.spawn(() -> {
                    Coro.sleep(Duration.ofMillis(10L * (4 - n))); // the last spawned ends first
                    return n * n;
                }));
            }
            return Coro.gather(tasks);
        });
        System.out.println("gather " + squares);
        List<String> received = Coro.run(() -> {
            Channel<String> ch = Channel.bounded(1);
            Coro.spawn(() -> {
                for (String s : List.of("a", "b", "c")) {
                    ch.send(s);
                }
                ch.close();
                return null;
            });
            List<String> got = new ArrayList<>();
            for (String s : ch) {
                got.add(s);
            }
            return got;
        });
        System.out.println("channel " + received);
        Generator<Integer, Integer, Integer> g = Generator.of(co -> {
            int x = co.yield(1);
            int y = co.yield(x + 10);
            return y + 100;
        });
        int first = g.next().value();
        int second = g.send(first).value();
        Step<Integer, Integer> end = g.send(second);
        System.out.println("generator " + first + ", " + second + ", returned " + end.returnValue());
        // What a scheduler of another module calls first in its shutdown(): reachable from outside
        // coro4j's modules (io.coro4j.internal is not).
        try {
            Scheduler.refuseShutdownOfTheDefault(scheduler);
            System.out.println("default scheduler's shutdown not refused");
        } catch (IllegalStateException e) {
            System.out.println("default scheduler's shutdown refused");
        }
    }
}
