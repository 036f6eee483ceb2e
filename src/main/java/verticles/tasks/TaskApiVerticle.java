package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Addresses;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.RedisStore;
import verticles.common.RequestContext;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;

import java.util.ArrayList;
import java.util.List;

/**
 * The task room's front desk (bus areas tasks.*, schedules.*, queues.*): submit, read, cancel,
 * retry, progress reports, schedules and queue limits. It owns the rows of tasks, schedules and
 * queues with the dispatchers and the housekeeper, and never runs a task itself.
 */
public class TaskApiVerticle extends VerticleBase {

  private Pool pool;
  private Backlog backlog;
  private TaskEvents events;
  private Submissions submissions;
  private Notifier notifier;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    RedisAPI redis = RedisStore.client(vertx, config());
    backlog = new Backlog(redis);
    events = new TaskEvents(vertx);
    submissions = new Submissions(vertx, pool, backlog, events, new TaskMeters(BackendRegistries.getNow(config().getString(Config.NODE_NAME))));
    Dependency postgres = Dependency.postgres(vertx, config(), pool);
    notifier = new Notifier(vertx, pool, postgres);
    Schedules schedules = new Schedules(pool, events, submissions);
    Queues queues = new Queues(vertx, pool, backlog);
    TaskSearch search = new TaskSearch(pool);
    BulkActions bulk = new BulkActions(vertx, pool, backlog, notifier, postgres, config().getString(Config.NODE_NAME),
      BackendRegistries.getNow(config().getString(Config.NODE_NAME)));

    ServiceReplies.serve(vertx, Addresses.Tasks.SUBMIT, this::submit);
    ServiceReplies.serve(vertx, Addresses.Tasks.SUBMIT_BATCH, this::submitBatch);
    ServiceReplies.serve(vertx, Addresses.Tasks.GET, body -> owned(body.getLong("id")));
    ServiceReplies.serve(vertx, Addresses.Tasks.LIST, search::page);
    ServiceReplies.serve(vertx, Addresses.Tasks.ATTEMPTS, search::attempts);
    ServiceReplies.serve(vertx, Addresses.Tasks.DEAD_GROUPS, search::deadGroups);
    ServiceReplies.serve(vertx, Addresses.Tasks.LATENCY, search::latency);
    ServiceReplies.serve(vertx, Addresses.Tasks.RUNNING_BY_NODE, search::runningByNode);
    ServiceReplies.serve(vertx, Addresses.Tasks.BULK_COUNT, bulk::count);
    ServiceReplies.serve(vertx, Addresses.Tasks.BULK, bulk::start);
    ServiceReplies.serve(vertx, Addresses.Tasks.BULK_GET, bulk::get);
    vertx.setPeriodic(10_000, ignored -> bulk.sweep());
    ServiceReplies.serve(vertx, Addresses.Tasks.CANCEL, this::cancel);
    ServiceReplies.serve(vertx, Addresses.Tasks.RETRY, this::retry);
    vertx.eventBus().<JsonObject>consumer(Addresses.Tasks.PROGRESS, message -> progress(message.body()));
    ServiceReplies.serve(vertx, Addresses.Schedules.CREATE, schedules::create);
    ServiceReplies.serve(vertx, Addresses.Schedules.GET, schedules::get);
    ServiceReplies.serve(vertx, Addresses.Schedules.LIST, schedules::list);
    ServiceReplies.serve(vertx, Addresses.Schedules.UPDATE, schedules::update);
    ServiceReplies.serve(vertx, Addresses.Schedules.DELETE, schedules::delete);
    ServiceReplies.serve(vertx, Addresses.Schedules.RUN, schedules::run);
    ServiceReplies.serve(vertx, Addresses.Queues.LIST, queues::list);
    ServiceReplies.serve(vertx, Addresses.Queues.UPDATE, queues::update);
    return new ServiceHealth(vertx, Role.DISPATCH, config()).postgres(pool).redis(redis).serve();
  }

  /** A new task ({@code replayed: false}), or the task its idempotency key already made ({@code replayed: true}). */
  private Future<JsonObject> submit(JsonObject body) {
    Caller caller = Caller.required();
    TaskSpec spec = TaskSpec.parse(body, caller, "", RequestContext.idempotencyKey());
    return submissions.submit(caller.userId(), spec).map(made -> made.task().copy().put("replayed", made.replayed()));
  }

  /** Every item is checked before anything is written: one bad item refuses the batch, naming it. */
  private Future<JsonObject> submitBatch(JsonObject body) {
    Caller caller = Caller.required();
    JsonArray items = body.getJsonArray("tasks");
    List<TaskSpec> specs = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      JsonObject item = items.getJsonObject(i);
      specs.add(TaskSpec.parse(item, caller, "tasks." + i + ".", item.getString("idempotency_key")));
    }
    return submissions.insertBatch(caller.userId(), specs);
  }

  /** The task, if the caller owns it or is an admin; 404 otherwise. */
  private Future<JsonObject> owned(long id) {
    Caller caller = Caller.required();
    return pool.preparedQuery(TaskSql.FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no task " + id));
      }
      return Future.succeededFuture(TaskJson.task(row));
    });
  }

  private Future<JsonObject> cancel(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(task -> pool.preparedQuery(TaskSql.CANCEL).execute(Tuple.of(id))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.WRONG_STATE.exception("only a scheduled or queued task can be cancelled"));
      }
      JsonObject task = TaskJson.task(rows.iterator().next());
      events.changed(task);
      notifier.deliver(rows);
      return backlog.forget(task.getString("queue"), id, task.getInteger("priority")).otherwiseEmpty().map(task);
    });
  }

  private Future<JsonObject> retry(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(task -> pool.preparedQuery(TaskSql.RETRY).execute(Tuple.of(id))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.WRONG_STATE.exception("only a failed or dead task can be retried"));
      }
      JsonObject task = TaskJson.task(rows.iterator().next());
      events.changed(task);
      String queue = task.getString("queue");
      return backlog.pushReady(queue, List.of(new Backlog.Waiting(id, task.getInteger("priority"), 0))).otherwiseEmpty()
        .map(ignored -> {
          submissions.wake(queue);
          return task;
        });
    });
  }

  /** A handler's report ({task_id, attempt, progress}); fenced: a late report of a lost attempt changes nothing. */
  private void progress(JsonObject report) {
    pool.preparedQuery(TaskSql.PROGRESS)
      .execute(Tuple.of(report.getLong("task_id"), report.getInteger("attempt"), report.getJsonObject("progress")))
      .onSuccess(rows -> rows.forEach(row -> events.changed(TaskJson.task(row))));
  }
}
