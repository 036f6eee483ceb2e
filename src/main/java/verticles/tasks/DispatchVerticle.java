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
import verticles.common.Failure;
import verticles.common.Fields;
import verticles.common.Page;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;
import verticles.common.TaskTypes;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Owns tasks, schedules, queues and the Redis backlog. Answers the task API (submit, read,
 * cancel, retry, schedules, queue limits), and runs on every dispatch node the delivery loop
 * ({@link Dispatcher}) and the cron scheduler ({@link Scheduler}).
 */
public class DispatchVerticle extends VerticleBase {

  private static final JsonObject DEFAULT_BACKOFF = new JsonObject().put("kind", "exponential").put("base_ms", 1000).put("max_ms", 300_000);

  private Pool pool;
  private Backlog backlog;
  private TaskEvents events;
  private Dispatcher dispatcher;
  private Scheduler scheduler;
  private TaskMeters meters;
  /** Queues this verticle has already made sure exist in PostgreSQL (rows are never deleted). */
  private final Set<String> knownQueues = new HashSet<>();
  private final Set<String> toWake = new LinkedHashSet<>();
  private boolean wakeWindowOpen;
  private static final String HOUSEKEEPER = "tasks.housekeeper";
  private final String housekeeperToken = UUID.randomUUID().toString();

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    RedisAPI redis = RedisStore.client(vertx, config());
    backlog = new Backlog(redis);
    events = new TaskEvents(vertx);
    meters = new TaskMeters(BackendRegistries.getNow(config().getString(Config.NODE_NAME)));
    dispatcher = new Dispatcher(vertx, pool, backlog, events, config().getString(Config.NODE_NAME),
      config().getInteger(Config.TASK_LEASE_MS), shareOfNodeConcurrency(),
      config().getInteger(Config.TASK_RECONCILE_MS), meters);
    scheduler = new Scheduler(vertx, pool, this::insert);

    ServiceReplies.serve(vertx, Addresses.Tasks.SUBMIT, this::submit);
    ServiceReplies.serve(vertx, Addresses.Tasks.SUBMIT_BATCH, this::submitBatch);
    ServiceReplies.serve(vertx, Addresses.Tasks.GET, body -> owned(body.getLong("id")));
    ServiceReplies.serve(vertx, Addresses.Tasks.LIST, this::list);
    ServiceReplies.serve(vertx, Addresses.Tasks.CANCEL, this::cancel);
    ServiceReplies.serve(vertx, Addresses.Tasks.RETRY, this::retry);
    vertx.eventBus().<JsonObject>consumer(Addresses.Tasks.PROGRESS, message -> pool.preparedQuery(TaskSql.PROGRESS)
      .execute(Tuple.of(message.body().getLong("task_id"), message.body().getInteger("attempt"), message.body().getJsonObject("progress")))
      .onSuccess(rows -> rows.forEach(row -> events.changed(TaskJson.task(row)))));
    ServiceReplies.serve(vertx, Addresses.Schedules.CREATE, this::createSchedule);
    ServiceReplies.serve(vertx, Addresses.Schedules.GET, body -> ownedSchedule(body.getLong("id")).map(TaskJson::schedule));
    ServiceReplies.serve(vertx, Addresses.Schedules.LIST, this::listSchedules);
    ServiceReplies.serve(vertx, Addresses.Schedules.UPDATE, this::updateSchedule);
    ServiceReplies.serve(vertx, Addresses.Schedules.DELETE, this::deleteSchedule);
    ServiceReplies.serve(vertx, Addresses.Queues.LIST, body -> Caller.requireAdmin("see the queues").compose(ignored -> queueStats()));
    ServiceReplies.serve(vertx, Addresses.Queues.UPDATE, this::updateQueue);
    dispatcher.start(claimHousekeeping());
    scheduler.start();
    return new ServiceHealth(vertx, Role.DISPATCH, config()).postgres(pool).redis(redis).serve();
  }

  /** The first of the node's instances to start keeps house for the node (see Dispatcher#start); the others only dispatch. */
  private boolean claimHousekeeping() {
    return vertx.sharedData().<String, String>getLocalMap(HOUSEKEEPER).putIfAbsent(HOUSEKEEPER, housekeeperToken) == null;
  }

  /**
   * A node runs one of these per core (at most one per slot of TASK_NODE_CONCURRENCY), so that
   * submits, claims and outcomes are spread over the event loops instead of queueing on one.
   */
  public static int instances(JsonObject config) {
    return Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), config.getInteger(Config.TASK_NODE_CONCURRENCY)));
  }

  /** Each instance runs its share of the node's TASK_NODE_CONCURRENCY. */
  private int shareOfNodeConcurrency() {
    return (int) Math.ceil(config().getInteger(Config.TASK_NODE_CONCURRENCY) / (double) instances(config()));
  }

  /** SIGTERM: no lease is left behind (running tasks finish or go straight back to their queue). */
  @Override
  public Future<?> stop() {
    scheduler.stop();
    vertx.sharedData().getLocalMap(HOUSEKEEPER).remove(HOUSEKEEPER, housekeeperToken);
    return dispatcher.stop(Math.min(3000, config().getInteger(Config.SHUTDOWN_GRACE_MS)));
  }

  // ---- tasks ----

  private Future<JsonObject> submit(JsonObject body) {
    Caller caller = Caller.required();
    JsonObject spec = body.copy();
    spec.remove("Idempotency-Key");
    checkTask(spec, caller, "");
    OffsetDateTime runAt = runAt(spec, "");
    String key = body.getString("Idempotency-Key");
    return insert(caller.userId, spec, runAt, key, null, null).compose(created -> {
      if (created != null) {
        return Future.succeededFuture(created.put("replayed", false));
      }
      return pool.preparedQuery(TaskSql.FIND_BY_KEY).execute(Tuple.of(caller.userId, key))
        .map(rows -> TaskJson.task(rows.iterator().next()).put("replayed", true));
    });
  }

  /**
   * Inserts the row (PostgreSQL first: the truth), then pushes it to Redis after the commit.
   * Null when the idempotency key or the cron occurrence already has its task.
   */
  Future<JsonObject> insert(long owner, JsonObject spec, OffsetDateTime runAt, String key, Long scheduleId, String occurrence) {
    String queue = spec.getString("queue", "default");
    Tuple args = Tuple.of(owner, spec.getString("type"), queue, spec.getInteger("priority", 0),
        spec.getJsonObject("payload", new JsonObject()), spec.getInteger("max_attempts", 5))
      .addValue(spec.getJsonObject("backoff", DEFAULT_BACKOFF))
      .addValue(spec.getInteger("timeout_ms", 30_000))
      .addValue(runAt)
      .addValue(key)
      .addValue(scheduleId)
      .addValue(occurrence);
    return ensureQueues(Set.of(queue))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT).execute(args))
      .compose(rows -> {
        if (rows.size() == 0) {
          return Future.succeededFuture(null);
        }
        JsonObject task = TaskJson.task(rows.iterator().next());
        meters.submitted(task.getString("type")).increment();
        events.changed(task);
        Future<Void> pushed = "queued".equals(task.getString("status"))
          ? backlog.pushReady(queue, task.getLong("id"), task.getInteger("priority"))
          : backlog.pushDelayed(queue, task.getLong("id"), task.getInteger("priority"), runAt.toInstant().toEpochMilli());
        // A failed push loses nothing: the reconciler restores it from PostgreSQL.
        return pushed.otherwiseEmpty().map(ignored -> {
          wake(queue);
          return task;
        });
      });
  }

  /**
   * Up to 1,000 tasks of one caller, all or none: every item is checked first, then one INSERT
   * (one commit) makes them, and one Redis script per queue pushes them. Each answer item is
   * {id, status, replayed}, in request order; a replayed item's idempotency key already had a task.
   */
  private Future<JsonObject> submitBatch(JsonObject body) {
    Caller caller = Caller.required();
    JsonArray items = body.getJsonArray("tasks");
    int n = items.size();
    String[] types = new String[n];
    String[] queues = new String[n];
    Short[] priorities = new Short[n];
    String[] payloads = new String[n];
    Integer[] maxAttempts = new Integer[n];
    String[] backoffs = new String[n];
    Integer[] timeouts = new Integer[n];
    OffsetDateTime[] runAts = new OffsetDateTime[n];
    String[] keys = new String[n];
    for (int i = 0; i < n; i++) {
      JsonObject spec = items.getJsonObject(i);
      checkTask(spec, caller, "tasks." + i + ".");
      types[i] = spec.getString("type");
      queues[i] = spec.getString("queue", "default");
      priorities[i] = spec.getInteger("priority", 0).shortValue();
      payloads[i] = spec.getJsonObject("payload", new JsonObject()).encode();
      maxAttempts[i] = spec.getInteger("max_attempts", 5);
      backoffs[i] = spec.getJsonObject("backoff", DEFAULT_BACKOFF).encode();
      timeouts[i] = spec.getInteger("timeout_ms", 30_000);
      runAts[i] = runAt(spec, "tasks." + i + ".");
      keys[i] = spec.getString("idempotency_key");
    }
    Tuple args = Tuple.of(caller.userId, types, queues, priorities, payloads, maxAttempts)
      .addValue(backoffs).addValue(timeouts).addValue(runAts).addValue(keys);
    return ensureQueues(new HashSet<>(Arrays.asList(queues)))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT_MANY).execute(args))
      .compose(rows -> {
        JsonArray answer = new JsonArray();
        Map<String, List<long[]>> ready = new HashMap<>();
        Map<String, List<long[]>> later = new HashMap<>();
        List<Integer> replays = new ArrayList<>();
        int i = 0;
        for (Row row : rows) {
          String status = row.getString("status");
          if (status == null) {
            replays.add(i);
            answer.add(new JsonObject().put("id", null).put("status", null).put("replayed", true));
          } else {
            long id = row.getLong("id");
            answer.add(new JsonObject().put("id", id).put("status", status).put("replayed", false));
            meters.submitted(types[i]).increment();
            events.changed(new JsonObject().put("id", id).put("owner_id", caller.userId).put("type", types[i])
              .put("queue", queues[i]).put("priority", priorities[i]).put("status", status).put("attempts", 0)
              .put("max_attempts", maxAttempts[i]).put("run_at", runAts[i].toString()));
            long[] task = {id, priorities[i], runAts[i].toInstant().toEpochMilli()};
            ("queued".equals(status) ? ready : later).computeIfAbsent(queues[i], q -> new ArrayList<>()).add(task);
          }
          i++;
        }
        // A failed push loses nothing: the reconciler restores it from PostgreSQL.
        List<Future<?>> pushes = new ArrayList<>();
        ready.forEach((queue, tasks) -> pushes.add(backlog.pushReady(queue, tasks).otherwiseEmpty().onComplete(ignored -> wake(queue))));
        later.forEach((queue, tasks) -> pushes.add(backlog.pushDelayed(queue, tasks).otherwiseEmpty()));
        return Future.join(pushes).transform(ignored -> replayed(caller.userId, keys, replays, answer))
          .map(ignored -> new JsonObject().put("items", answer));
      });
  }

  /** Fills in the answer items of replayed keys (their indexes) with the task each key already had. */
  private Future<Void> replayed(long owner, String[] keys, List<Integer> replays, JsonArray answer) {
    if (replays.isEmpty()) {
      return Future.succeededFuture();
    }
    String[] replayedKeys = replays.stream().map(index -> keys[index]).toArray(String[]::new);
    return pool.preparedQuery(TaskSql.FIND_BY_KEYS).execute(Tuple.of(owner, (Object) replayedKeys)).map(rows -> {
      Map<String, Row> byKey = new HashMap<>();
      rows.forEach(row -> byKey.put(row.getString("idempotency_key"), row));
      for (int index : replays) {
        Row task = byKey.get(keys[index]);
        answer.getJsonObject(index).put("id", task.getLong("id")).put("status", task.getString("status"));
      }
      return null;
    });
  }

  /** Makes sure each queue has its row in PostgreSQL (once per queue and verticle: rows are never deleted). */
  private Future<Void> ensureQueues(Set<String> names) {
    List<Future<?>> inserts = new ArrayList<>();
    for (String queue : names) {
      if (!knownQueues.contains(queue)) {
        inserts.add(pool.preparedQuery(TaskSql.ENSURE_QUEUE).execute(Tuple.of(queue)).onSuccess(ignored -> knownQueues.add(queue)));
      }
    }
    return Future.all(inserts).mapEmpty();
  }

  /**
   * Tells every dispatcher that a queue has new work: at once for the first task, then at most
   * once per 1 ms window for a burst (the rest wait for the window's end), so a trickle of tasks
   * starts without delay and a flood does not flood the bus. Dispatchers also look every 100 ms.
   */
  private void wake(String queue) {
    if (wakeWindowOpen) {
      toWake.add(queue);
      return;
    }
    vertx.eventBus().publish(Dispatcher.WAKEUP, queue);
    wakeWindowOpen = true;
    vertx.setTimer(1, ignored -> {
      wakeWindowOpen = false;
      toWake.forEach(name -> vertx.eventBus().publish(Dispatcher.WAKEUP, name));
      toWake.clear();
    });
  }

  /** What the schema cannot say: the type must exist, and only the payer (or an admin) may move money. */
  private static void checkTask(JsonObject spec, Caller caller, String fieldPrefix) {
    String type = spec.getString("type");
    if (!TaskTypes.KNOWN.contains(type)) {
      throw Failure.invalid(fieldPrefix + "type", "unknown task type '" + type + "'; known: " + String.join(", ", new TreeSet<>(TaskTypes.KNOWN)));
    }
    if (spec.containsKey("run_at") && spec.containsKey("delay_ms")) {
      throw Failure.invalid(fieldPrefix + "run_at", "give run_at or delay_ms, not both");
    }
    if (TaskTypes.LEDGER_TRANSFER.equals(type)) {
      JsonObject payload = spec.getJsonObject("payload", new JsonObject());
      long payer = Fields.id(payload, "from_user_id", fieldPrefix + "payload.from_user_id");
      Fields.id(payload, "to_user_id", fieldPrefix + "payload.to_user_id");
      Fields.whole(payload, "amount", fieldPrefix + "payload.amount", 1, 1_000_000_000_000_000L);
      if (!caller.isAdmin() && payer != caller.userId) {
        throw Failure.FORBIDDEN.exception("only the payer or an admin may submit a ledger.transfer");
      }
    }
  }

  private static OffsetDateTime runAt(JsonObject spec, String fieldPrefix) {
    if (spec.containsKey("run_at")) {
      try {
        return OffsetDateTime.parse(spec.getString("run_at"));
      } catch (DateTimeParseException e) {
        // RFC 3339 allows what java.time does not (a leap second, "23:59:60Z").
        throw Failure.invalid(fieldPrefix + "run_at", "must be an ISO-8601 date-time with an offset");
      }
    }
    return OffsetDateTime.now(ZoneOffset.UTC).plusNanos(spec.getLong("delay_ms", 0L) * 1_000_000);
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

  private Future<JsonObject> list(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", 50);
    long before = query.getLong("cursor", Long.MAX_VALUE);
    Tuple args = Tuple.of(caller.isAdmin() ? null : caller.userId, query.getString("status"), query.getString("type"),
      query.getString("queue"), before, limit + 1);
    return pool.preparedQuery(TaskSql.PAGE).execute(args).map(rows -> Page.of(rows, limit, TaskJson::task, "id"));
  }

  private Future<JsonObject> cancel(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(task -> pool.preparedQuery(TaskSql.CANCEL).execute(Tuple.of(id))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.CONFLICT.exception("only a scheduled or queued task can be cancelled"));
      }
      JsonObject task = TaskJson.task(rows.iterator().next());
      events.changed(task);
      return backlog.forget(task.getString("queue"), id, task.getInteger("priority")).otherwiseEmpty().map(task);
    });
  }

  private Future<JsonObject> retry(JsonObject body) {
    long id = body.getLong("id");
    return owned(id).compose(task -> pool.preparedQuery(TaskSql.RETRY).execute(Tuple.of(id))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.CONFLICT.exception("only a failed or dead task can be retried"));
      }
      JsonObject task = TaskJson.task(rows.iterator().next());
      events.changed(task);
      return backlog.pushReady(task.getString("queue"), id, task.getInteger("priority")).otherwiseEmpty()
        .map(ignored -> {
          wake(task.getString("queue"));
          return task;
        });
    });
  }

  // ---- schedules ----

  private Future<JsonObject> createSchedule(JsonObject body) {
    Caller caller = Caller.required();
    JsonObject task = body.getJsonObject("task");
    checkTask(task, caller, "task.");
    CronSchedule cron = cron(body.getString("cron"), body.getString("timezone", "UTC"));
    OffsetDateTime next = cron.next(Instant.now()).atOffset(ZoneOffset.UTC);
    return pool.preparedQuery(TaskSql.SCHEDULE_INSERT).execute(Tuple.of(caller.userId, body.getString("name"), body.getString("cron"),
        body.getString("timezone", "UTC"), task, body.getBoolean("enabled", true)).addValue(next))
      .map(rows -> {
        JsonObject schedule = TaskJson.schedule(rows.iterator().next());
        events.scheduleChanged(schedule, "created");
        return schedule;
      });
  }

  private Future<Row> ownedSchedule(long id) {
    Caller caller = Caller.required();
    return pool.preparedQuery(TaskSql.SCHEDULE_FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no schedule " + id));
      }
      return Future.succeededFuture(row);
    });
  }

  private Future<JsonObject> listSchedules(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", 50);
    long after = query.getLong("cursor", 0L);
    return pool.preparedQuery(TaskSql.SCHEDULE_PAGE).execute(Tuple.of(caller.isAdmin() ? null : caller.userId, after, limit + 1))
      .map(rows -> Page.of(rows, limit, TaskJson::schedule, "id"));
  }

  private Future<JsonObject> updateSchedule(JsonObject body) {
    long id = body.getLong("id");
    return ownedSchedule(id).compose(row -> {
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

  private Future<Void> deleteSchedule(JsonObject body) {
    long id = body.getLong("id");
    return ownedSchedule(id).compose(row -> pool.preparedQuery(TaskSql.SCHEDULE_DELETE).execute(Tuple.of(id))
      .onSuccess(ignored -> events.scheduleChanged(TaskJson.schedule(row), "deleted"))).mapEmpty();
  }

  private static CronSchedule cron(String expression, String timezone) {
    try {
      return CronSchedule.parse(expression, timezone);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      int colon = message.indexOf(": ");
      throw Failure.invalid(message.substring(0, colon), message.substring(colon + 2));
    }
  }

  // ---- queues ----

  private Future<JsonObject> queueStats() {
    return pool.query(TaskSql.QUEUES).execute().compose(limits -> pool.query(TaskSql.QUEUE_COUNTS).execute().compose(counts -> {
      Map<String, Row> countsByQueue = new HashMap<>();
      counts.forEach(row -> countsByQueue.put(row.getString("queue"), row));
      JsonArray items = new JsonArray();
      List<Future<?>> depths = new ArrayList<>();
      for (Row limit : limits) {
        String name = limit.getString("name");
        Row count = countsByQueue.get(name);
        JsonObject item = new JsonObject().put("name", name).put("paused", limit.getBoolean("paused"))
          .put("concurrency", limit.getInteger("concurrency")).put("rate_per_s", limit.getInteger("rate_per_s"))
          .put("dead", count == null ? 0 : count.getLong("dead"))
          .put("completed_per_s", count == null ? 0.0 : count.getLong("done_last_minute") / 60.0);
        OffsetDateTime oldest = count == null ? null : count.getOffsetDateTime("oldest_ready");
        item.put("oldest_ready_age_ms", oldest == null ? null : Math.max(0, java.time.Duration.between(oldest, OffsetDateTime.now()).toMillis()));
        items.add(item);
        depths.add(backlog.depth(name).onSuccess(depth -> item.put("ready", depth[0]).put("delayed", depth[1]).put("running", depth[2])));
      }
      return Future.join(depths).transform(ignored -> Future.succeededFuture(new JsonObject().put("items", items)));
    }));
  }

  private Future<JsonObject> updateQueue(JsonObject body) {
    return Caller.requireAdmin("change a queue").compose(ignored -> pool.preparedQuery(TaskSql.UPDATE_QUEUE).execute(Tuple.of(body.getString("name"),
        body.getInteger("concurrency"), body.getInteger("rate_per_s"), body.getBoolean("paused"),
        body.containsKey("concurrency"), body.containsKey("rate_per_s"))))
      .compose(rows -> {
        Row row = rows.iterator().next();
        JsonObject queue = new JsonObject().put("name", row.getString("name")).put("concurrency", row.getInteger("concurrency"))
          .put("rate_per_s", row.getInteger("rate_per_s")).put("paused", row.getBoolean("paused"));
        return backlog.writeLimits(queue.getString("name"), queue.getBoolean("paused"), queue.getInteger("concurrency"),
          queue.getInteger("rate_per_s")).map(ignored -> {
            vertx.eventBus().publish(Dispatcher.LIMITS_CHANGED, queue.getString("name"));
            return queue;
          });
      });
  }

}
