package verticles.http;

import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Failure;
import verticles.common.RequestContext;
import verticles.common.ServiceFailure;

/**
 * RFC 9457 problem details: every error Pulse sends over HTTP is one of these, built here and
 * only here. A service's failure keeps its own type (insufficient funds, a reused idempotency
 * key...), so a client can act on it; the edge's own refusals are typed by status. A 5xx never
 * carries the cause's text (the log has it, under the request id); a 503 says when to retry.
 */
final class Problem {

  /** Seconds a client should wait after a 503. */
  static final String RETRY_AFTER_SECONDS = "1";

  private Problem() {
  }

  /** Answers with the status, type and details of a bus failure. */
  static void fail(RoutingContext rc, Throwable error) {
    Failure failure = Failure.of(error);
    String detail = failure.httpStatus >= 500 ? null : error.getMessage();
    JsonObject body = body(rc, failure.httpStatus, failure.type, failure.title, detail);
    if (error instanceof ServiceFailure coded && coded.details() != null) {
      body.mergeIn(coded.details());
    }
    write(rc, body);
  }

  /** 400 listing each field that failed validation. */
  static void invalid(RoutingContext rc, JsonArray errors) {
    write(rc, body(rc, 400, Failure.VALIDATION.type, Failure.VALIDATION.title, "the request is invalid; see errors").put("errors", errors));
  }

  /** A refusal of the edge itself (no route, too large, rate limited...). */
  static void send(RoutingContext rc, int status, String detail) {
    write(rc, body(rc, status, null, null, detail));
  }

  /**
   * Whether the request has been answered already (its deadline passed, see EdgeTimeouts) or its
   * client has gone: a step that resumes after waiting checks this before it goes on or writes.
   */
  static boolean answered(RoutingContext rc) {
    return rc.response().ended() || rc.response().closed();
  }

  private static void write(RoutingContext rc, JsonObject body) {
    if (answered(rc)) {
      return;
    }
    HttpServerResponse response = rc.response();
    int status = body.getInteger("status");
    if (status == 401) {
      response.putHeader("WWW-Authenticate", "Bearer realm=\"pulse\"");
    }
    if (status == 503 && !response.headers().contains("Retry-After")) {
      response.putHeader("Retry-After", RETRY_AFTER_SECONDS);
    }
    response.setStatusCode(status).putHeader("Content-Type", "application/problem+json").end(body.encode());
  }

  /** The body for a status, as JSON text (also for answers written outside a router, see HttpVerticle). */
  static String text(int status, String path, String requestId, String detail) {
    return new JsonObject().put("type", "/problems/" + slug(status)).put("title", title(status)).put("status", status)
      .put("detail", detail != null ? detail : title(status)).put("instance", path).put("request_id", requestId).encode();
  }

  private static JsonObject body(RoutingContext rc, int status, String type, String title, String detail) {
    String shownTitle = title != null ? title : title(status);
    return new JsonObject()
      .put("type", type != null ? type : "/problems/" + slug(status))
      .put("title", shownTitle)
      .put("status", status)
      .put("detail", detail != null ? detail : shownTitle)
      .put("instance", rc.request().path())
      .put("request_id", RequestContext.requestId());
  }

  private static String title(int status) {
    return switch (status) {
      case 400 -> "Bad request";
      case 401 -> "Unauthorized";
      case 403 -> "Forbidden";
      case 404 -> "Not found";
      case 405 -> "Method not allowed";
      case 408 -> "Request timeout";
      case 409 -> "Conflict";
      case 412 -> "Precondition failed";
      case 413 -> "Payload too large";
      case 414 -> "URI too long";
      case 415 -> "Unsupported media type";
      case 422 -> "Unprocessable content";
      case 428 -> "Precondition required";
      case 429 -> "Too many requests";
      case 431 -> "Request header fields too large";
      case 503 -> "Service unavailable";
      default -> status >= 500 ? "Internal error" : "Request failed";
    };
  }

  private static String slug(int status) {
    return title(status).toLowerCase().replace(' ', '-');
  }
}
