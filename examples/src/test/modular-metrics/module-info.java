/** A user's program that meters coro4j with Micrometer on the module path; ModulePathTest compiles and runs it. */
module io.coro4j.examples.modular.metrics {
    requires io.coro4j.metrics;
    requires io.coro4j.http;
    requires jdk.httpserver;
    // An automatic module (Micrometer's jars have no descriptor, only an Automatic-Module-Name).
    requires micrometer.registry.prometheus;
}
