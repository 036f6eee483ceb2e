package verticles.common;

import io.vertx.core.MultiMap;

/**
 * The delivery headers Pulse's messages carry: who a request is for, and what a task delivery
 * is. Bodies carry the request's data; these carry its context.
 */
public final class BusHeaders {

  private BusHeaders() {
  }

  public static final String REQUEST_ID = "x-request-id";
  /** The authenticated caller (a task's owner, for task deliveries). */
  public static final String USER_ID = "x-user-id";
  public static final String ROLES = "x-roles";
  /** Repeats with the same key apply once; a task delivery carries {@code task:<id>}. */
  public static final String IDEMPOTENCY_KEY = "x-idempotency-key";
  /** Task deliveries: the task, its attempt (the fencing token), and the time the handler has. */
  public static final String TASK_ID = "x-task-id";
  public static final String ATTEMPT = "x-attempt";
  public static final String TIMEOUT_MS = "x-timeout-ms";
  /** Task deliveries: the dispatcher's own address, where the receiving node says it has the task. */
  public static final String DISPATCHER = "x-dispatcher";
  /** A reply already encoded as JSON ({@link VersionedJson}): the version its ETag names. */
  public static final String VERSION = "x-version";

  /**
   * The time a task handler has to answer ({@link #TIMEOUT_MS}: the dispatcher already keeps a
   * tenth of the task's timeout for itself), at least a second; {@code fallback} when not said.
   */
  public static long timeoutMs(MultiMap headers, long fallback) {
    String given = headers.get(TIMEOUT_MS);
    try {
      return given == null ? fallback : Math.max(1000, Long.parseLong(given));
    } catch (NumberFormatException e) {
      return fallback;
    }
  }
}
