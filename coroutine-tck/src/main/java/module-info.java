/**
 * The conformance kit: abstract JUnit suites a scheduler's tests extend. Open, so that JUnit
 * reaches the suites' test methods on the module path too.
 */
open module io.coro4j.tck {
    requires transitive io.coro4j;
    requires transitive org.junit.jupiter.api;
    requires transitive org.junit.jupiter.params;
    requires org.assertj.core;
    requires com.google.common;

    exports io.coro4j.tck;
}
