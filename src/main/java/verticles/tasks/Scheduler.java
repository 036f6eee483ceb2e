package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * Fires recurring schedules, on every dispatch node, exactly once per occurrence across the
 * cluster: due schedules are locked with SKIP LOCKED (one node handles each), and the task of
 * an occurrence carries the unique key {@code schedule:<id>:<fire-time>}, so even a repeat
 * after a crash cannot make a second one.
 *
 * Late fires (a busy or paused node, up to a minute behind) still fire, each occurrence once,
 * oldest first. Missed fires (every node was down for longer, or the schedule was disabled):
 * only the latest missed occurrence fires, once, then the schedule continues from now. A
 * backlog of catch-up runs is rarely what anyone wants from "every 5 minutes".
 */
final class Scheduler {

  private static final Logger log = LoggerFactory.getLogger(Scheduler.class);
  private static final java.time.Duration LATE_BUT_NOT_MISSED = java.time.Duration.ofMinutes(1);
  private static final int MOST_PER_TICK = 100;

  /** What the scheduler needs from the dispatcher: insert a task (null when the occurrence exists). */
  interface Submitter {
    Future<JsonObject> insert(long owner, JsonObject spec, OffsetDateTime runAt, String key, Long scheduleId, String occurrence);
  }

  private final Vertx vertx;
  private final Pool pool;
  private final Submitter submitter;
  private long timer = -1;
  private boolean running;

  Scheduler(Vertx vertx, Pool pool, Submitter submitter) {
    this.vertx = vertx;
    this.pool = pool;
    this.submitter = submitter;
  }

  void start() {
    timer = vertx.setPeriodic(250, ignored -> tick());
  }

  void stop() {
    vertx.cancelTimer(timer);
  }

  private void tick() {
    if (running) {
      return;
    }
    running = true;
    pool.withTransaction(tx -> tx.query(TaskSql.SCHEDULES_DUE).execute().compose(rows -> {
      List<Future<?>> fired = new ArrayList<>();
      for (Row row : rows) {
        fired.add(fire(tx, row));
      }
      return Future.all(fired);
    })).onComplete(done -> {
      running = false;
      if (done.failed()) {
        log.warn("firing schedules failed: {}", done.cause().toString());
      }
    });
  }

  private Future<Void> fire(io.vertx.sqlclient.SqlConnection tx, Row row) {
    long id = row.getLong("id");
    Instant now = Instant.now();
    CronSchedule cron = CronSchedule.parse(row.getString("cron"), row.getString("timezone"));
    Instant due = row.getOffsetDateTime("next_fire_at").toInstant();
    List<Instant> occurrences = new ArrayList<>();
    if (java.time.Duration.between(due, now).compareTo(LATE_BUT_NOT_MISSED) > 0) {
      occurrences.add(cron.latestAtOrBefore(now));
    } else {
      for (Instant at = due; !at.isAfter(now) && occurrences.size() < MOST_PER_TICK; at = cron.next(at)) {
        occurrences.add(at);
      }
    }
    Instant last = occurrences.get(occurrences.size() - 1);
    Instant next = cron.next(last);
    Future<Void> inserted = Future.succeededFuture();
    for (Instant occurrence : occurrences) {
      String key = "schedule:" + id + ":" + occurrence;
      inserted = inserted.compose(ignored -> submitter.insert(row.getLong("owner_id"), row.getJsonObject("task"),
        occurrence.atOffset(ZoneOffset.UTC), null, id, key).mapEmpty());
    }
    return inserted.compose(ignored -> tx.preparedQuery(TaskSql.SCHEDULE_FIRED)
        .execute(Tuple.of(id, last.atOffset(ZoneOffset.UTC), next.atOffset(ZoneOffset.UTC))))
      .mapEmpty();
  }
}
