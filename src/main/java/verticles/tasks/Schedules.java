package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
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

/**
 * Recurring schedules (bus area schedules.*): a cron expression in a time zone and the task it
 * makes. Read back with their next fire times and the outcome of their latest task; run now on
 * demand.
 */
final class Schedules {

  static final String DEFAULT_TIMEZONE = "UTC";
  /** How many upcoming fire times a schedule shows. */
  private static final int NEXT_FIRES = 3;

  private final Pool pool;
  private final TaskEvents events;
  private final Submissions submissions;

  Schedules(Pool pool, TaskEvents events, Submissions submissions) {
    this.pool = pool;
    this.events = events;
    this.submissions = submissions;
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
    return owned(body.getLong("id")).map(TaskJson::schedule)
      .compose(schedule -> withOutlook(new JsonArray().add(schedule)).map(schedule));
  }

  Future<JsonObject> list(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    return pool.preparedQuery(TaskSql.SCHEDULE_PAGE).execute(Tuple.of(caller.isAdmin() ? null : caller.userId(),
        query.getLong("cursor", 0L), limit + 1))
      .map(rows -> Page.of(rows, limit, TaskJson::schedule, "id"))
      .compose(page -> withOutlook(page.getJsonArray("items")).map(page));
  }

  /** schedules.run: the schedule's task, made now for the schedule's owner, outside its cron (the cron goes on as before). */
  Future<JsonObject> run(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(row -> {
      TaskSpec spec = TaskSpec.stored(row.getJsonObject("task"), OffsetDateTime.now(ZoneOffset.UTC), null);
      return submissions.insert(row.getLong("owner_id"), spec, id, null);
    });
  }

  /**
   * Adds to each schedule its next fire times ({@code next_fire_times}) and its latest task
   * ({@code last_task}: id, status, finished_at, last_error), in one query for all of them.
   */
  private Future<Void> withOutlook(JsonArray schedules) {
    if (schedules.isEmpty()) {
      return Future.succeededFuture();
    }
    Long[] ids = new Long[schedules.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonObject schedule = schedules.getJsonObject(i);
      ids[i] = schedule.getLong("id");
      JsonArray next = new JsonArray();
      Instant at = Instant.now();
      try {
        CronSchedule cron = CronSchedule.parse(schedule.getString("cron"), schedule.getString("timezone"));
        for (int n = 0; n < NEXT_FIRES; n++) {
          at = cron.next(at);
          next.add(at.atOffset(ZoneOffset.UTC).toString());
        }
      } catch (IllegalArgumentException e) {
        // A schedule that never fires again shows none.
      }
      schedule.put("next_fire_times", next);
      schedule.putNull("last_task");
    }
    return pool.preparedQuery(SearchSql.SCHEDULE_LAST_TASKS).execute(Tuple.of((Object) ids)).map(rows -> {
      for (Row row : rows) {
        JsonObject last = new JsonObject().put("id", row.getLong("id")).put("status", row.getString("status"))
          .put("finished_at", row.getOffsetDateTime("finished_at") == null ? null : row.getOffsetDateTime("finished_at").toString())
          .put("last_error", row.getString("last_error"));
        for (Object item : schedules) {
          JsonObject schedule = (JsonObject) item;
          if (schedule.getLong("id").equals(row.getLong("schedule_id"))) {
            schedule.put("last_task", last);
          }
        }
      }
      return null;
    });
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
