package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import verticles.common.Dependency;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * Fires recurring schedules, on every node's housekeeper, exactly once per occurrence across the
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

  private static final Duration LATE_BUT_NOT_MISSED = Duration.ofMinutes(1);
  private static final int MOST_PER_TICK = 100;

  private final Pool pool;
  private final Submissions submissions;
  private final Dependency postgres;
  private boolean running;

  Scheduler(Pool pool, Submissions submissions, Dependency postgres) {
    this.pool = pool;
    this.submissions = submissions;
    this.postgres = postgres;
  }

  /** Fires what is due; a tick still running makes the next one a no-op. */
  void tick() {
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
        postgres.failed(done.cause());
      } else {
        postgres.answered();
      }
    });
  }

  private Future<Void> fire(SqlConnection tx, Row row) {
    long id = row.getLong("id");
    Instant now = Instant.now();
    CronSchedule cron = CronSchedule.parse(row.getString("cron"), row.getString("timezone"));
    Instant due = row.getOffsetDateTime("next_fire_at").toInstant();
    List<Instant> occurrences = new ArrayList<>();
    if (Duration.between(due, now).compareTo(LATE_BUT_NOT_MISSED) > 0) {
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
      TaskSpec spec = TaskSpec.stored(row.getJsonObject("task"), occurrence.atOffset(ZoneOffset.UTC), null);
      inserted = inserted.compose(ignored -> submissions.insert(row.getLong("owner_id"), spec, id, "schedule:" + id + ":" + occurrence)
        .mapEmpty());
    }
    return inserted.compose(ignored -> tx.preparedQuery(TaskSql.SCHEDULE_FIRED)
        .execute(Tuple.of(id, last.atOffset(ZoneOffset.UTC), next.atOffset(ZoneOffset.UTC))))
      .mapEmpty();
  }
}
