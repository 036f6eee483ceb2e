package verticles.tasks;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Caller;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.RequestContext;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Retry, cancel or delete every task that matches a filter, on the server: a dry run counts them;
 * a real one is a job (a row of task_bulk_actions) that the request only starts. The job works in
 * batches of {@link #BATCH} tasks, each one statement and one commit with its progress, in id
 * order up to the largest id when it started, so it ends, and touches each task once. Between
 * batches the event loop is free (every step is asynchronous); progress is published after each
 * batch ({@code bulk.progress} to the starter and admins) and readable at tasks.bulk.get. A job
 * whose node died is taken over by another node after 30 s of silence, from where it got to.
 */
final class BulkActions {

  private static final Logger log = LoggerFactory.getLogger(BulkActions.class);
  static final int BATCH = 500;
  private static final long RETRY_AFTER_OUTAGE_MS = 1000;

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;
  private final Notifier notifier;
  private final Dependency postgres;
  private final String node;
  /** A batch from its statement to its Redis writes. */
  private final Timer batches;
  /** How long each synchronous step of a batch keeps its event loop (building the statement, reading the rows, the Redis arguments). */
  private final Timer onLoop;

  BulkActions(Vertx vertx, Pool pool, Backlog backlog, Notifier notifier, Dependency postgres, String node, MeterRegistry registry) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
    this.notifier = notifier;
    this.postgres = postgres;
    this.node = node;
    this.batches = Timer.builder("pulse.tasks.bulk.batch").description("a bulk action's batch, statement to Redis").register(registry);
    this.onLoop = Timer.builder("pulse.tasks.bulk.loop").description("a bulk batch's synchronous steps on the event loop").register(registry);
  }

  /** One action and what it may touch. */
  private enum Action {
    RETRY(SearchSql.RETRYABLE, SearchSql.RETRY_BATCH),
    CANCEL(SearchSql.CANCELLABLE, SearchSql.CANCEL_BATCH),
    DELETE(SearchSql.DELETABLE, SearchSql.DELETE_BATCH);

    final String eligible;
    final String batch;

    Action(String eligible, String batch) {
      this.eligible = eligible;
      this.batch = batch;
    }

    static Action of(String name) {
      for (Action action : values()) {
        if (action.name().equalsIgnoreCase(String.valueOf(name))) {
          return action;
        }
      }
      throw Failure.invalid("action", "must be retry, cancel or delete");
    }
  }

  /** tasks.bulk.count: how many tasks the action would touch now. */
  Future<JsonObject> count(JsonObject body) {
    Caller caller = Caller.required();
    Action action = Action.of(body.getString("action"));
    TaskFilter filter = TaskFilter.of(body.getJsonObject("filter", new JsonObject()), caller, "filter.");
    return maxId().compose(max -> matching(action, filter, max)).map(matching -> new JsonObject()
      .put("action", action.name().toLowerCase()).put("filter", filter.toJson()).put("matching", matching));
  }

  /** tasks.bulk: counts, records the job and starts it; answers at once with the job (status running). */
  Future<JsonObject> start(JsonObject body) {
    Caller caller = Caller.required();
    Action action = Action.of(body.getString("action"));
    TaskFilter filter = TaskFilter.of(body.getJsonObject("filter", new JsonObject()), caller, "filter.");
    return maxId().compose(max -> matching(action, filter, max).compose(matching -> pool.preparedQuery(SearchSql.BULK_INSERT)
        .execute(Tuple.of(caller.userId(), caller.isAdmin(), action.name().toLowerCase(), filter.toJson(), matching, max)
          .addValue(node).addValue(RequestContext.requestId()))))
      .map(rows -> {
        JsonObject job = json(rows.iterator().next());
        log.info("bulk {} {} started: {} task(s) match {}", job.getString("action"), job.getLong("id"), job.getLong("matching"),
          job.getJsonObject("filter").encode());
        published(job);
        run(job);
        return job;
      });
  }

  /** tasks.bulk.get: a job's progress (its starter or an admin). */
  Future<JsonObject> get(JsonObject body) {
    Caller caller = Caller.required();
    long id = body.getLong("id");
    return pool.preparedQuery(SearchSql.BULK_FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no bulk action " + id));
      }
      return Future.succeededFuture(json(row));
    });
  }

  /** Takes over jobs whose node stopped moving them on (see the class comment). */
  void sweep() {
    if (!postgres.mayTry()) {
      return;
    }
    pool.preparedQuery(SearchSql.BULK_STALLED).execute(Tuple.of(node)).onFailure(postgres::failed).onSuccess(rows -> {
      for (Row row : rows) {
        JsonObject job = json(row);
        log.warn("bulk {} {} stalled on node {} at task {}; taking it over", job.getString("action"), job.getLong("id"),
          row.getString("node"), job.getLong("last_task_id"));
        run(job);
      }
    });
  }

  private void run(JsonObject job) {
    batch(job).onComplete(result -> {
      if (result.succeeded()) {
        JsonObject progressed = result.result();
        if (progressed == null) {
          return;  // ended
        }
        vertx.runOnContext(ignored -> run(progressed));
      } else if (Failure.of(result.cause()) == Failure.UNAVAILABLE) {
        postgres.failed(result.cause());
        vertx.setTimer(RETRY_AFTER_OUTAGE_MS, ignored -> run(job));
      } else {
        log.error("bulk {} {} failed", job.getString("action"), job.getLong("id"), result.cause());
        end(job.getLong("id"), "failed", String.valueOf(result.cause().getMessage()));
      }
    });
  }

  /**
   * One batch in one transaction with its progress; then Redis (retried tasks pushed, cancelled
   * ones removed) and the wake-ups. The job's next state, or null once it has ended.
   */
  private Future<JsonObject> batch(JsonObject job) {
    long began = System.nanoTime();
    Action action = Action.of(job.getString("action"));
    Caller starter = new Caller(job.getLong("owner_id"), job.getBoolean("admin") ? Caller.ADMIN : Caller.USER);
    TaskFilter filter = TaskFilter.of(job.getJsonObject("filter"), starter, "filter.");
    Tuple args = Tuple.tuple();
    String condition = filter.condition(args);
    String sql = SearchSql.numbered(action.batch.formatted(condition, action.eligible), args.size());
    args.addValue(job.getLong("last_task_id")).addValue(job.getLong("max_task_id")).addValue(BATCH);
    long id = job.getLong("id");
    Future<Batch> committed = pool.withTransaction(tx -> tx.preparedQuery(sql).execute(args).compose(rows -> {
      long step = System.nanoTime();
      long last = job.getLong("last_task_id");
      for (Row row : rows) {
        last = Math.max(last, row.getLong("id"));
      }
      Future<Batch> progressed = tx.preparedQuery(SearchSql.BULK_PROGRESS).execute(Tuple.of(id, rows.size(), last, node))
        .map(progress -> new Batch(rows, json(progress.iterator().next())));
      onLoop.record(System.nanoTime() - step, TimeUnit.NANOSECONDS);
      return progressed;
    }));
    onLoop.record(System.nanoTime() - began, TimeUnit.NANOSECONDS);
    return committed.compose(batch -> {
      long step = System.nanoTime();
      postgres.answered();
      published(batch.job());
      Future<Void> written = afterCommit(action, batch.rows()).otherwiseEmpty();
      onLoop.record(System.nanoTime() - step, TimeUnit.NANOSECONDS);
      return written.compose(ignored -> {
        batches.record(System.nanoTime() - began, TimeUnit.NANOSECONDS);
        return batch.rows().size() < BATCH ? end(id, "done", null).map(ended -> null) : Future.succeededFuture(batch.job());
      });
    });
  }

  private record Batch(RowSet<Row> rows, JsonObject job) {
  }

  /** What PostgreSQL's change means for Redis and for the owners waiting on outcomes. */
  private Future<Void> afterCommit(Action action, RowSet<Row> rows) {
    if (action == Action.DELETE || rows.size() == 0) {
      return Future.succeededFuture();
    }
    Map<String, List<Backlog.Waiting>> byQueue = new HashMap<>();
    for (Row row : rows) {
      byQueue.computeIfAbsent(row.getString("queue"), q -> new ArrayList<>())
        .add(new Backlog.Waiting(row.getLong("id"), row.getShort("priority"), 0));
    }
    List<Future<?>> writes = new ArrayList<>();
    if (action == Action.CANCEL) {
      notifier.deliver(rows);
      byQueue.forEach((queue, tasks) -> writes.add(backlog.forget(queue, tasks)));
    } else {
      // Lost pushes are found again by the reconciler (PostgreSQL says they wait).
      byQueue.forEach((queue, tasks) -> writes.add(backlog.pushReady(queue, tasks)
        .onSuccess(ignored -> vertx.eventBus().publish(Addresses.Tasks.WAKEUP, queue))));
    }
    return Future.join(writes).mapEmpty();
  }

  private Future<JsonObject> end(long id, String status, String error) {
    return pool.preparedQuery(SearchSql.BULK_END).execute(Tuple.of(id, status, error)).map(rows -> {
      if (rows.size() == 0) {
        return null;
      }
      JsonObject job = json(rows.iterator().next());
      log.info("bulk {} {} {}: {} of {} task(s)", job.getString("action"), id, status, job.getLong("done"), job.getLong("matching"));
      published(job);
      return job;
    });
  }

  private Future<Long> maxId() {
    return pool.query(SearchSql.MAX_ID).execute().map(rows -> rows.iterator().next().getLong("max_id"));
  }

  private Future<Long> matching(Action action, TaskFilter filter, long max) {
    Tuple args = Tuple.tuple();
    String condition = filter.condition(args);
    String sql = SearchSql.numbered(SearchSql.COUNT.formatted(condition, action.eligible), args.size());
    return pool.preparedQuery(sql).execute(args.addValue(max)).map(rows -> rows.iterator().next().getLong("matching"));
  }

  /** Progress for watchers: the job's starter and admins (a publish can be missed: GET it to be sure). */
  private void published(JsonObject job) {
    JsonObject event = new JsonObject().put("type", "bulk.progress").put("bulk", job);
    vertx.eventBus().publish(Addresses.Events.user(job.getLong("owner_id")), event);
    vertx.eventBus().publish(Addresses.Events.ADMIN, event);
  }

  static JsonObject json(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("owner_id", row.getLong("owner_id"))
      .put("admin", row.getBoolean("admin"))
      .put("action", row.getString("action"))
      .put("filter", row.getJsonObject("filter"))
      .put("status", row.getString("status"))
      .put("matching", row.getLong("matching"))
      .put("done", row.getLong("done"))
      .put("max_task_id", row.getLong("max_task_id"))
      .put("last_task_id", row.getLong("last_task_id"))
      .put("error", row.getString("error"))
      .put("created_at", String.valueOf(row.getOffsetDateTime("created_at")))
      .put("updated_at", String.valueOf(row.getOffsetDateTime("updated_at")))
      .put("finished_at", row.getOffsetDateTime("finished_at") == null ? null : row.getOffsetDateTime("finished_at").toString());
  }
}
