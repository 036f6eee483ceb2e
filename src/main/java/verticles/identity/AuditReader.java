package verticles.identity;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Page;

import java.time.OffsetDateTime;

/** Reads the audit trail, newest first, with optional filters and a keyset cursor. */
final class AuditReader {

  private static final String PAGE =
    "SELECT id, entity_type, entity_id, action, actor_id, details, request_id, created_at FROM audit_logs "
      + "WHERE ($1::text IS NULL OR entity_type = $1) "
      + "AND ($2::text IS NULL OR entity_id = $2) "
      + "AND ($3::text IS NULL OR action = $3) "
      + "AND ($4::bigint IS NULL OR actor_id = $4) "
      + "AND ($5::timestamptz IS NULL OR created_at >= $5) "
      + "AND ($6::timestamptz IS NULL OR created_at < $6) "
      + "AND id < $7 "
      + "ORDER BY id DESC LIMIT $8";

  private final Pool pool;

  AuditReader(Pool pool) {
    this.pool = pool;
  }

  /** {@code query}: the validated query parameters (strings, actor_id and limit as numbers). */
  Future<JsonObject> page(JsonObject query) {
    int limit = query.getInteger("limit", 50);
    long before = query.getLong("cursor", Long.MAX_VALUE);
    Tuple args = Tuple.of(query.getString("entity_type"), query.getString("entity_id"), query.getString("action"),
        query.getLong("actor_id"))
      .addValue(time(query.getString("from")))
      .addValue(time(query.getString("to")))
      .addLong(before)
      .addInteger(limit + 1);
    return pool.preparedQuery(PAGE).execute(args).map(rows -> Page.of(rows, limit, AuditReader::toJson, "id"));
  }

  private static JsonObject toJson(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("entity_type", row.getString("entity_type"))
      .put("entity_id", row.getString("entity_id"))
      .put("action", row.getString("action"))
      .put("actor_id", row.getLong("actor_id"))
      .put("details", row.getJsonObject("details"))
      .put("request_id", row.getString("request_id"))
      .put("created_at", row.getOffsetDateTime("created_at").toString());
  }

  private static OffsetDateTime time(String text) {
    return text == null ? null : OffsetDateTime.parse(text);
  }
}
