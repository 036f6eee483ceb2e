package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Dependency;
import verticles.common.Failure;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes what became of each delivered task: a success (batched: one statement and one commit
 * for many), or a failure that is retried after its backoff, or buried (failed, or dead when
 * out of attempts). Every write is fenced by the attempt number: an outcome from an attempt
 * that lost its lease changes nothing. Then the Redis lease ends and the slot is free.
 */
final class Outcomes {

  private static final Logger log = LoggerFactory.getLogger(Outcomes.class);
  /** Successes wait at most this long, or until there are this many, to share one commit. */
  private static final long BATCH_WINDOW_MS = 2;
  private static final int BATCH_MOST = 256;

  /** One answered attempt waiting for the success batch. */
  private record Success(long id, int attempt, String result, String queue) {
  }

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;
  private final TaskEvents events;
  private final TaskMeters meters;
  private final Dependency postgres;
  private final Dependency redis;
  private final Notifier notifier;
  /** Called with each task id whose outcome is written (its lease is no longer held). */
  private final Consumer<Long> written;
  /** Called with the queues whose Redis leases were just ended (a concurrency limit may let the next task in). */
  private final Consumer<Collection<String>> slotsFreed;
  private final List<Success> successes = new ArrayList<>();
  private boolean flushPending;

  Outcomes(Vertx vertx, Pool pool, Backlog backlog, TaskEvents events, TaskMeters meters, Dependency postgres, Dependency redis,
           Notifier notifier, Consumer<Long> written, Consumer<Collection<String>> slotsFreed) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
    this.events = events;
    this.meters = meters;
    this.postgres = postgres;
    this.redis = redis;
    this.notifier = notifier;
    this.written = written;
    this.slotsFreed = slotsFreed;
  }

  void succeeded(JsonObject task, int attempt, JsonObject result) {
    meters.completed(task.getString("type"), "succeeded").increment();
    successes.add(new Success(task.getLong("id"), attempt, result.encode(), task.getString("queue")));
    if (successes.size() >= BATCH_MOST) {
      flushSuccesses();
    } else if (!flushPending) {
      flushPending = true;
      vertx.setTimer(BATCH_WINDOW_MS, ignored -> flushSuccesses());
    }
  }

  /**
   * A failed attempt: retried after its backoff when the failure is retryable and attempts are
   * left ({@code now}: at once, for a failure that was not the task's own), else failed or dead.
   */
  void failed(JsonObject task, int attempt, Throwable cause, boolean now) {
    long id = task.getLong("id");
    String queue = task.getString("queue");
    Failure failure = Failure.of(cause);
    String error = failure.name().toLowerCase() + ": " + cause.getMessage();
    boolean retry = failure.retryable && attempt < task.getInteger("max_attempts");
    OffsetDateTime next = !retry ? null
      : now ? OffsetDateTime.now() : OffsetDateTime.now().plusNanos(Backoff.of(task.getJsonObject("backoff")).delayMs(attempt) * 1_000_000);
    String outcome = retry ? "retried" : failure.retryable ? "dead" : "failed";
    meters.completed(task.getString("type"), outcome).increment();
    pool.preparedQuery(TaskSql.FAIL).execute(Tuple.of(id, attempt, retry ? "queued" : outcome, error, next))
      .onFailure(postgres::failed)
      .compose(rows -> {
        if (rows.size() == 0) {
          fencedOut(id, attempt);
          return Future.succeededFuture();
        }
        JsonObject changed = TaskJson.task(rows.iterator().next());
        events.changed(changed);
        notifier.deliver(rows);
        if (!"queued".equals(changed.getString("status"))) {
          return Future.succeededFuture();
        }
        List<Backlog.Waiting> again = List.of(new Backlog.Waiting(id, changed.getInteger("priority"), next.toInstant().toEpochMilli()));
        return now ? backlog.pushReady(queue, again) : backlog.pushDelayed(queue, again);
      })
      .transform(ignored -> backlog.release(queue, List.of(id)).onFailure(redis::failed))
      .onComplete(ignored -> {
        written.accept(id);
        slotsFreed.accept(List.of(queue));
      });
  }

  private void flushSuccesses() {
    flushPending = false;
    if (successes.isEmpty()) {
      return;
    }
    List<Success> batch = new ArrayList<>(successes);
    successes.clear();
    batch.sort(Comparator.comparingLong(Success::id));  // lock order: see DispatchVerticle.inLockOrder
    Long[] ids = new Long[batch.size()];
    Integer[] attempts = new Integer[batch.size()];
    String[] results = new String[batch.size()];
    Map<String, List<Long>> byQueue = new HashMap<>();
    for (int i = 0; i < batch.size(); i++) {
      Success success = batch.get(i);
      ids[i] = success.id();
      attempts[i] = success.attempt();
      results[i] = success.result();
      byQueue.computeIfAbsent(success.queue(), q -> new ArrayList<>()).add(success.id());
    }
    pool.preparedQuery(TaskSql.SUCCEED).execute(Tuple.of(ids, attempts, results))
      .map(rows -> {
        Set<Long> done = new HashSet<>();
        for (Row row : rows) {
          done.add(row.getLong("id"));
          events.changed(TaskJson.task(row));
        }
        batch.stream().filter(success -> !done.contains(success.id())).forEach(success -> fencedOut(success.id(), success.attempt()));
        notifier.deliver(rows);
        return null;
      })
      // Not written: the leases lapse and the housekeeper's reaper delivers them again.
      .onFailure(postgres::failed)
      .transform(ignored -> release(byQueue))
      .onComplete(ignored -> {
        batch.forEach(success -> written.accept(success.id()));
        slotsFreed.accept(byQueue.keySet());
      });
  }

  /** Ends the Redis leases of these ids, one call per queue; fails if any call failed, once all are done. */
  Future<Void> release(Map<String, List<Long>> idsByQueue) {
    List<Future<?>> releases = new ArrayList<>();
    idsByQueue.forEach((queue, ids) -> releases.add(backlog.release(queue, ids)));
    return Future.join(releases).onFailure(redis::failed).mapEmpty();
  }

  /** Rows PostgreSQL put back in their queue (reaped, or handed back): published, and the queued ones pushed, one script per queue. */
  static Future<Void> requeued(Backlog backlog, TaskEvents events, Iterable<Row> rows) {
    Map<String, List<Backlog.Waiting>> ready = new HashMap<>();
    for (Row row : rows) {
      JsonObject task = TaskJson.task(row);
      events.changed(task);
      if ("queued".equals(task.getString("status"))) {
        ready.computeIfAbsent(task.getString("queue"), q -> new ArrayList<>()).add(new Backlog.Waiting(task.getLong("id"),
          task.getInteger("priority"), 0));
      }
    }
    List<Future<?>> pushes = new ArrayList<>();
    ready.forEach((queue, tasks) -> pushes.add(backlog.pushReady(queue, tasks)));
    return Future.all(pushes).mapEmpty();
  }

  private static void fencedOut(long id, int attempt) {
    log.info("task {} attempt {} finished after losing its lease; its outcome is ignored", id, attempt);
  }
}
