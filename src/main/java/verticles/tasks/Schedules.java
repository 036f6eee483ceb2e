package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Caller;
import verticles.common.Failure;
import verticles.common.Page;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** Recurring schedules (bus area schedules.*): a cron expression in a time zone and the task it makes. */
final class Schedules {

  static final String DEFAULT_TIMEZONE = "UTC";

  private final Pool pool;
  private final TaskEvents events;

  Schedules(Pool pool, TaskEvents events) {
    this.pool = pool;
    this.events = events;
  }

  /** The task is checked exactly as a submit would check it, now rather than at the first fire. */
  Future<JsonObject> create(JsonObject body) {
    Caller caller = Caller.required();
    JsonObject task = body.getJsonObject("task");
    TaskSpec.parse(task, caller, "task.", null);
    String timezone = body.getString("timezone", DEFAULT_TIMEZONE);
    OffsetDateTime next = cron(body.getString("cron"), timezone).next(Instant.now()).atOffset(ZoneOffset.UTC);
    return pool.preparedQuery(TaskSql.SCHEDULE_INSERT).execute(Tuple.of(caller.userId(), body.getString("name"), body.getString("cron"),
        timezone, task, body.getBoolean("enabled", true)).addValue(next))
      .map(rows -> {
        JsonObject schedule = TaskJson.schedule(rows.iterator().next());
        events.scheduleChanged(schedule, "created");
        return schedule;
      });
  }

  Future<JsonObject> get(JsonObject body) {
    return owned(body.getLong("id")).map(TaskJson::schedule);
  }

  Future<JsonObject> list(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    return pool.preparedQuery(TaskSql.SCHEDULE_PAGE).execute(Tuple.of(caller.isAdmin() ? null : caller.userId(),
        query.getLong("cursor", 0L), limit + 1))
      .map(rows -> Page.of(rows, limit, TaskJson::schedule, "id"));
  }

  Future<JsonObject> update(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(row -> {
      String expression = body.getString("cron", row.getString("cron"));
      boolean enabled = body.getBoolean("enabled", row.getBoolean("enabled"));
      OffsetDateTime next = cron(expression, row.getString("timezone")).next(Instant.now()).atOffset(ZoneOffset.UTC);
      return pool.preparedQuery(TaskSql.SCHEDULE_UPDATE).execute(Tuple.of(id, expression, enabled, next));
    }).map(rows -> {
      JsonObject schedule = TaskJson.schedule(rows.iterator().next());
      events.scheduleChanged(schedule, "updated");
      return schedule;
    });
  }

  Future<Void> delete(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(row -> pool.preparedQuery(TaskSql.SCHEDULE_DELETE).execute(Tuple.of(id))
      .onSuccess(ignored -> events.scheduleChanged(TaskJson.schedule(row), "deleted"))).mapEmpty();
  }

  private Future<Row> owned(long id) {
    Caller caller = Caller.required();
    return pool.preparedQuery(TaskSql.SCHEDULE_FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no schedule " + id));
      }
      return Future.succeededFuture(row);
    });
  }

  /** Parses, turning the parser's "field: message" into a validation failure naming that field. */
  private static CronSchedule cron(String expression, String timezone) {
    try {
      return CronSchedule.parse(expression, timezone);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      int colon = message.indexOf(": ");
      throw Failure.invalid(message.substring(0, colon), message.substring(colon + 2));
    }
  }
}
