package verticles.tasks;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;

/** Rows of tasks and schedules as the JSON the API shows. */
final class TaskJson {

  private TaskJson() {
  }

  static JsonObject task(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("owner_id", row.getLong("owner_id"))
      .put("type", row.getString("type"))
      .put("queue", row.getString("queue"))
      .put("priority", (int) row.getShort("priority"))
      .put("payload", row.getJsonObject("payload"))
      .put("status", row.getString("status"))
      .put("attempts", row.getInteger("attempts"))
      .put("max_attempts", row.getInteger("max_attempts"))
      .put("backoff", row.getJsonObject("backoff"))
      .put("timeout_ms", row.getInteger("timeout_ms"))
      .put("run_at", time(row.getOffsetDateTime("run_at")))
      .put("last_error", row.getString("last_error"))
      .put("result", row.getValue("result"))
      .put("progress", row.getValue("progress"))
      .put("schedule_id", row.getLong("schedule_id"))
      .put("created_at", time(row.getOffsetDateTime("created_at")))
      .put("updated_at", time(row.getOffsetDateTime("updated_at")))
      .put("queued_at", time(row.getOffsetDateTime("queued_at")))
      .put("started_at", time(row.getOffsetDateTime("started_at")))
      .put("finished_at", time(row.getOffsetDateTime("finished_at")));
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
