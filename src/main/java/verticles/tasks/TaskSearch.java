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

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What the dashboard reads of the task room, on the server: tasks by filter (state, queue, type,
 * time range, payload field, error text, fingerprint), a task's attempts and state timeline,
 * dead tasks grouped by error fingerprint, recent wait and run latency per queue, and running
 * tasks per node. Users see their own tasks; admins see all.
 */
final class TaskSearch {

  private final Pool pool;

  TaskSearch(Pool pool) {
    this.pool = pool;
  }

  /** tasks.list: newest first, one page; {@code next_cursor} continues it. */
  Future<JsonObject> page(JsonObject query) {
    Caller caller = Caller.required();
    TaskFilter filter = TaskFilter.of(query, caller, "");
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    Tuple args = Tuple.tuple();
    String condition = filter.condition(args);
    String sql = SearchSql.numbered(SearchSql.SEARCH.formatted(condition), args.size());
    args.addValue(query.getLong("cursor", Long.MAX_VALUE)).addValue(limit + 1);
    return pool.preparedQuery(sql).execute(args).map(rows -> Page.of(rows, limit, TaskJson::task, "id"));
  }

  /** tasks.attempts: every attempt (ended ones from their history, the last from the task) and a timeline. */
  Future<JsonObject> attempts(JsonObject body) {
    Caller caller = Caller.required();
    long id = body.getLong("id");
    return pool.preparedQuery(TaskSql.FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no task " + id));
      }
      JsonObject task = TaskJson.task(row);
      return pool.preparedQuery(SearchSql.ATTEMPTS).execute(Tuple.of(id)).map(history -> {
        JsonArray attempts = new JsonArray();
        int lastEnded = 0;
        for (Row attempt : history) {
          lastEnded = attempt.getInteger("attempt");
          attempts.add(attempt(attempt.getInteger("attempt"), attempt.getString("outcome"), attempt.getString("error"),
            attempt.getString("node"), attempt.getOffsetDateTime("started_at"), attempt.getOffsetDateTime("finished_at")));
        }
        int current = task.getInteger("attempts");
        String status = task.getString("status");
        if (current > lastEnded && ("running".equals(status) || "succeeded".equals(status) || "cancelled".equals(status))) {
          // The attempt the row itself describes: running now, or the one that succeeded.
          attempts.add(attempt(current, status, null, null, row.getOffsetDateTime("started_at"),
            "running".equals(status) ? null : row.getOffsetDateTime("finished_at")));
        }
        return new JsonObject().put("task", task).put("attempts", attempts).put("timeline", timeline(task, attempts));
      });
    });
  }

  /** tasks.dead-groups: dead (or failed) tasks by error fingerprint, biggest groups first; narrowed by the usual filter. */
  Future<JsonObject> deadGroups(JsonObject query) {
    Caller caller = Caller.required();
    JsonObject scope = query.copy();
    scope.put("status", query.getString("status", "dead"));
    if (!"dead".equals(scope.getString("status")) && !"failed".equals(scope.getString("status"))) {
      throw Failure.invalid("status", "must be dead or failed");
    }
    TaskFilter filter = TaskFilter.of(scope, caller, "");
    Tuple args = Tuple.tuple();
    String sql = SearchSql.DEAD_GROUPS.formatted(filter.condition(args));
    return pool.preparedQuery(sql).execute(args).map(rows -> {
      JsonArray groups = new JsonArray();
      for (Row row : rows) {
        JsonArray queues = new JsonArray();
        for (String queue : row.getArrayOfStrings("queues")) {
          queues.add(queue);
        }
        groups.add(new JsonObject()
          .put("fingerprint", row.getString("fingerprint"))
          .put("type", row.getString("type"))
          .put("pattern", row.getString("pattern"))
          .put("sample_error", row.getString("sample_error"))
          .put("count", row.getLong("count"))
          .put("queues", queues)
          .put("first_at", time(row.getOffsetDateTime("first_at")))
          .put("last_at", time(row.getOffsetDateTime("last_at")))
          .put("latest_task_id", row.getLong("latest_task_id")));
      }
      return new JsonObject().put("status", scope.getString("status")).put("items", groups);
    });
  }

  /** tasks.latency (admins): wait and run p50/p95/p99 per queue over recent successes. */
  Future<JsonObject> latency(JsonObject ignored) {
    return Caller.requireAdmin("see task latency").compose(admin -> pool.query(SearchSql.LATENCY).execute()).map(rows -> {
      JsonArray queues = new JsonArray();
      for (Row row : rows) {
        queues.add(new JsonObject().put("queue", row.getString("queue")).put("tasks", row.getLong("tasks"))
          .put("wait_ms", percentiles(row.getArrayOfDoubles("wait_ms")))
          .put("run_ms", percentiles(row.getArrayOfDoubles("run_ms"))));
      }
      return new JsonObject().put("items", queues);
    });
  }

  /** tasks.running.by-node: {node name: running tasks}. */
  Future<JsonObject> runningByNode(JsonObject ignored) {
    return pool.query(SearchSql.RUNNING_BY_NODE).execute().map(rows -> {
      JsonObject byNode = new JsonObject();
      for (Row row : rows) {
        byNode.put(String.valueOf(row.getString("node")), row.getLong("running"));
      }
      return byNode;
    });
  }

  private static JsonObject attempt(int number, String outcome, String error, String node, OffsetDateTime started, OffsetDateTime finished) {
    Long duration = started == null || finished == null ? null : java.time.Duration.between(started, finished).toMillis();
    return new JsonObject().put("attempt", number).put("outcome", outcome).put("error", error).put("node", node)
      .put("started_at", time(started)).put("finished_at", time(finished)).put("duration_ms", duration);
  }

  /**
   * The task's states in time order: made (scheduled or queued), each attempt's start and end,
   * and where it is now. Derived from the row and the attempt history, so it shows what they
   * record (a state held for less than a commit leaves no trace).
   */
  static JsonArray timeline(JsonObject task, JsonArray attempts) {
    List<JsonObject> steps = new ArrayList<>();
    String created = task.getString("created_at");
    boolean scheduled = created != null && task.getString("run_at") != null
      && OffsetDateTime.parse(task.getString("run_at")).isAfter(OffsetDateTime.parse(created)) && task.getInteger("attempts") == 0
      || "scheduled".equals(task.getString("status"));
    steps.add(step(created, scheduled ? "scheduled" : "queued", null));
    for (Object item : attempts) {
      JsonObject attempt = (JsonObject) item;
      if (attempt.getString("started_at") != null) {
        steps.add(step(attempt.getString("started_at"), "running", "attempt " + attempt.getInteger("attempt")));
      }
      String outcome = attempt.getString("outcome");
      if (attempt.getString("finished_at") != null && !"running".equals(outcome)) {
        steps.add(step(attempt.getString("finished_at"), outcome, attempt.getString("error")));
      }
    }
    String status = task.getString("status");
    JsonObject last = steps.get(steps.size() - 1);
    if (!status.equals(last.getString("state"))) {
      String at = switch (status) {
        case "queued" -> task.getString("queued_at");
        case "cancelled", "failed", "dead", "succeeded" -> task.getString("finished_at");
        default -> task.getString("updated_at");
      };
      steps.add(step(at != null ? at : task.getString("updated_at"), status, null));
    }
    steps.sort(Comparator.comparing(step -> OffsetDateTime.parse(step.getString("at"))));
    return new JsonArray(new ArrayList<>(steps));
  }

  private static JsonObject step(String at, String state, String note) {
    JsonObject step = new JsonObject().put("at", at).put("state", state);
    if (note != null) {
      step.put("note", note);
    }
    return step;
  }

  private static JsonObject percentiles(Double[] values) {
    return new JsonObject().put("p50", round(values[0])).put("p95", round(values[1])).put("p99", round(values[2]));
  }

  private static Double round(Double value) {
    return value == null ? null : Math.round(value * 10) / 10.0;
  }

  private static String time(OffsetDateTime time) {
    return time == null ? null : time.toString();
  }
}
