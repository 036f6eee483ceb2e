package verticles.common;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Who a piece of work is for: the request id, the caller and the idempotency key, kept on the
 * Vert.x duplicated context that carries one HTTP request or one bus message. Log lines read the
 * request id from here, so every line written while handling a request names that request, on
 * whichever node and verticle the work lands.
 */
public final class RequestContext {

  private static final String REQUEST_ID_KEY = "pulse.request-id";
  private static final String CALLER_KEY = "pulse.caller";
  private static final String IDEMPOTENCY_KEY = "pulse.idempotency-key";

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

  /** The current request's idempotency key, or null when it has none. */
  public static String idempotencyKey() {
    return get(IDEMPOTENCY_KEY);
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

  public static void bindIdempotencyKey(String key) {
    put(IDEMPOTENCY_KEY, key);
  }

  private static <T> T get(String key) {
    Context context = Vertx.currentContext();
    if (!(context instanceof ContextInternal internal) || !internal.isDuplicate()) {
      return null;
    }
    return internal.getLocal(key);
  }

  private static void put(String key, Object value) {
    Context context = Vertx.currentContext();
    if (context instanceof ContextInternal internal && internal.isDuplicate()) {
      if (value == null) {
        internal.removeLocal(key);
      } else {
        internal.putLocal(key, value);
      }
    }
  }

  /**
   * A future completed on someone else's behalf (a batch written for many requests, a load
   * shared by several), seen from the current request: what follows it runs on this request's
   * context, with this request's id and caller, not on the context of whoever completed it.
   */
  public static <T> Future<T> here(Future<T> shared) {
    Context context = Vertx.currentContext();
    if (!(context instanceof ContextInternal internal)) {
      return shared;
    }
    Promise<T> mine = internal.promise();
    shared.onComplete(mine);
    return mine.future();
  }

  /**
   * Accepts a caller's id when it is short and plain; otherwise makes a new one: a random
   * (version 4) UUID from the thread's own generator. A request id names a request in logs; it
   * guards nothing, so it needs no secure random (which takes a lock per id).
   */
  public static String acceptOrCreate(String offered) {
    if (offered != null && plain(offered)) {
      return offered;
    }
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long high = random.nextLong() & ~0xF000L | 0x4000L;
    long low = random.nextLong() & 0x3FFFFFFFFFFFFFFFL | 0x8000000000000000L;
    return new UUID(high, low).toString();
  }

  /** 1 to 128 letters, digits and {@code . _ : -}. */
  private static boolean plain(String id) {
    if (id.isEmpty() || id.length() > 128) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
