/** A user's program that fetches over HTTP on the module path; ModulePathTest compiles and runs it. */
module io.coro4j.examples.modular.http {
    requires io.coro4j.http;
    requires jdk.httpserver;
}
