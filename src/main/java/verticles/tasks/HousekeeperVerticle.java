package verticles.tasks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Dependency;
import verticles.common.RedisStore;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps the task room in order, once per node: promotes due delayed tasks, ends leases whose
 * holder died (Redis names them each second; the reaper proper walks PostgreSQL's expired
 * leases each reconcile period), puts back into Redis whatever PostgreSQL says is waiting and
 * Redis lacks, copies queue limits to Redis, keeps the queue gauges, fires cron schedules, and
 * sends again the outcomes their owners have not acknowledged (the notify delivery).
 * Between nodes the database decides who does what (SKIP LOCKED, unique occurrence keys), so
 * every node may run one.
 */
public class HousekeeperVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(HousekeeperVerticle.class);

  private Pool pool;
  private Backlog backlog;
  private TaskEvents events;
  private MeterRegistry metrics;
  private Dependency postgres;
  private Dependency redis;
  private Scheduler scheduler;
  private Notifier notifier;
  private final Set<String> queues = new LinkedHashSet<>(List.of(TaskSpec.DEFAULT_QUEUE));
  private final Map<String, Backlog.Depth> depths = new ConcurrentHashMap<>();
  private final Map<String, Double> oldestReady = new ConcurrentHashMap<>();

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    RedisAPI client = RedisStore.client(vertx, config());
    backlog = new Backlog(client);
    events = new TaskEvents(vertx);
    metrics = BackendRegistries.getNow(config().getString(Config.NODE_NAME));
    postgres = Dependency.postgres(vertx, config(), pool);
    redis = Dependency.redis(vertx, config(), client);
    Submissions submissions = new Submissions(vertx, pool, backlog, events, new TaskMeters(metrics));
    scheduler = new Scheduler(pool, submissions, postgres);
    notifier = new Notifier(vertx, pool, postgres);
    vertx.setPeriodic(200, ignored -> whenUp(this::promote));
    vertx.setPeriodic(1000, ignored -> whenUp(this::expireLeases));
    vertx.setPeriodic(config().getInteger(Config.TASK_RECONCILE_MS), ignored -> whenUp(() -> {
      reap();
      reconcile();
    }));
    vertx.setPeriodic(2000, ignored -> whenUp(this::refreshQueues));
    vertx.setPeriodic(1000, ignored -> {
      if (postgres.mayTry()) {
        notifier.sweep();
      }
    });
    vertx.setPeriodic(250, ignored -> {
      if (postgres.mayTry()) {
        scheduler.tick();
      }
    });
    refreshQueues();
    return Future.succeededFuture();
  }

  /** Housekeeping touches both servers; while either is down it waits for its backoff instead of failing each tick. */
  private void whenUp(Runnable chore) {
    if (postgres.mayTry() && redis.mayTry()) {
      chore.run();
    }
  }

  private void promote() {
    for (String queue : new ArrayList<>(queues)) {
      backlog.promote(queue).onFailure(redis::failed).compose(ids -> ids.isEmpty() ? Future.succeededFuture()
          : pool.preparedQuery(TaskSql.MARK_QUEUED).execute(Tuple.of((Object) DispatchVerticle.inLockOrder(ids)))
            .onFailure(postgres::failed)
            .map(rows -> {
              rows.forEach(row -> events.changed(TaskJson.task(row)));
              vertx.eventBus().publish(Addresses.Tasks.WAKEUP, queue);
              return null;
            }));
    }
  }

  /**
   * Leases nobody renewed: their holder died. Redis drops them and names them, and PostgreSQL
   * requeues (or buries) those tasks, looked up by id: one to two seconds after a lease's end.
   */
  private void expireLeases() {
    for (String queue : new ArrayList<>(queues)) {
      backlog.expireLeases(queue).onFailure(redis::failed)
        .compose(ids -> ids.isEmpty() ? Future.succeededFuture()
          : pool.preparedQuery(TaskSql.REAP_IDS).execute(Tuple.of((Object) DispatchVerticle.inLockOrder(ids)))
            .onFailure(postgres::failed).compose(this::reaped));
    }
  }

  /** The reaper proper: every lease PostgreSQL sees expired, also those Redis lost. */
  private void reap() {
    pool.query(TaskSql.REAP).execute().onFailure(postgres::failed).compose(this::reaped);
  }

  /** Reaped tasks: their Redis leases end too (the reaper proper finds some before Redis drops them), the queued ones go back. */
  private Future<Void> reaped(RowSet<Row> rows) {
    Map<String, List<Long>> leases = new HashMap<>();
    for (Row row : rows) {
      log.warn("task {} lost its worker ({}); now {}", row.getLong("id"), row.getString("last_error"), row.getString("status"));
      leases.computeIfAbsent(row.getString("queue"), q -> new ArrayList<>()).add(row.getLong("id"));
    }
    List<Future<?>> releases = new ArrayList<>();
    leases.forEach((queue, ids) -> releases.add(backlog.release(queue, ids)));
    notifier.deliver(rows);
    return Future.join(releases).compose(ignored -> Outcomes.requeued(backlog, events, rows)).onFailure(redis::failed)
      .onSuccess(ignored -> {
        if (rows.size() > 0) {
          vertx.eventBus().publish(Addresses.Tasks.WAKEUP, null);
        }
      });
  }

  /** PostgreSQL is the truth: every waiting task it knows and Redis lacks (a flush, a lost write) goes back. */
  private void reconcile() {
    pool.query(TaskSql.WAITING).execute().onFailure(postgres::failed).onSuccess(rows -> {
      Map<String, List<Backlog.Waiting>> byQueue = new HashMap<>();
      for (Row row : rows) {
        byQueue.computeIfAbsent(row.getString("queue"), q -> new ArrayList<>())
          .add(new Backlog.Waiting(row.getLong("id"), row.getShort("priority"), row.getOffsetDateTime("run_at").toInstant().toEpochMilli()));
      }
      byQueue.forEach((queue, waiting) -> {
        queues.add(queue);
        backlog.restore(queue, waiting).onFailure(redis::failed).compose(restored -> confirm(queue, waiting, restored)).onSuccess(restored -> {
          if (restored > 0) {
            log.warn("reconciler put {} task(s) of queue {} back into Redis", restored, queue);
            Counter.builder("pulse.tasks.reconciled").tag("queue", queue).register(metrics).increment(restored);
            vertx.eventBus().publish(Addresses.Tasks.WAKEUP, queue);
          }
        });
      });
    });
  }

  /**
   * The reconciler's second look: a task may have finished between its PostgreSQL read and the
   * Redis check. Those are taken out again (harmless either way: the claim would refuse them)
   * and not counted; the rest were really missing.
   */
  private Future<Integer> confirm(String queue, List<Backlog.Waiting> waiting, List<Long> restored) {
    if (restored.isEmpty()) {
      return Future.succeededFuture(0);
    }
    return pool.preparedQuery(TaskSql.STILL_WAITING).execute(Tuple.of((Object) restored.toArray(new Long[0]))).compose(rows -> {
      Set<Long> still = new HashSet<>();
      rows.forEach(row -> still.add(row.getLong("id")));
      List<Future<?>> undone = new ArrayList<>();
      for (Backlog.Waiting task : waiting) {
        if (restored.contains(task.id()) && !still.contains(task.id())) {
          undone.add(backlog.forget(queue, task.id(), task.priority()));
        }
      }
      return Future.join(undone).map(still.size());
    });
  }

  /** Queue names and limits from PostgreSQL, the truth, written to Redis (which may have lost them); then the gauges. */
  private void refreshQueues() {
    pool.query(TaskSql.QUEUES).execute().onFailure(postgres::failed).compose(rows -> {
      postgres.answered();
      List<Future<?>> writes = new ArrayList<>();
      for (Row row : rows) {
        queues.add(row.getString("name"));
        writes.add(backlog.writeLimits(row.getString("name"), row.getBoolean("paused"), row.getInteger("concurrency"),
          row.getInteger("rate_per_s")));
      }
      return Future.all(writes).onFailure(redis::failed);
    }).compose(ignored -> {
      redis.answered();
      return refreshGauges();
    });
  }

  private Future<Void> refreshGauges() {
    for (String queue : queues) {
      backlog.depth(queue).onSuccess(depth -> {
        if (depths.put(queue, depth) == null) {
          Gauge.builder("pulse.tasks.ready", depths, d -> d.get(queue).ready()).tag("queue", queue).register(metrics);
          Gauge.builder("pulse.tasks.delayed", depths, d -> d.get(queue).delayed()).tag("queue", queue).register(metrics);
          Gauge.builder("pulse.tasks.running", depths, d -> d.get(queue).running()).tag("queue", queue).register(metrics);
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
}
