package verticles.tasks;

import io.vertx.core.json.JsonObject;
import verticles.common.Caller;
import verticles.common.Failure;
import verticles.common.Fields;
import verticles.common.TaskTypes;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.TreeSet;

/**
 * A task as submitted, checked and with every default filled in (the one home of the defaults).
 * The OpenAPI document has already checked each field's shape; this checks what a schema
 * cannot: the type exists, run_at and delay_ms are not both given, and a money move is the
 * caller's own (or an admin's) with exact ids.
 */
record TaskSpec(String type, String queue, int priority, JsonObject payload, int maxAttempts, Backoff backoff, int timeoutMs,
                OffsetDateTime runAt, String idempotencyKey, String notifyAddress) {

  static final String DEFAULT_QUEUE = "default";
  static final int DEFAULT_PRIORITY = 0;
  static final int DEFAULT_MAX_ATTEMPTS = 5;
  static final int DEFAULT_TIMEOUT_MS = 30_000;
  /** The most one ledger.transfer task may move, as for a transfer over HTTP. */
  static final long MOST_MONEY = 1_000_000_000_000_000L;

  /**
   * Reads {@code json} for {@code caller}; failures name fields with {@code prefix} (e.g.
   * "tasks.3."). {@code key} is the idempotency key, if any. A {@code notify} address (where
   * the outcome is delivered) comes only from services on the bus: the API document refuses it.
   */
  static TaskSpec parse(JsonObject json, Caller caller, String prefix, String key) {
    String type = json.getString("type");
    if (type == null || !TaskTypes.KNOWN.contains(type)) {
      throw Failure.invalid(prefix + "type", "unknown task type '" + type + "'; known: " + String.join(", ", new TreeSet<>(TaskTypes.KNOWN)));
    }
    if (json.containsKey("run_at") && json.containsKey("delay_ms")) {
      throw Failure.invalid(prefix + "run_at", "give run_at or delay_ms, not both");
    }
    if (TaskTypes.LEDGER_TRANSFER.equals(type)) {
      checkMoneyMove(json.getJsonObject("payload", new JsonObject()), caller, prefix);
    }
    return stored(json, runAt(json, prefix), key);
  }

  /** A task kept as JSON after {@link #parse} checked it (a schedule's), due at {@code runAt}. */
  static TaskSpec stored(JsonObject json, OffsetDateTime runAt, String key) {
    return new TaskSpec(json.getString("type"), json.getString("queue", DEFAULT_QUEUE), json.getInteger("priority", DEFAULT_PRIORITY),
      json.getJsonObject("payload", new JsonObject()), json.getInteger("max_attempts", DEFAULT_MAX_ATTEMPTS),
      Backoff.of(json.getJsonObject("backoff")), json.getInteger("timeout_ms", DEFAULT_TIMEOUT_MS), runAt, key,
      json.getString("notify"));
  }

  private static void checkMoneyMove(JsonObject payload, Caller caller, String prefix) {
    long payer = Fields.id(payload, "from_user_id", prefix + "payload.from_user_id");
    long payee = Fields.id(payload, "to_user_id", prefix + "payload.to_user_id");
    Fields.whole(payload, "amount", prefix + "payload.amount", 1, MOST_MONEY);
    if (payer == payee) {
      throw Failure.invalid(prefix + "payload.to_user_id", "cannot transfer to the payer");
    }
    if (!caller.isAdmin() && payer != caller.userId()) {
      throw Failure.FORBIDDEN.exception("only the payer or an admin may submit a ledger.transfer");
    }
  }

  private static OffsetDateTime runAt(JsonObject json, String prefix) {
    if (json.containsKey("run_at")) {
      try {
        return OffsetDateTime.parse(json.getString("run_at"));
      } catch (DateTimeParseException e) {
        // RFC 3339 allows what java.time does not (a leap second, "23:59:60Z").
        throw Failure.invalid(prefix + "run_at", "must be an ISO-8601 date-time with an offset");
      }
    }
    return OffsetDateTime.now(ZoneOffset.UTC).plusNanos(json.getLong("delay_ms", 0L) * 1_000_000);
  }
}
