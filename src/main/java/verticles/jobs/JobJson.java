package verticles.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.Map;

/** Rows of jobs and images as the JSON the richer API shows. */
final class JobJson {

  private JobJson() {
  }

  static JsonObject job(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("owner_id", row.getLong("owner_id"))
      .put("status", row.getString("status"))
      .put("total", row.getInteger("total"))
      .put("done", row.getInteger("done"))
      .put("failed", row.getInteger("failed"))
      .put("visits", row.getInteger("visits"))
      .put("created_at", time(row.getOffsetDateTime("created_at")))
      .put("finished_at", time(row.getOffsetDateTime("finished_at")));
  }

  /** The job with its visits in request order, each with its images. */
  static JsonObject detail(Row job, Iterable<Row> images) {
    Map<Integer, JsonObject> visits = new LinkedHashMap<>();
    for (Row image : images) {
      JsonObject visit = visits.computeIfAbsent(image.getInteger("visit"), v -> new JsonObject()
        .put("store_id", image.getString("store_id")).put("visit_time", image.getString("visit_time")).put("images", new JsonArray()));
      visit.getJsonArray("images").add(new JsonObject()
        .put("id", image.getLong("id"))
        .put("url", image.getString("url"))
        .put("status", image.getString("status"))
        .put("width", image.getInteger("width"))
        .put("height", image.getInteger("height"))
        .put("perimeter", image.getLong("perimeter"))
        .put("format", image.getString("format"))
        .put("error", image.getString("error_message"))
        .put("attempts", image.getInteger("attempts"))
        .put("task_id", image.getLong("task_id"))
        .put("finished_at", time(image.getOffsetDateTime("finished_at"))));
    }
    return job(job).put("visits", new JsonArray(visits.values().stream().toList()));
  }

  private static String time(OffsetDateTime time) {
    return time == null ? null : time.toString();
  }
}
