package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Addresses;
import verticles.common.Tracing;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes tasks: the row in PostgreSQL first (the truth), then, after the commit, the id in the
 * Redis backlog, and a wake-up for the dispatchers. A push that fails loses nothing: the
 * reconciler restores it from PostgreSQL. Used by the task API and by the cron scheduler. Each task
 * keeps the trace context of the request that made it, so that its execution joins that trace.
 */
final class Submissions {

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;
  private final TaskEvents events;
  private final TaskMeters meters;
  /** Queues already known to have their row in PostgreSQL (rows are never deleted). */
  private final Set<String> knownQueues = new HashSet<>();
  private final Set<String> toWake = new LinkedHashSet<>();
  private boolean wakeWindowOpen;

  Submissions(Vertx vertx, Pool pool, Backlog backlog, TaskEvents events, TaskMeters meters) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
    this.events = events;
    this.meters = meters;
  }

  /** The new task, or null when its idempotency key or cron occurrence already has one. */
  Future<JsonObject> insert(long owner, TaskSpec spec, Long scheduleId, String occurrence) {
    Tuple args = Tuple.of(owner, spec.type(), spec.queue(), spec.priority(), spec.payload(), spec.maxAttempts())
      .addValue(spec.backoff().json())
      .addValue(spec.timeoutMs())
      .addValue(spec.runAt())
      .addValue(spec.idempotencyKey())
      .addValue(scheduleId)
      .addValue(occurrence)
      .addValue(spec.notifyAddress())
      .addValue(Tracing.current());
    return ensureQueues(Set.of(spec.queue()))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT).execute(args))
      .compose(rows -> {
        if (rows.size() == 0) {
          return Future.succeededFuture(null);
        }
        JsonObject task = TaskJson.task(rows.iterator().next());
        meters.submitted(spec.type()).increment();
        events.changed(task);
        List<Backlog.Waiting> one = List.of(new Backlog.Waiting(task.getLong("id"), spec.priority(), spec.runAt().toInstant().toEpochMilli()));
        boolean ready = "queued".equals(task.getString("status"));
        return (ready ? backlog.pushReady(spec.queue(), one) : backlog.pushDelayed(spec.queue(), one)).otherwiseEmpty().map(ignored -> {
          if (ready) {
            wake(spec.queue());
          }
          return task;
        });
      });
  }

  /**
   * Up to 1,000 tasks of one owner, all or none, in one INSERT (one commit) and one Redis script
   * per queue. Each answer item is {id, status, replayed}, in request order; a replayed item's
   * idempotency key already had a task.
   */
  Future<JsonObject> insertBatch(long owner, List<TaskSpec> specs) {
    int n = specs.size();
    String[] types = new String[n];
    String[] queues = new String[n];
    Short[] priorities = new Short[n];
    String[] payloads = new String[n];
    Integer[] maxAttempts = new Integer[n];
    String[] backoffs = new String[n];
    Integer[] timeouts = new Integer[n];
    OffsetDateTime[] runAts = new OffsetDateTime[n];
    String[] keys = new String[n];
    String[] notify = new String[n];
    for (int i = 0; i < n; i++) {
      TaskSpec spec = specs.get(i);
      types[i] = spec.type();
      queues[i] = spec.queue();
      priorities[i] = (short) spec.priority();
      payloads[i] = spec.payload().encode();
      maxAttempts[i] = spec.maxAttempts();
      backoffs[i] = spec.backoff().json().encode();
      timeouts[i] = spec.timeoutMs();
      runAts[i] = spec.runAt();
      keys[i] = spec.idempotencyKey();
      notify[i] = spec.notifyAddress();
    }
    Tuple args = Tuple.of(owner, types, queues, priorities, payloads, maxAttempts)
      .addValue(backoffs).addValue(timeouts).addValue(runAts).addValue(keys).addValue(notify).addValue(Tracing.current());
    return ensureQueues(new HashSet<>(List.of(queues)))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT_MANY).execute(args))
      .compose(rows -> {
        JsonArray answer = new JsonArray();
        Map<String, List<Backlog.Waiting>> ready = new HashMap<>();
        Map<String, List<Backlog.Waiting>> later = new HashMap<>();
        List<Integer> replays = new ArrayList<>();
        int i = 0;
        for (Row row : rows) {
          String status = row.getString("status");
          TaskSpec spec = specs.get(i);
          if (status == null) {
            replays.add(i);
            answer.add(new JsonObject().put("id", null).put("status", null).put("replayed", true));
          } else {
            long id = row.getLong("id");
            answer.add(new JsonObject().put("id", id).put("status", status).put("replayed", false));
            meters.submitted(spec.type()).increment();
            events.changed(new JsonObject().put("id", id).put("owner_id", owner).put("type", spec.type())
              .put("queue", spec.queue()).put("priority", spec.priority()).put("status", status).put("attempts", 0)
              .put("max_attempts", spec.maxAttempts()).put("run_at", spec.runAt().toString()));
            Backlog.Waiting task = new Backlog.Waiting(id, spec.priority(), spec.runAt().toInstant().toEpochMilli());
            ("queued".equals(status) ? ready : later).computeIfAbsent(spec.queue(), q -> new ArrayList<>()).add(task);
          }
          i++;
        }
        List<Future<?>> pushes = new ArrayList<>();
        ready.forEach((queue, tasks) -> pushes.add(backlog.pushReady(queue, tasks).otherwiseEmpty().onComplete(ignored -> wake(queue))));
        later.forEach((queue, tasks) -> pushes.add(backlog.pushDelayed(queue, tasks).otherwiseEmpty()));
        return Future.join(pushes).transform(ignored -> replayed(owner, keys, replays, answer))
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
  void wake(String queue) {
    if (wakeWindowOpen) {
      toWake.add(queue);
      return;
    }
    vertx.eventBus().publish(Addresses.Tasks.WAKEUP, queue);
    wakeWindowOpen = true;
    vertx.setTimer(1, ignored -> {
      wakeWindowOpen = false;
      toWake.forEach(name -> vertx.eventBus().publish(Addresses.Tasks.WAKEUP, name));
      toWake.clear();
    });
  }
}
