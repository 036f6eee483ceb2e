package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;

/** The authenticated user a request acts for: their id and current role. */
public record Caller(long userId, String role) {

  public static final String ADMIN = "admin";
  public static final String USER = "user";

  public boolean isAdmin() {
    return ADMIN.equals(role);
  }

  /** May this caller act on {@code userId}'s records? */
  public boolean mayActFor(long userId) {
    return isAdmin() || this.userId == userId;
  }

  /** The caller named in bus delivery headers, or null when there is none. */
  static Caller from(MultiMap headers) {
    String id = headers.get(BusHeaders.USER_ID);
    if (id == null) {
      return null;
    }
    try {
      return new Caller(Long.parseLong(id), headers.get(BusHeaders.ROLES));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Succeeds when the current caller is an admin; fails as forbidden otherwise. */
  public static Future<Void> requireAdmin(String what) {
    return required().isAdmin() ? Future.succeededFuture()
      : Future.failedFuture(Failure.FORBIDDEN.exception("only an admin may " + what));
  }

  /** The current caller; fails as unauthorized when the request is anonymous. */
  public static Caller required() {
    Caller caller = RequestContext.caller();
    if (caller == null) {
      throw Failure.UNAUTHORIZED.exception("authentication required");
    }
    return caller;
  }
}
