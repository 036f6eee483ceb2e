package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Addresses;
import verticles.common.Caller;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Queue limits and depths (bus area queues.*, admins only): PostgreSQL holds the limits, Redis a copy the take script reads. */
final class Queues {

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;

  Queues(Vertx vertx, Pool pool, Backlog backlog) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
  }

  /** Per queue: limits, ready/delayed/running (Redis), dead, completions per second and the oldest ready age (PostgreSQL). */
  Future<JsonObject> list(JsonObject ignored) {
    return Caller.requireAdmin("see the queues")
      .compose(admin -> pool.query(TaskSql.QUEUES).execute())
      .compose(limits -> pool.query(TaskSql.QUEUE_COUNTS).execute().compose(counts -> {
        Map<String, Row> countsByQueue = new HashMap<>();
        counts.forEach(row -> countsByQueue.put(row.getString("queue"), row));
        JsonArray items = new JsonArray();
        List<Future<?>> depths = new ArrayList<>();
        for (Row limit : limits) {
          String name = limit.getString("name");
          Row count = countsByQueue.get(name);
          OffsetDateTime oldest = count == null ? null : count.getOffsetDateTime("oldest_ready");
          JsonObject item = new JsonObject().put("name", name).put("paused", limit.getBoolean("paused"))
            .put("concurrency", limit.getInteger("concurrency")).put("rate_per_s", limit.getInteger("rate_per_s"))
            .put("dead", count == null ? 0 : count.getLong("dead"))
            .put("completed_per_s", count == null ? 0.0 : count.getLong("done_last_minute") / 60.0)
            .put("oldest_ready_age_ms", oldest == null ? null : Math.max(0, Duration.between(oldest, OffsetDateTime.now()).toMillis()));
          items.add(item);
          depths.add(backlog.depth(name).onSuccess(depth -> item.put("ready", depth.ready()).put("delayed", depth.delayed())
            .put("running", depth.running())));
        }
        return Future.join(depths).transform(done -> Future.succeededFuture(new JsonObject().put("items", items)));
      }));
  }

  /** Sets limits in PostgreSQL, copies them to Redis, and tells every dispatcher to look again. */
  Future<JsonObject> update(JsonObject body) {
    return Caller.requireAdmin("change a queue")
      .compose(admin -> pool.preparedQuery(TaskSql.UPDATE_QUEUE).execute(Tuple.of(body.getString("name"),
        body.getInteger("concurrency"), body.getInteger("rate_per_s"), body.getBoolean("paused"),
        body.containsKey("concurrency"), body.containsKey("rate_per_s"))))
      .compose(rows -> {
        Row row = rows.iterator().next();
        JsonObject queue = new JsonObject().put("name", row.getString("name")).put("concurrency", row.getInteger("concurrency"))
          .put("rate_per_s", row.getInteger("rate_per_s")).put("paused", row.getBoolean("paused"));
        return backlog.writeLimits(queue.getString("name"), queue.getBoolean("paused"), queue.getInteger("concurrency"),
          queue.getInteger("rate_per_s")).map(ignored -> {
            vertx.eventBus().publish(Addresses.Tasks.LIMITS_CHANGED, queue.getString("name"));
            return queue;
          });
      });
  }
}
