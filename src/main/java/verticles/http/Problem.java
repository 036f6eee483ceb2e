package verticles.http;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Failure;
import verticles.common.RequestContext;

/**
 * RFC 9457 problem details: every error Pulse sends over HTTP is one of these, built here
 * and only here. A 5xx never carries the cause's text; the log has it, under the request id.
 */
final class Problem {

  private Problem() {
  }

  /** Answers with the HTTP status that the bus failure maps to. */
  static void fail(RoutingContext rc, Throwable error) {
    Failure failure = Failure.of(error);
    String message = error.getMessage();
    if (failure == Failure.VALIDATION && message != null && message.startsWith("{")) {
      invalid(rc, new JsonArray().add(new JsonObject(message)));
      return;
    }
    send(rc, failure.httpStatus, failure.httpStatus >= 500 ? null : message);
  }

  /** 400 listing each field that failed validation. */
  static void invalid(RoutingContext rc, JsonArray errors) {
    write(rc, body(rc, 400, "the request is invalid; see errors").put("errors", errors));
  }

  static void send(RoutingContext rc, int status, String detail) {
    write(rc, body(rc, status, detail));
  }

  private static void write(RoutingContext rc, JsonObject body) {
    if (rc.response().ended() || rc.response().closed()) {
      return;
    }
    int status = body.getInteger("status");
    if (status == 401) {
      rc.response().putHeader("WWW-Authenticate", "Bearer realm=\"pulse\"");
    }
    rc.response()
      .setStatusCode(status)
      .putHeader("Content-Type", "application/problem+json")
      .end(body.encode());
  }

  private static JsonObject body(RoutingContext rc, int status, String detail) {
    return new JsonObject()
      .put("type", "/problems/" + slug(status))
      .put("title", title(status))
      .put("status", status)
      .put("detail", detail != null ? detail : title(status))
      .put("instance", rc.request().path())
      .put("request_id", RequestContext.requestId());
  }

  private static String title(int status) {
    switch (status) {
      case 400: return "Bad request";
      case 401: return "Unauthorized";
      case 403: return "Forbidden";
      case 404: return "Not found";
      case 405: return "Method not allowed";
      case 409: return "Conflict";
      case 413: return "Payload too large";
      case 415: return "Unsupported media type";
      case 422: return "Unprocessable content";
      case 429: return "Too many requests";
      case 503: return "Service unavailable";
      default: return status >= 500 ? "Internal error" : "Request failed";
    }
  }

  private static String slug(int status) {
    return title(status).toLowerCase().replace(' ', '-');
  }
}
