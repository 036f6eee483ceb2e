package verticles.jobs;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.common.TaskTypes;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a job's images into tasks and folds their outcomes back. Each image of a known store
 * becomes one {@code image.perimeter} task (idempotency key {@code image:<id>}, so fanning a job
 * out twice makes no second task) whose outcome comes back through the notify delivery; an
 * image of an unknown store fails at once. Every outcome is folded by one statement that counts
 * an image once, however often it is delivered.
 */
final class FanOut {

  private static final Logger log = LoggerFactory.getLogger(FanOut.class);
  /** Tasks per batch submit (the task API's own limit). */
  private static final int BATCH = 1000;
  static final String QUEUE = "images";
  private static final int MAX_ATTEMPTS = 4;
  private static final JsonObject BACKOFF = new JsonObject().put("kind", "exponential").put("base_ms", 500).put("max_ms", 10_000);

  private final Vertx vertx;
  private final Pool pool;
  private final long busTimeoutMs;
  private final Dependency postgres;
  private final FoldBatch folds;

  FanOut(Vertx vertx, Pool pool, JsonObject config) {
    this.vertx = vertx;
    this.pool = pool;
    this.busTimeoutMs = config.getInteger(Config.BUS_TIMEOUT_MS);
    this.postgres = Dependency.postgres(vertx, config, pool);
    this.folds = new FoldBatch(pool, BackendRegistries.getNow(config.getString(Config.NODE_NAME)), this::progressed);
  }

  /** Fans a job out: unknown stores fail their images, the rest get their tasks; then the job is marked dispatched. */
  Future<Void> dispatch(long jobId, long owner) {
    return pool.preparedQuery(JobSql.UNDISPATCHED_IMAGES).execute(Tuple.of(jobId)).compose(rows -> {
      List<Future<?>> unknown = new ArrayList<>();
      List<Row> known = new ArrayList<>();
      for (Row row : rows) {
        if (row.getBoolean("known_store")) {
          known.add(row);
        } else {
          unknown.add(fail(row.getLong("id"), "store_id " + row.getString("store_id") + " is not in the store master"));
        }
      }
      Future<Void> submitted = Future.succeededFuture();
      for (int from = 0; from < known.size(); from += BATCH) {
        List<Row> chunk = known.subList(from, Math.min(known.size(), from + BATCH));
        submitted = submitted.compose(ignored -> submit(owner, chunk));
      }
      return Future.all(Future.join(unknown), submitted);
    }).compose(ignored -> pool.preparedQuery(JobSql.DISPATCHED).execute(Tuple.of(jobId)))
      .onFailure(error -> log.warn("fanning out job {} failed: {} (the sweep tries again)", jobId, error.toString()))
      .mapEmpty();
  }

  /** One batch of image tasks for the job's owner; each image remembers its task. */
  private Future<Void> submit(long owner, List<Row> images) {
    JsonArray tasks = new JsonArray();
    for (Row image : images) {
      tasks.add(new JsonObject().put("type", TaskTypes.IMAGE_PERIMETER).put("queue", QUEUE)
        .put("payload", new JsonObject().put("url", image.getString("url")).put("image_id", image.getLong("id")))
        .put("max_attempts", MAX_ATTEMPTS).put("backoff", BACKOFF)
        .put("idempotency_key", "image:" + image.getLong("id")).put("notify", Addresses.Jobs.IMAGE_OUTCOME));
    }
    // The job's owner owns its tasks (0: the anonymous contract); the service acts for them.
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(busTimeoutMs)
      .addHeader(BusHeaders.USER_ID, String.valueOf(owner)).addHeader(BusHeaders.ROLES, "service");
    return Bus.<JsonObject>request(vertx, Addresses.Tasks.SUBMIT_BATCH, new JsonObject().put("tasks", tasks), options)
      .compose(reply -> {
        JsonArray items = reply.body().getJsonArray("items");
        Long[] imageIds = new Long[images.size()];
        Long[] taskIds = new Long[images.size()];
        for (int i = 0; i < images.size(); i++) {
          imageIds[i] = images.get(i).getLong("id");
          taskIds[i] = items.getJsonObject(i).getLong("id");
        }
        return pool.preparedQuery(JobSql.TASKS_OF_IMAGES).execute(Tuple.of(imageIds, (Object) taskIds));
      })
      .mapEmpty();
  }

  /** The notify delivery of an image task: its outcome, folded into the job once; the reply acknowledges it. */
  Future<JsonObject> fold(JsonObject outcome) {
    JsonObject payload = outcome.getJsonObject("payload", new JsonObject());
    JsonObject result = outcome.getJsonObject("result");
    boolean succeeded = "succeeded".equals(outcome.getString("status")) && result != null;
    String error = succeeded ? null : outcome.getString("error", "the image task was " + outcome.getString("status"));
    return folds.add(new FoldBatch.Outcome(payload.getLong("image_id"), succeeded ? "succeeded" : "failed",
        succeeded ? result.getInteger("width") : null, succeeded ? result.getInteger("height") : null,
        succeeded ? result.getLong("perimeter") : null, succeeded ? result.getString("format") : null, error,
        outcome.getInteger("attempts", 0)))
      .map(new JsonObject().put("folded", true));
  }

  /** An image that fails without a task (its store is unknown). */
  private Future<Void> fail(long imageId, String error) {
    return folds.add(new FoldBatch.Outcome(imageId, "failed", null, null, null, null, error, 0));
  }

  /** After a fold moved a job on: its owner and admins hear of the progress (watchers only: a publish can be missed). */
  private void progressed(JsonObject job) {
    JsonObject event = new JsonObject().put("type", "job.progress").put("job", job);
    long owner = job.getLong("owner_id");
    if (owner > 0) {
      vertx.eventBus().publish(Addresses.Events.user(owner), event);
    }
    vertx.eventBus().publish(Addresses.Events.ADMIN, event);
  }

  /** Jobs a node died while fanning out (never marked dispatched), fanned out again. */
  void sweep() {
    pool.query(JobSql.UNDISPATCHED_JOBS).execute()
      .onFailure(postgres::failed)
      .onSuccess(rows -> rows.forEach(row -> dispatch(row.getLong("id"), row.getLong("owner_id"))));
  }
}
