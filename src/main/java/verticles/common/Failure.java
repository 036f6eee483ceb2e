package verticles.common;

import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;

/**
 * The failures a bus reply can carry, each with the one HTTP status it becomes and whether
 * trying again later may succeed (the dispatcher retries only those).
 */
public enum Failure {
  VALIDATION(1, 400, false),
  UNAUTHORIZED(2, 401, false),
  FORBIDDEN(3, 403, false),
  NOT_FOUND(4, 404, false),
  CONFLICT(5, 409, false),
  INSUFFICIENT_FUNDS(6, 422, false),
  UNAVAILABLE(7, 503, true),
  INTERNAL(8, 500, true);

  public final int code;
  public final int httpStatus;
  public final boolean retryable;

  Failure(int code, int httpStatus, boolean retryable) {
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
  }

  /** The exception to fail a reply with. */
  public ReplyException exception(String message) {
    return new ReplyException(ReplyFailure.RECIPIENT_FAILURE, code, message);
  }

  /**
   * A validation failure naming one field; the message is JSON
   * ({@code {"field":..., "message":...}}) so the HTTP edge can list it in the problem's errors.
   */
  public static ReplyException invalid(String field, String message) {
    return VALIDATION.exception(new JsonObject().put("field", field).put("message", message).encode());
  }

  /**
   * What went wrong with a request, whatever failed it: a handler's coded failure, or the bus
   * itself (no handler, timeout), which means the service is unavailable for now.
   */
  public static Failure of(Throwable error) {
    if (error instanceof ReplyException) {
      ReplyException reply = (ReplyException) error;
      if (reply.failureType() != ReplyFailure.RECIPIENT_FAILURE) {
        return UNAVAILABLE;
      }
      for (Failure failure : values()) {
        if (failure.code == reply.failureCode()) {
          return failure;
        }
      }
    }
    return INTERNAL;
  }
}
