package verticles.common;

import io.vertx.core.MultiMap;

/** The authenticated user a request acts for: their id and current role. */
public final class Caller {

  public static final String ADMIN = "admin";
  public static final String USER = "user";

  public final long userId;
  public final String role;

  public Caller(long userId, String role) {
    this.userId = userId;
    this.role = role;
  }

  public boolean isAdmin() {
    return ADMIN.equals(role);
  }

  /** May this caller act on {@code userId}'s records? */
  public boolean mayActFor(long userId) {
    return isAdmin() || this.userId == userId;
  }

  /** The caller named in bus delivery headers, or null when there is none. */
  static Caller from(MultiMap headers) {
    String id = headers.get(RequestContext.USER_ID_HEADER);
    if (id == null) {
      return null;
    }
    try {
      return new Caller(Long.parseLong(id), headers.get(RequestContext.ROLES_HEADER));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Succeeds when the current caller is an admin; fails as forbidden otherwise. */
  public static io.vertx.core.Future<Void> requireAdmin(String what) {
    return required().isAdmin() ? io.vertx.core.Future.succeededFuture()
      : io.vertx.core.Future.failedFuture(Failure.FORBIDDEN.exception("only an admin may " + what));
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
