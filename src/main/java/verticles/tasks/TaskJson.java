package verticles.tasks;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;
import java.util.LinkedHashMap;

/** Rows of tasks and schedules as the JSON the API shows. */
final class TaskJson {

  private TaskJson() {
  }

  /**
   * A task row as the API shows it: the columns the API names, in the table's order (the others,
   * such as the lease and the idempotency key, are left out). One pass over the row's columns:
   * looking each up by name would search the column list every time.
   */
  static JsonObject task(Row row) {
    JsonObject task = new JsonObject(new LinkedHashMap<>(32));
    for (int i = 0; i < row.size(); i++) {
      String column = row.getColumnName(i);
      switch (column) {
        case "id", "owner_id", "schedule_id" -> task.put(column, row.getLong(i));
        case "type", "queue", "status", "last_error" -> task.put(column, row.getString(i));
        case "priority" -> task.put(column, (int) row.getShort(i));
        case "attempts", "max_attempts", "timeout_ms" -> task.put(column, row.getInteger(i));
        case "payload", "backoff" -> task.put(column, row.getJsonObject(i));
        case "result", "progress" -> task.put(column, row.getValue(i));
        case "run_at", "created_at", "updated_at", "queued_at", "started_at", "finished_at" ->
          task.put(column, time(row.getOffsetDateTime(i)));
        default -> {
        }
      }
    }
    return task;
  }

  static JsonObject schedule(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("owner_id", row.getLong("owner_id"))
      .put("name", row.getString("name"))
      .put("cron", row.getString("cron"))
      .put("timezone", row.getString("timezone"))
      .put("task", row.getJsonObject("task"))
      .put("enabled", row.getBoolean("enabled"))
      .put("next_fire_at", time(row.getOffsetDateTime("next_fire_at")))
      .put("last_fired_at", time(row.getOffsetDateTime("last_fired_at")))
      .put("created_at", time(row.getOffsetDateTime("created_at")))
      .put("updated_at", time(row.getOffsetDateTime("updated_at")));
  }

  private static String time(OffsetDateTime time) {
    return time == null ? null : time.toString();
  }
}
