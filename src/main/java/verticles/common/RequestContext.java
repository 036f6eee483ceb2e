package verticles.common;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;

import java.util.UUID;

/**
 * Who a piece of work is for: the request id (and, later, the caller) kept on the Vert.x
 * duplicated context that carries one HTTP request or one bus message. Log lines read it from
 * here, so every line written while handling a request names that request, on whichever
 * node and verticle the work lands.
 */
public final class RequestContext {

  public static final String REQUEST_ID_HEADER = "x-request-id";
  public static final String USER_ID_HEADER = "x-user-id";
  public static final String ROLES_HEADER = "x-roles";

  private static final String REQUEST_ID_KEY = "pulse.request-id";
  private static final String CALLER_KEY = "pulse.caller";

  private RequestContext() {
  }

  /** The current request id, or null outside a request. */
  public static String requestId() {
    return get(REQUEST_ID_KEY);
  }

  /** Who the current request is for, or null when it is anonymous. */
  public static Caller caller() {
    return get(CALLER_KEY);
  }

  /**
   * Binds a request id to the current duplicated context. A root (shared) context is refused:
   * data put there would leak into every later request on that event loop.
   */
  public static void bindRequestId(String requestId) {
    put(REQUEST_ID_KEY, requestId);
  }

  public static void bindCaller(Caller caller) {
    put(CALLER_KEY, caller);
  }

  private static <T> T get(String key) {
    Context context = Vertx.currentContext();
    if (!(context instanceof ContextInternal) || !((ContextInternal) context).isDuplicate()) {
      return null;
    }
    return ((ContextInternal) context).getLocal(key);
  }

  private static void put(String key, Object value) {
    Context context = Vertx.currentContext();
    if (context instanceof ContextInternal && ((ContextInternal) context).isDuplicate()) {
      if (value == null) {
        ((ContextInternal) context).removeLocal(key);
      } else {
        ((ContextInternal) context).putLocal(key, value);
      }
    }
  }

  /** Accepts a caller's id when it is short and plain; otherwise makes a new one. */
  public static String acceptOrCreate(String offered) {
    if (offered != null && offered.length() <= 128 && offered.matches("[A-Za-z0-9._:\\-]+")) {
      return offered;
    }
    return UUID.randomUUID().toString();
  }
}
