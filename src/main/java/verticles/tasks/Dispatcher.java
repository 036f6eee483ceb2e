package verticles.tasks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Failure;
import verticles.common.RequestContext;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Moves tasks from the Redis backlog to their handlers on the bus, on every node that has the
 * dispatch role: takes ready ids with a lease, claims them in PostgreSQL (the attempt number is
 * the fencing token), sends each to {@code task.<type>}, and records the outcome: success,
 * a retry after backoff with jitter, or failed/dead. Alongside: lease renewal, a reaper for
 * leases whose holder died, a promoter for due delayed tasks, and a reconciler that puts back
 * into Redis whatever PostgreSQL says is waiting and Redis lacks.
 */
final class Dispatcher {

  private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
  static final String WAKEUP = "tasks.wakeup";
  /** A queue's limits changed (e.g. unpaused): look at it again now rather than at the next refresh. */
  static final String LIMITS_CHANGED = "tasks.limits.changed";

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;
  private final TaskEvents events;
  private final String node;
  private final long leaseMs;
  private final int capacity;
  private final long reconcileMs;
  private final MeterRegistry metrics;
  private final TaskMeters meters;

  /** Leases this node holds, until the outcome is written: task id → {queue, attempt}. */
  private final Map<Long, Object[]> inFlight = new HashMap<>();
  /** Tasks whose handler has not answered yet: these are what the capacity limits. */
  private int running;
  private boolean pollQueued;
  private final Set<String> queues = new LinkedHashSet<>(List.of("default"));
  private final Map<String, long[]> depths = new ConcurrentHashMap<>();
  private final Map<String, Double> oldestReady = new ConcurrentHashMap<>();
  /** Paused queues as of the last refresh: not asked for work (Redis would refuse it anyway). */
  private final Set<String> paused = new HashSet<>();
  private final List<Long> timers = new ArrayList<>();
  private final List<Success> successes = new ArrayList<>();
  /** Ids taken from Redis whose claim in PostgreSQL is under way: they hold slots too. */
  private int claiming;
  private boolean flushPending;
  private boolean polling;
  private boolean pollAgain;
  private boolean stopping;
  private boolean keepsHouse;
  /** Apart from the other timers: leases are renewed until the very end of a stop, while tasks finish. */
  private long renewTimer;

  Dispatcher(Vertx vertx, Pool pool, Backlog backlog, TaskEvents events, String node, long leaseMs, int capacity,
             long reconcileMs, TaskMeters meters) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
    this.events = events;
    this.node = node;
    this.leaseMs = leaseMs;
    this.capacity = capacity;
    this.reconcileMs = reconcileMs;
    this.metrics = meters.registry();
    this.meters = meters;
  }

  /**
   * Every dispatcher takes work, renews its own leases and follows the queues' limits. The one
   * that keeps house for its node ({@code keepsHouse}) also promotes due delayed tasks, expires
   * leases, reaps, reconciles and keeps the gauges: once per node is enough, and the reaper's
   * and reconciler's index walks are what a busy PostgreSQL feels.
   */
  void start(boolean keepsHouse) {
    this.keepsHouse = keepsHouse;
    vertx.eventBus().<String>consumer(WAKEUP, message -> {
      if (message.body() != null) {
        queues.add(message.body());  // a queue this node has not seen yet starts at once, not at the next refresh
      }
      poll();
    });
    vertx.eventBus().<String>consumer(LIMITS_CHANGED, message -> {
      paused.remove(message.body());
      poll();
    });
    timers.add(vertx.setPeriodic(100, ignored -> poll()));
    renewTimer = vertx.setPeriodic(Math.max(100, leaseMs / 3), ignored -> renew());
    timers.add(vertx.setPeriodic(2000, ignored -> refreshQueues()));
    if (keepsHouse) {
      timers.add(vertx.setPeriodic(200, ignored -> promote()));
      timers.add(vertx.setPeriodic(1000, ignored -> expireLeases()));
      timers.add(vertx.setPeriodic(reconcileMs, ignored -> {
        reap();
        reconcile();
      }));
    }
    refreshQueues();
  }

  // ---- taking and delivering ----

  void poll() {
    if (stopping) {
      return;
    }
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    takeFrom(new ArrayList<>(queues), 0, 0).onComplete(taken -> {
      polling = false;
      boolean more = taken.succeeded() && taken.result() > 0;
      if (more || pollAgain) {
        pollAgain = false;
        vertx.runOnContext(ignored -> poll());
      }
    });
  }

  /**
   * Takes from each queue in turn as many ids as there are free slots. The claim in PostgreSQL
   * runs on its own: the next take does not wait for it (its ids hold their slots meanwhile), so
   * one slow commit does not hold up the tasks behind it.
   */
  private Future<Integer> takeFrom(List<String> names, int index, int taken) {
    // A slot is free once its handler answered; writing the outcome is bookkeeping, not work.
    // Outcomes not yet written are bounded too, so a slow database slows the taking down.
    int free = Math.min(capacity - running - claiming, 4 * capacity - inFlight.size() - claiming);
    if (index >= names.size() || free <= 0) {
      return Future.succeededFuture(taken);
    }
    String queue = names.get(index);
    if (paused.contains(queue)) {
      return takeFrom(names, index + 1, taken);
    }
    return backlog.take(queue, free, leaseMs)
      .map(ids -> {
        if (!ids.isEmpty()) {
          claiming += ids.size();
          claim(queue, ids).onComplete(claimed -> {
            claiming -= ids.size();
            if (claimed.failed()) {
              // The ids stay leased in Redis until their lease ends; then the reconciler puts them back.
              log.warn("claiming {} task(s) of queue {} failed: {}", ids.size(), queue, claimed.cause().toString());
            }
            poll();
          });
        }
        return ids.size();
      })
      .otherwise(error -> {
        log.warn("taking from queue {} failed: {}", queue, error.toString());
        return 0;
      })
      .compose(count -> takeFrom(names, index + 1, taken + count));
  }

  private Future<Integer> claim(String queue, List<Long> ids) {
    return pool.preparedQuery(TaskSql.CLAIM).execute(Tuple.of(inLockOrder(ids), leaseMs, node)).compose(rows -> {
      Set<Long> claimed = new HashSet<>();
      for (Row row : rows) {
        claimed.add(row.getLong("id"));
        deliver(TaskJson.task(row));
      }
      List<Long> unclaimed = new ArrayList<>(ids);
      unclaimed.removeAll(claimed);
      return putBack(queue, unclaimed).map(claimed.size());
    });
  }

  /** Ids Redis handed out that PostgreSQL would not let us run: cancelled or finished ones are dropped, early ones go back. */
  private Future<Void> putBack(String queue, List<Long> ids) {
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    return backlog.release(queue, ids)
      .compose(ignored -> pool.preparedQuery(TaskSql.STILL_WAITING).execute(Tuple.of((Object) ids.toArray(new Long[0]))))
      .compose(rows -> {
        List<long[]> early = new ArrayList<>();
        for (Row row : rows) {
          early.add(new long[] {row.getLong("id"), row.getShort("priority"), row.getOffsetDateTime("run_at").toInstant().toEpochMilli()});
        }
        return backlog.pushDelayed(queue, early);
      });
  }

  private void deliver(JsonObject task) {
    long id = task.getLong("id");
    int attempt = task.getInteger("attempts");
    String queue = task.getString("queue");
    inFlight.put(id, new Object[] {queue, attempt});
    events.changed(task);
    recordWait(task);
    JsonObject body = task.getJsonObject("payload").copy();
    if ("ledger.transfer".equals(task.getString("type"))) {
      body.put("idempotency_key", "task:" + id);
    }
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(task.getInteger("timeout_ms"))
      .addHeader(RequestContext.REQUEST_ID_HEADER, "task-" + id + "-" + attempt)
      .addHeader(RequestContext.USER_ID_HEADER, String.valueOf(task.getLong("owner_id")))
      .addHeader(RequestContext.ROLES_HEADER, "user")
      .addHeader("x-task-id", String.valueOf(id))
      .addHeader("x-attempt", String.valueOf(attempt))
      .addHeader("x-timeout-ms", String.valueOf(task.getInteger("timeout_ms") * 9 / 10));
    Timer.Sample duration = Timer.start(metrics);
    running++;
    vertx.eventBus().<Object>request(Addresses.Tasks.handler(task.getString("type")), body, options)
      .onComplete(result -> {
        duration.stop(meters.duration(task.getString("type")));
        running--;
        pollSoon();
        finish(task, attempt, result);
      });
  }

  /** Polls once the answers already queued on this event loop are handled: one take for a burst of them. */
  private void pollSoon() {
    if (!pollQueued) {
      pollQueued = true;
      vertx.runOnContext(ignored -> {
        pollQueued = false;
        poll();
      });
    }
  }

  private void finish(JsonObject task, int attempt, AsyncResult<Message<Object>> result) {
    long id = task.getLong("id");
    String queue = task.getString("queue");
    String type = task.getString("type");
    if (result.succeeded()) {
      Object reply = result.result().body();
      JsonObject stored = reply instanceof JsonObject ? (JsonObject) reply : new JsonObject().put("value", reply);
      meters.completed(type, "succeeded").increment();
      recordSuccess(new Success(id, attempt, stored.encode(), queue));
      return;
    }
    Failure failure = Failure.of(result.cause());
    String error = failure.name().toLowerCase() + ": " + result.cause().getMessage();
    boolean retry = failure.retryable && attempt < task.getInteger("max_attempts");
    OffsetDateTime next = retry ? OffsetDateTime.now().plus(Duration.ofMillis(backoffMs(task.getJsonObject("backoff"), attempt))) : null;
    String outcome = retry ? "retried" : failure.retryable ? "dead" : "failed";
    meters.completed(type, outcome).increment();
    pool.preparedQuery(TaskSql.FAIL).execute(Tuple.of(id, attempt, retry ? "queued" : outcome, error, next))
      .compose(rows -> {
        if (rows.size() == 0) {
          fencedOut(id, attempt);
          return Future.succeededFuture();
        }
        JsonObject now = TaskJson.task(rows.iterator().next());
        events.changed(now);
        return "queued".equals(now.getString("status"))
          ? backlog.pushDelayed(queue, id, now.getInteger("priority"), OffsetDateTime.parse(now.getString("run_at")).toInstant().toEpochMilli())
          : Future.succeededFuture();
      })
      .eventually(() -> backlog.release(queue, id))
      .onFailure(cause -> log.warn("recording the outcome of task {} failed: {} (the reaper will redeliver it)", id, cause.toString()))
      .onComplete(ignored -> {
        inFlight.remove(id);
        poll();
      });
  }

  private static void fencedOut(long id, int attempt) {
    log.info("task {} attempt {} finished after losing its lease; its outcome is ignored", id, attempt);
  }

  /**
   * Successes are written in batches (up to 256, or whatever arrived within 2 ms): one
   * statement and one commit for many tasks, then one Redis release per queue, and the slots
   * they held are free.
   */
  private void recordSuccess(Success success) {
    successes.add(success);
    if (successes.size() >= 256) {
      flushSuccesses();
    } else if (!flushPending) {
      flushPending = true;
      vertx.setTimer(2, ignored -> flushSuccesses());
    }
  }

  private void flushSuccesses() {
    flushPending = false;
    if (successes.isEmpty()) {
      return;
    }
    List<Success> batch = new ArrayList<>(successes);
    successes.clear();
    batch.sort(Comparator.comparingLong(success -> success.id));  // lock order: see inLockOrder
    Long[] ids = new Long[batch.size()];
    Integer[] attempts = new Integer[batch.size()];
    String[] results = new String[batch.size()];
    Map<String, List<Long>> byQueue = new HashMap<>();
    for (int i = 0; i < batch.size(); i++) {
      Success success = batch.get(i);
      ids[i] = success.id;
      attempts[i] = success.attempt;
      results[i] = success.result;
      byQueue.computeIfAbsent(success.queue, q -> new ArrayList<>()).add(success.id);
    }
    pool.preparedQuery(TaskSql.SUCCEED).execute(Tuple.of(ids, attempts, results))
      .map(rows -> {
        Set<Long> done = new HashSet<>();
        for (Row row : rows) {
          done.add(row.getLong("id"));
          events.changed(TaskJson.task(row));
        }
        batch.stream().filter(success -> !done.contains(success.id)).forEach(success -> fencedOut(success.id, success.attempt));
        return null;
      })
      .onFailure(error -> log.warn("recording {} successes failed: {} (the reaper will redeliver them)", batch.size(), error.toString()))
      .transform(ignored -> release(byQueue))
      .onComplete(ignored -> {
        batch.forEach(success -> inFlight.remove(success.id));
        poll();
      });
  }

  /**
   * Ids sorted ascending. Every statement that updates many tasks (claim, succeed, renew) walks
   * its ids in this order, so two of them never lock the same rows in opposite orders (a
   * renewal and a success batch did deadlock before).
   */
  private static Long[] inLockOrder(Collection<Long> ids) {
    Long[] sorted = ids.toArray(new Long[0]);
    Arrays.sort(sorted);
    return sorted;
  }

  private static final class Success {
    final long id;
    final int attempt;
    final String result;
    final String queue;

    Success(long id, int attempt, String result, String queue) {
      this.id = id;
      this.attempt = attempt;
      this.result = result;
      this.queue = queue;
    }
  }

  /** Exponential (base × 2^(attempt-1), capped) or fixed, each with ±20 % jitter so retries do not stampede. */
  static long backoffMs(JsonObject backoff, int attempt) {
    long base = backoff.getLong("base_ms", 1000L);
    long max = backoff.getLong("max_ms", 300_000L);
    double delay = "fixed".equals(backoff.getString("kind")) ? base : base * Math.pow(2, Math.min(attempt - 1, 40));
    double jitter = 0.8 + 0.4 * ThreadLocalRandom.current().nextDouble();
    return (long) Math.min(max, delay * jitter);
  }

  private void recordWait(JsonObject task) {
    String queuedAt = task.getString("queued_at");
    if (task.getInteger("attempts") == 1 && task.getString("created_at") != null) {
      Duration wait = Duration.between(OffsetDateTime.parse(queuedAt != null ? queuedAt : task.getString("created_at")),
        OffsetDateTime.parse(task.getString("started_at")));
      meters.wait(task.getString("queue")).record(wait.isNegative() ? Duration.ZERO : wait);
    }
  }

  // ---- housekeeping ----

  private void renew() {
    byQueue(inFlight).forEach((queue, ids) -> pool.preparedQuery(TaskSql.RENEW).execute(Tuple.of(inLockOrder(ids), leaseMs, node))
      .compose(ignored -> backlog.renew(queue, ids, leaseMs))
      .onFailure(error -> log.warn("renewing leases failed: {}", error.toString())));
  }

  private void promote() {
    for (String queue : new ArrayList<>(queues)) {
      backlog.promote(queue).compose(ids -> ids.isEmpty() ? Future.succeededFuture()
          : pool.preparedQuery(TaskSql.MARK_QUEUED).execute(Tuple.of((Object) inLockOrder(ids))).map(rows -> {
            rows.forEach(row -> events.changed(TaskJson.task(row)));
            vertx.eventBus().publish(WAKEUP, queue);
            return null;
          }))
        .onFailure(error -> log.debug("promoting {} failed: {}", queue, error.toString()));
    }
  }

  /**
   * Leases nobody renewed: their holder died. Redis drops them and names them, and PostgreSQL
   * requeues (or buries) those tasks, looked up by id: one to two seconds after a lease's end.
   */
  private void expireLeases() {
    for (String queue : new ArrayList<>(queues)) {
      backlog.expireLeases(queue)
        .compose(ids -> ids.isEmpty() ? Future.succeededFuture()
          : pool.preparedQuery(TaskSql.REAP_IDS).execute(Tuple.of((Object) inLockOrder(ids))).compose(this::reaped))
        .onFailure(error -> log.warn("expiring leases of {} failed: {} (the reaper will find them)", queue, error.toString()));
    }
  }

  /** The reaper proper, every reconcile period: every lease PostgreSQL sees expired, also those Redis lost. */
  private void reap() {
    pool.query(TaskSql.REAP).execute().compose(this::reaped)
      .onFailure(error -> log.warn("reaping expired leases failed: {}", error.toString()));
  }

  /** Reaped tasks: their Redis leases end too (the reaper proper finds some before Redis drops them), the queued ones go back. */
  private Future<Void> reaped(RowSet<Row> rows) {
    Map<String, List<Long>> leases = new HashMap<>();
    for (Row row : rows) {
      log.warn("task {} lost its worker ({}); now {}", row.getLong("id"), row.getString("last_error"), row.getString("status"));
      leases.computeIfAbsent(row.getString("queue"), q -> new ArrayList<>()).add(row.getLong("id"));
    }
    return release(leases).compose(ignored -> requeued(rows)).onSuccess(ignored -> {
      if (rows.size() > 0) {
        poll();
      }
    });
  }

  /** Ends the Redis leases of these ids (per queue), one call per queue; fails if any call failed, once all are done. */
  private Future<Void> release(Map<String, List<Long>> idsByQueue) {
    List<Future<?>> releases = new ArrayList<>();
    idsByQueue.forEach((queue, ids) -> releases.add(backlog.release(queue, ids)));
    return Future.join(releases).mapEmpty();
  }

  /** Held leases (id → {queue, attempt}) as their ids per queue. */
  private static Map<String, List<Long>> byQueue(Map<Long, Object[]> leases) {
    Map<String, List<Long>> byQueue = new HashMap<>();
    leases.forEach((id, holder) -> byQueue.computeIfAbsent((String) holder[0], q -> new ArrayList<>()).add(id));
    return byQueue;
  }

  /** Rows PostgreSQL changed (reaped, or handed back): published, and the queued ones pushed, one script per queue. */
  private Future<Void> requeued(Iterable<Row> rows) {
    Map<String, List<long[]>> ready = new HashMap<>();
    for (Row row : rows) {
      JsonObject task = TaskJson.task(row);
      events.changed(task);
      if ("queued".equals(task.getString("status"))) {
        ready.computeIfAbsent(task.getString("queue"), q -> new ArrayList<>()).add(new long[] {task.getLong("id"), task.getInteger("priority")});
      }
    }
    List<Future<?>> pushes = new ArrayList<>();
    ready.forEach((queue, tasks) -> pushes.add(backlog.pushReady(queue, tasks)));
    return Future.all(pushes).mapEmpty();
  }

  /** PostgreSQL is the truth: every waiting task it knows and Redis lacks (a flush, a lost write) goes back. */
  private void reconcile() {
    pool.query(TaskSql.WAITING).execute().onSuccess(rows -> {
      Map<String, List<long[]>> byQueue = new HashMap<>();
      for (Row row : rows) {
        byQueue.computeIfAbsent(row.getString("queue"), q -> new ArrayList<>())
          .add(new long[] {row.getLong("id"), row.getShort("priority"), row.getOffsetDateTime("run_at").toInstant().toEpochMilli()});
      }
      byQueue.forEach((queue, waiting) -> {
        queues.add(queue);
        backlog.restore(queue, waiting).compose(restored -> confirm(queue, waiting, restored)).onSuccess(restored -> {
          if (restored > 0) {
            log.warn("reconciler put {} task(s) of queue {} back into Redis", restored, queue);
            Counter.builder("pulse.tasks.reconciled").tag("queue", queue).register(metrics).increment(restored);
            poll();
          }
        });
      });
    }).onFailure(error -> log.warn("reconciling failed: {}", error.toString()));
  }

  /**
   * The reconciler's second look: a task may have finished between its PostgreSQL read and the
   * Redis check. Those are taken out again (harmless either way: the claim would refuse them)
   * and not counted; the rest were really missing.
   */
  private Future<Integer> confirm(String queue, List<long[]> waiting, List<Long> restored) {
    if (restored.isEmpty()) {
      return Future.succeededFuture(0);
    }
    return pool.preparedQuery(TaskSql.STILL_WAITING).execute(Tuple.of((Object) restored.toArray(new Long[0]))).compose(rows -> {
      Set<Long> still = new HashSet<>();
      rows.forEach(row -> still.add(row.getLong("id")));
      List<Future<?>> undone = new ArrayList<>();
      for (long[] task : waiting) {
        if (restored.contains(task[0]) && !still.contains(task[0])) {
          undone.add(backlog.forget(queue, task[0], (int) task[1]));
        }
      }
      return Future.join(undone).map(still.size());
    });
  }

  /**
   * Queue names and limits from PostgreSQL, the truth; the housekeeper writes them to Redis (which
   * may have lost them) and refreshes the depth gauges.
   */
  private void refreshQueues() {
    pool.query(TaskSql.QUEUES).execute().compose(rows -> {
      List<Future<?>> writes = new ArrayList<>();
      paused.clear();
      for (Row row : rows) {
        queues.add(row.getString("name"));
        if (row.getBoolean("paused")) {
          paused.add(row.getString("name"));
        }
        if (keepsHouse) {
          writes.add(backlog.writeLimits(row.getString("name"), row.getBoolean("paused"), row.getInteger("concurrency"),
            row.getInteger("rate_per_s")));
        }
      }
      return Future.all(writes);
    }).compose(ignored -> backlog.queues()).compose(names -> {
      queues.addAll(names);
      return keepsHouse ? refreshGauges() : Future.succeededFuture();
    }).onFailure(error -> log.debug("refreshing queues failed: {}", error.toString()));
  }

  private Future<Void> refreshGauges() {
    for (String queue : queues) {
      backlog.depth(queue).onSuccess(depth -> {
        if (depths.put(queue, depth) == null) {
          Gauge.builder("pulse.tasks.ready", depths, d -> d.getOrDefault(queue, new long[3])[0]).tag("queue", queue).register(metrics);
          Gauge.builder("pulse.tasks.delayed", depths, d -> d.getOrDefault(queue, new long[3])[1]).tag("queue", queue).register(metrics);
          Gauge.builder("pulse.tasks.running", depths, d -> d.getOrDefault(queue, new long[3])[2]).tag("queue", queue).register(metrics);
          Gauge.builder("pulse.tasks.oldest.ready", oldestReady, o -> o.getOrDefault(queue, 0.0)).baseUnit("seconds")
            .description("how long the oldest ready task has waited").tag("queue", queue).register(metrics);
        }
      });
    }
    return pool.query(TaskSql.OLDEST_READY).execute().map(rows -> {
      Map<String, Double> ages = new HashMap<>();
      rows.forEach(row -> ages.put(row.getString("queue"), row.getDouble("age")));
      queues.forEach(queue -> oldestReady.put(queue, ages.getOrDefault(queue, 0.0)));
      return null;
    });
  }

  /**
   * Stops taking work, lets what runs here finish for up to {@code graceMs} (still renewing their
   * leases, so no other node takes them meanwhile), then hands the rest back to the queue at once
   * (no lease is left to expire).
   */
  Future<Void> stop(long graceMs) {
    stopping = true;
    timers.forEach(vertx::cancelTimer);
    long deadline = System.currentTimeMillis() + graceMs;
    return drain(deadline).compose(ignored -> {
      vertx.cancelTimer(renewTimer);
      if (inFlight.isEmpty()) {
        return Future.succeededFuture();
      }
      Map<Long, Object[]> left = new HashMap<>(inFlight);
      return pool.preparedQuery(TaskSql.RETURN_LEASES).execute(Tuple.of(inLockOrder(left.keySet()), node))
        .compose(rows -> {
          log.info("returned {} running task(s) to their queues", rows.size());
          return Future.all(requeued(rows), release(byQueue(left))).mapEmpty();
        });
    });
  }

  private Future<Void> drain(long deadline) {
    if (inFlight.isEmpty() && claiming == 0 || System.currentTimeMillis() >= deadline) {
      return Future.succeededFuture();
    }
    return vertx.timer(100).compose(ignored -> drain(deadline));
  }
}
