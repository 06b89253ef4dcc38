package io.coro4j.examples;

import io.coro4j.Coro;
import io.coro4j.Schedulers;
import io.coro4j.Task;
import io.coro4j.spi.Scheduler;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by {@link AutomaticModuleNamesTest} in a child JVM with coro4j on the module path: prints
 * which modules the API and the scheduler it found came from, and what a gather of three tasks gave.
 */
public final class ModulePathProgram {

    private ModulePathProgram() {}

    public static void main(String[] args) {
        Scheduler scheduler = Schedulers.defaultScheduler();
        System.out.println("api in module " + Coro.class.getModule().getName());
        System.out.println("scheduler " + scheduler.kind() + " in module " + scheduler.getClass().getModule().getName());
        List<Integer> squares = Coro.run(() -> {
            List<Task<Integer>> tasks = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                int n = i;
                tasks.add(Coro.spawn(() -> n * n));
            }
            return Coro.gather(tasks);
        });
        System.out.println("gathered " + squares);
    }
}
