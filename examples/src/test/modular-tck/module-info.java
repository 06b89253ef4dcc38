/**
 * A scheduler author's tests as a named module: the kit's suites extended for a scheduler and run
 * through the JUnit Platform launcher on the module path; ModulePathTest compiles and runs it.
 * Open, so that JUnit reaches the test classes.
 */
open module io.coro4j.examples.modular.tck {
    requires io.coro4j.tck;
    requires org.junit.platform.launcher;
}
