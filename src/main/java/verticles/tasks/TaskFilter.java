package verticles.tasks;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import verticles.common.Caller;
import verticles.common.Failure;

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which tasks a search or a bulk action is about: state, queue, type, a creation time range, a
 * payload field's value, a piece of the error text, an error fingerprint, an owner. It becomes one
 * parameterised condition; a user's filter is always narrowed to their own tasks (only admins
 * may name another owner, or none).
 *
 * <p>The state is written into the statement as a literal (it is one of seven known words), so the
 * planner can use the partial indexes of waiting, running and unhappy tasks for it; every other
 * value is a parameter.
 */
record TaskFilter(String status, String queue, String type, OffsetDateTime from, OffsetDateTime to, String[] payloadPath,
                  String payloadValue, String error, String fingerprint, Long owner) {

  static final List<String> STATES = List.of("scheduled", "queued", "running", "succeeded", "failed", "dead", "cancelled");
  /** {@code customer.id=42}: a dotted path into the payload, '=', the value it must have (compared as text). */
  private static final Pattern PAYLOAD = Pattern.compile("^([A-Za-z0-9_-]{1,64}(?:\\.[A-Za-z0-9_-]{1,64}){0,7})=(.{0,200})$",
    Pattern.DOTALL);
  private static final Pattern FINGERPRINT = Pattern.compile("^[0-9a-f]{12}$");

  /**
   * Reads a filter from a search's query or a bulk action's {@code filter}; {@code prefix} names
   * its fields in validation failures ("filter.payload"). The edge has checked the document's
   * rules already; these checks hold for callers on the bus too.
   */
  static TaskFilter of(JsonObject json, Caller caller, String prefix) {
    String status = json.getString("status");
    if (status != null && !STATES.contains(status)) {
      throw Failure.invalid(prefix + "status", "must be one of " + String.join(", ", STATES));
    }
    String[] path = null;
    String value = null;
    String payload = json.getString("payload");
    if (payload != null) {
      var match = PAYLOAD.matcher(payload);
      if (!match.matches()) {
        throw Failure.invalid(prefix + "payload", "must be <field>[.<field>...]=<value>, e.g. customer.id=42");
      }
      path = match.group(1).split("\\.");
      value = match.group(2);
    }
    String fingerprint = json.getString("fingerprint");
    if (fingerprint != null && !FINGERPRINT.matcher(fingerprint).matches()) {
      throw Failure.invalid(prefix + "fingerprint", "must be 12 lowercase hex digits (a dead-group's fingerprint)");
    }
    String error = json.getString("error");
    if (error != null && error.isEmpty()) {
      error = null;
    }
    Long owner = json.getLong("owner_id");
    if (!caller.isAdmin()) {
      owner = caller.userId();
    }
    return new TaskFilter(status, json.getString("queue"), json.getString("type"), time(json, "from", prefix), time(json, "to", prefix),
      path, value, error, fingerprint, owner);
  }

  /** The filter as given (normalised), to store with a bulk action and show back. */
  JsonObject toJson() {
    JsonObject json = new JsonObject();
    putIf(json, "status", status);
    putIf(json, "queue", queue);
    putIf(json, "type", type);
    putIf(json, "from", from == null ? null : from.toString());
    putIf(json, "to", to == null ? null : to.toString());
    putIf(json, "payload", payloadPath == null ? null : String.join(".", payloadPath) + "=" + payloadValue);
    putIf(json, "error", error);
    putIf(json, "fingerprint", fingerprint);
    putIf(json, "owner_id", owner);
    return json;
  }

  /** The condition (for a WHERE), its values appended to {@code args} as $n parameters. */
  String condition(Tuple args) {
    List<String> parts = new ArrayList<>();
    if (owner != null) {
      parts.add("owner_id = " + param(args, owner));
    }
    if (status != null) {
      parts.add("status = '" + status + "'");  // one of STATES: see the class comment
    }
    if (queue != null) {
      parts.add("queue = " + param(args, queue));
    }
    if (type != null) {
      parts.add("type = " + param(args, type));
    }
    if (from != null) {
      parts.add("created_at >= " + param(args, from));
    }
    if (to != null) {
      parts.add("created_at < " + param(args, to));
    }
    if (payloadPath != null) {
      parts.add("payload #>> " + param(args, payloadPath) + "::text[] = " + param(args, payloadValue));
    }
    if (error != null) {
      parts.add("last_error ILIKE " + param(args, "%" + likeEscaped(error) + "%"));
    }
    if (fingerprint != null) {
      parts.add("task_error_fingerprint(type, last_error) = " + param(args, fingerprint));
    }
    return parts.isEmpty() ? "true" : String.join(" AND ", parts);
  }

  private static String param(Tuple args, Object value) {
    args.addValue(value);
    return "$" + args.size();
  }

  /** The text as a LIKE pattern that matches only itself (the default escape character is the backslash). */
  static String likeEscaped(String text) {
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
  }

  private static OffsetDateTime time(JsonObject json, String field, String prefix) {
    String text = json.getString(field);
    if (text == null) {
      return null;
    }
    try {
      return OffsetDateTime.parse(text);
    } catch (DateTimeParseException e) {
      throw Failure.invalid(prefix + field, "must be an ISO-8601 date-time with an offset");
    }
  }

  private static void putIf(JsonObject json, String key, Object value) {
    if (value != null) {
      json.put(key, value);
    }
  }
}
