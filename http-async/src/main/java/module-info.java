/** An HTTP client whose calls suspend the calling task, on {@code java.net.http}. */
module io.coro4j.http {
    requires transitive io.coro4j;
    requires transitive java.net.http;

    exports io.coro4j.http;
}
