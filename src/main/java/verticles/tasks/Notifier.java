package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.BusHeaders;
import verticles.common.Dependency;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The notify delivery: a task submitted with a {@code notify} address has its terminal outcome
 * sent there, at least once: at once when it finishes, then again by the housekeeper's sweep
 * until the owner acknowledges it (any reply). The owner applies it idempotently; nothing
 * depends on catching a published event.
 */
final class Notifier {

  private static final Set<String> FINISHED = Set.of("succeeded", "failed", "dead", "cancelled");
  private static final long TIMEOUT_MS = 10_000;

  private final Vertx vertx;
  private final Pool pool;
  private final Dependency postgres;
  private final List<Long> acknowledged = new ArrayList<>();
  private boolean writing;

  Notifier(Vertx vertx, Pool pool, Dependency postgres) {
    this.vertx = vertx;
    this.pool = pool;
    this.postgres = postgres;
  }

  /** Sends a finished task's outcome to its notify address, if it has one; marks it acknowledged on the reply. */
  void deliver(JsonObject task, String notify) {
    if (notify == null || !FINISHED.contains(task.getString("status"))) {
      return;
    }
    long id = task.getLong("id");
    JsonObject outcome = new JsonObject().put("task_id", id).put("type", task.getString("type")).put("status", task.getString("status"))
      .put("attempts", task.getInteger("attempts")).put("result", task.getValue("result")).put("error", task.getString("last_error"))
      .put("payload", task.getJsonObject("payload"));
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(TIMEOUT_MS)
      .addHeader(BusHeaders.REQUEST_ID, "task-" + id + "-outcome")
      .addHeader(BusHeaders.TASK_ID, String.valueOf(id));
    // Unacknowledged (no owner running, a timeout): the sweep sends it again.
    vertx.eventBus().request(notify, outcome, options).onSuccess(ignored -> acknowledged(id));
  }

  /** Acknowledgements are written many at a time: whatever came in while the previous write ran, in one statement. */
  private void acknowledged(long id) {
    acknowledged.add(id);
    if (!writing) {
      writeAcknowledged();
    }
  }

  private void writeAcknowledged() {
    if (acknowledged.isEmpty()) {
      writing = false;
      return;
    }
    writing = true;
    Long[] ids = acknowledged.stream().sorted().toArray(Long[]::new);
    acknowledged.clear();
    pool.preparedQuery(TaskSql.NOTIFIED).execute(Tuple.of((Object) ids))
      .onFailure(postgres::failed)  // not written: the sweep delivers them again, and their owners ignore the repeat
      .onComplete(ignored -> writeAcknowledged());
  }

  /** Rows that RETURNING t.* gave: each finished one with an address is delivered. */
  void deliver(Iterable<Row> rows) {
    for (Row row : rows) {
      String notify = row.getString("notify");
      if (notify != null) {
        deliver(TaskJson.task(row), notify);
      }
    }
  }

  /** The housekeeper's part: outcomes due again (a few seconds after the first try), claimed for 10 s. */
  Future<Void> sweep() {
    return pool.query(TaskSql.NOTIFY_DUE).execute().onFailure(postgres::failed).map(rows -> {
      deliver(rows);
      return null;
    });
  }
}
