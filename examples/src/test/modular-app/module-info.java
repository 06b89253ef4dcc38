/** A user's program on the module path; ModulePathTest compiles and runs it. */
module io.coro4j.examples.modular {
    requires io.coro4j;
}
