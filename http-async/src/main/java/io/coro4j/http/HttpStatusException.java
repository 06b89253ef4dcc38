package io.coro4j.http;

/**
 * Thrown by {@link Response#raiseForStatus()} for a response with a 4xx or 5xx status; carries the
 * status, the URL and the whole response (its body may explain the error). Immutable.
 */
public final class HttpStatusException extends HttpRequestException {
    private static final long serialVersionUID = 1L;

    /** Kept apart from the response, which is not serialized: a deserialized copy still has it. */
    private final int status;
    private final transient Response response;

    HttpStatusException(Response response) {
        super(response.request().method(), response.request().url(),
                "HTTP status " + response.status() + (response.status() >= 500 ? " (server error)" : " (client error)"), null);
        this.status = response.status();
        this.response = response;
    }

    /** The status code, 400 to 599. */
    public int status() {
        return status;
    }

    /** The response; {@code null} after deserialization. */
    public Response response() {
        return response;
    }
}
