package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;

/**
 * Appends to audit_logs, the one shared table. Call it with the connection of the transaction
 * that makes the change, so the row exists exactly when the change does.
 */
public final class Audit {

  private static final String APPEND =
    "INSERT INTO audit_logs (entity_type, entity_id, action, actor_id, details, request_id) "
      + "VALUES ($1, $2, $3, $4, $5, $6)";

  private Audit() {
  }

  /** {@code actorId} is who made the change (null: the system itself); the request id is the current one. */
  public static Future<Void> append(SqlClient tx, String entityType, Object entityId, String action, Long actorId,
                                    JsonObject details) {
    return tx.preparedQuery(APPEND)
      .execute(Tuple.of(entityType, String.valueOf(entityId), action, actorId, details, RequestContext.requestId()))
      .mapEmpty();
  }
}
