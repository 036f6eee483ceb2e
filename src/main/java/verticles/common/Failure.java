package verticles.common;

import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;

import java.io.IOException;
import java.util.concurrent.TimeoutException;

/**
 * The failures a bus reply can carry: each has the one HTTP status it becomes, a problem type
 * a client can act on, and whether trying again later may succeed (the dispatcher retries only
 * those). Services fail with {@link #exception} or {@link #invalid}; the HTTP edge maps them in
 * one place (http.Problem).
 */
public enum Failure {
  VALIDATION(1, 400, false, "validation", "The request is invalid"),
  UNAUTHORIZED(2, 401, false, "unauthorized", "Unauthorized"),
  FORBIDDEN(3, 403, false, "forbidden", "Forbidden"),
  NOT_FOUND(4, 404, false, "not-found", "Not found"),
  CONFLICT(5, 409, false, "conflict", "Conflict"),
  INSUFFICIENT_FUNDS(6, 422, false, "insufficient-funds", "Insufficient funds"),
  UNAVAILABLE(7, 503, true, "unavailable", "Service unavailable"),
  INTERNAL(8, 500, true, "internal", "Internal error"),
  /** The same Idempotency-Key was sent before with a different request. */
  IDEMPOTENCY_KEY_REUSED(9, 409, false, "idempotency-key-reused", "Idempotency key reused"),
  /** The thing exists but its state forbids the action (cancel a finished task, reverse twice). */
  WRONG_STATE(10, 409, false, "wrong-state", "Not allowed in the current state"),
  /** A unique name (username, email, sku) belongs to someone else. */
  TAKEN(11, 409, false, "taken", "Already taken"),
  /** Not enough stock for the quantity ordered. */
  OUT_OF_STOCK(12, 409, false, "out-of-stock", "Out of stock"),
  /** If-Match named a version that has moved on: read it again, then change it. */
  VERSION_MOVED(13, 412, false, "version-moved", "Changed meanwhile");

  public final int code;
  public final int httpStatus;
  public final boolean retryable;
  /** The problem's {@code type}, {@code /problems/<slug>}. */
  public final String type;
  public final String title;

  Failure(int code, int httpStatus, boolean retryable, String slug, String title) {
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
    this.type = "/problems/" + slug;
    this.title = title;
  }

  /** The exception to fail a reply with. */
  public ServiceFailure exception(String message) {
    return new ServiceFailure(code, message, null);
  }

  /** A validation failure naming one field; the field travels as data, for the problem's {@code errors}. */
  public static ServiceFailure invalid(String field, String message) {
    JsonArray errors = new JsonArray().add(new JsonObject().put("field", field).put("message", message));
    return new ServiceFailure(VALIDATION.code, field + ": " + message, new JsonObject().put("errors", errors));
  }

  /**
   * What went wrong with a request, whatever failed it: a handler's coded failure; the bus
   * itself (no handler, timeout) or a server that cannot be reached, which mean "unavailable for
   * now"; anything else is internal.
   */
  public static Failure of(Throwable error) {
    if (error instanceof ReplyException reply) {
      if (reply.failureType() != ReplyFailure.RECIPIENT_FAILURE) {
        return UNAVAILABLE;
      }
      for (Failure failure : values()) {
        if (failure.code == reply.failureCode()) {
          return failure;
        }
      }
      return INTERNAL;
    }
    return isOutage(error) ? UNAVAILABLE : INTERNAL;
  }

  /**
   * A dependency that cannot answer now (refused or lost connection, a pool or request timing
   * out, PostgreSQL shutting down, starting up or out of connections), as opposed to a bug.
   */
  static boolean isOutage(Throwable error) {
    for (Throwable cause = error; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
      if (cause instanceof IOException || cause instanceof TimeoutException) {
        return true;
      }
      if (cause instanceof PgException pg && pg.getSqlState() != null) {
        String state = pg.getSqlState();
        if (state.startsWith("08") || state.startsWith("53") || state.startsWith("57P")) {
          return true;
        }
      }
      String name = cause.getClass().getSimpleName();
      String message = String.valueOf(cause.getMessage()).toLowerCase(java.util.Locale.ROOT);
      if (name.contains("ClosedConnection") || name.contains("Timeout") || message.contains("connection closed")
        || message.contains("connection_closed")
        || message.contains("connection refused") || message.contains("connection reset") || message.contains("pool closed")
        || message.contains("connection is closed") || message.contains("timeout")
        // Redis in a failover: a replica refusing writes, no master yet, no Sentinel reachable.
        || message.startsWith("readonly") || message.startsWith("masterdown") || message.startsWith("loading")
        || message.contains("cannot connect to any of the provided endpoints")) {
        return true;
      }
    }
    return false;
  }
}
