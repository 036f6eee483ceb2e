package verticles.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Failure;

/**
 * The original Retail Pulse endpoints, byte for byte as its clients expect them:
 * {@code POST /api/submit/} → 201 {@code {"job_id": <number>}} or 400 {@code {"error": "..."}};
 * {@code GET /api/status?jobid=} → 200 {@code {"status", "job_id": "<string>"}} (plus
 * {@code error} when failed) or 400 {@code {}}. No token unless RETAIL_REQUIRE_TOKEN; limited per
 * client IP. Hostile input is refused as everywhere else (JsonInput), in the contract's shape.
 */
final class RetailContract {

  private final Vertx vertx;
  private final long timeoutMs;

  RetailContract(Vertx vertx, long timeoutMs) {
    this.vertx = vertx;
    this.timeoutMs = timeoutMs;
  }

  /** {@code before}: the rate limit, then authentication when a token is required. */
  @SafeVarargs
  final void mount(Router router, Handler<RoutingContext>... before) {
    for (String path : new String[] {"/api/submit", "/api/submit/"}) {
      var route = router.post(path);
      for (Handler<RoutingContext> handler : before) {
        route.handler(handler);
      }
      route.handler(this::submit);
    }
    var status = router.get("/api/status");
    for (Handler<RoutingContext> handler : before) {
      status.handler(handler);
    }
    status.handler(this::status);
  }

  private void submit(RoutingContext rc) {
    if (rc.body().buffer() == null || rc.body().buffer().length() == 0) {
      error(rc, 400, "body: a JSON object with count and visits is required");
      return;
    }
    JsonInput.Parsed parsed = JsonInput.parse(rc.body().buffer().getBytes());
    if (parsed.refusal() != null) {
      error(rc, 400, parsed.refusal().field() + ": " + parsed.refusal().message());
      return;
    }
    if (!parsed.tree().isObject()) {
      error(rc, 400, "body: must be a JSON object with count and visits");
      return;
    }
    JsonObject body = (JsonObject) Json.decodeValue(rc.body().buffer());
    Bus.<JsonObject>request(vertx, Addresses.Jobs.SUBMIT, body, timeoutMs)
      .onSuccess(reply -> answer(rc, 201, new JsonObject().put("job_id", reply.body().getLong("id"))))
      .onFailure(failure -> {
        Failure kind = Failure.of(failure);
        error(rc, kind.httpStatus, kind.httpStatus >= 500 ? "try again shortly" : failure.getMessage());
      });
  }

  private void status(RoutingContext rc) {
    long id;
    try {
      id = Long.parseLong(rc.queryParams().get("jobid"));
    } catch (NumberFormatException e) {
      answer(rc, 400, new JsonObject());  // missing, empty, not a number, or beyond 64 bits
      return;
    }
    Bus.<JsonObject>request(vertx, Addresses.Jobs.STATUS, new JsonObject().put("id", id), timeoutMs)
      .onSuccess(reply -> answer(rc, 200, reply.body()))
      .onFailure(failure -> {
        Failure kind = Failure.of(failure);
        answer(rc, kind == Failure.NOT_FOUND ? 400 : kind.httpStatus, new JsonObject());
      });
  }

  private static void error(RoutingContext rc, int status, String message) {
    answer(rc, status, new JsonObject().put("error", message));
  }

  private static void answer(RoutingContext rc, int status, JsonObject body) {
    if (Problem.answered(rc)) {
      return;
    }
    if (status == 503) {
      rc.response().putHeader("Retry-After", Problem.RETRY_AFTER_SECONDS);
    }
    rc.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }
}
