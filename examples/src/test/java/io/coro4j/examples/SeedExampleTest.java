package io.coro4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SeedExampleTest {

    @Test
    void printsTheTwoSeedLinesThenHowTheCoroutineEnded() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            SeedExample.run(out);
        }
        assertThat(bytes.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly(
                "Start of coroutine",
                "Coroutine received: 7",
                "Coroutine finished: done=true, returned null (on the threadpool scheduler)");
    }
}
