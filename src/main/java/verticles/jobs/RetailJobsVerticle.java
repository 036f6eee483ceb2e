package verticles.jobs;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Caller;
import verticles.common.Database;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.Page;
import verticles.common.RequestContext;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Owns stores, image_jobs and images: Retail Pulse jobs (bus areas jobs.*, stores.*). A job is
 * written whole in one transaction, then fanned out: each image of a known store becomes an
 * {@code image.perimeter} task whose outcome the task platform delivers back here (the notify
 * delivery) to be folded into the job exactly once; an image of an unknown store fails at once.
 */
public class RetailJobsVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(RetailJobsVerticle.class);
  private static final List<String> STORE_FILES = List.of("/conf/stores.csv", "/conf/stores-legacy.csv");
  /** Every few seconds: jobs a node died while fanning out are fanned out again. */
  private static final long SWEEP_MS = 5000;

  private Pool pool;
  private FanOut fanOut;
  private Dependency postgres;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    postgres = Dependency.postgres(vertx, config(), pool);
    fanOut = new FanOut(vertx, pool, config());
    return loadStoreMaster().compose(ignored -> {
      ServiceReplies.serve(vertx, Addresses.Jobs.SUBMIT, this::submit);
      ServiceReplies.serve(vertx, Addresses.Jobs.STATUS, this::status);
      ServiceReplies.serve(vertx, Addresses.Jobs.GET, this::get);
      ServiceReplies.serve(vertx, Addresses.Jobs.LIST, this::list);
      ServiceReplies.serve(vertx, Addresses.Jobs.IMAGE_OUTCOME, fanOut::fold);
      ServiceReplies.serve(vertx, Addresses.Jobs.IMPORT_STORES, this::importStores);
      vertx.setPeriodic(SWEEP_MS, id -> {
        if (postgres.mayTry()) {
          fanOut.sweep();
        }
      });
      return new ServiceHealth(vertx, Role.JOBS, config()).postgres(pool).serve();
    });
  }

  /** Both generations of the packaged store master, read on a worker thread, upserted in one statement each. */
  private Future<Void> loadStoreMaster() {
    return vertx.executeBlocking(() -> {
      List<StoreMaster.Store> stores = new ArrayList<>();
      for (String file : STORE_FILES) {
        try (InputStream in = RetailJobsVerticle.class.getResourceAsStream(file)) {
          if (in == null) {
            throw new IllegalStateException(file + " is missing from the classpath");
          }
          stores.addAll(StoreMaster.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8)));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      return stores;
    }).compose(this::upsert).compose(ignored -> pool.query(JobSql.COUNT_STORES).execute())
      .onSuccess(rows -> log.info("store master: {} stores known", rows.iterator().next().getLong("stores")))
      .mapEmpty();
  }

  private Future<Integer> upsert(List<StoreMaster.Store> stores) {
    String[] ids = stores.stream().map(StoreMaster.Store::storeId).toArray(String[]::new);
    String[] names = stores.stream().map(StoreMaster.Store::storeName).toArray(String[]::new);
    String[] areas = stores.stream().map(StoreMaster.Store::areaCode).toArray(String[]::new);
    return pool.preparedQuery(JobSql.UPSERT_STORES).execute(Tuple.of(ids, names, areas)).map(rows -> rows.rowCount());
  }

  /**
   * A job, written whole (the job and every image) in one transaction, then fanned out. The
   * caller is the owner, or nobody (0) for the original anonymous contract. A repeated
   * Idempotency-Key answers the first job ({@code replayed: true}).
   */
  private Future<JsonObject> submit(JsonObject body) {
    JobRequest request = JobRequest.parse(body);
    Caller caller = RequestContext.caller();
    long owner = caller == null ? 0 : caller.userId();
    String key = RequestContext.idempotencyKey();
    int n = request.images();
    Integer[] visits = new Integer[n];
    String[] stores = new String[n];
    String[] urls = new String[n];
    String[] times = new String[n];
    int i = 0;
    for (int v = 0; v < request.visits().size(); v++) {
      JobRequest.Visit visit = request.visits().get(v);
      for (String url : visit.imageUrls()) {
        visits[i] = v;
        stores[i] = visit.storeId();
        urls[i] = url;
        times[i] = visit.visitTime();
        i++;
      }
    }
    return pool.withTransaction(tx -> tx.preparedQuery(JobSql.INSERT_JOB)
        .execute(Tuple.of(owner, n, request.visits().size(), key, RequestContext.requestId()))
        .compose(rows -> {
          if (rows.size() == 0) {
            return tx.preparedQuery(JobSql.FIND_JOB_BY_KEY).execute(Tuple.of(owner, key))
              .map(found -> JobJson.job(found.iterator().next()).put("replayed", true));
          }
          JsonObject job = JobJson.job(rows.iterator().next());
          return tx.preparedQuery(JobSql.INSERT_IMAGES).execute(Tuple.of(job.getLong("id"), visits, stores, urls).addValue(times))
            .map(ignored -> job.put("replayed", false));
        }))
      .onSuccess(job -> {
        if (!job.getBoolean("replayed")) {
          fanOut.dispatch(job.getLong("id"), owner);  // after the commit; the sweep redoes it if this node dies first
        }
      });
  }

  /** The original contract's answer: status and the job id as a string, and when failed each failed store once. */
  private Future<JsonObject> status(JsonObject body) {
    long id = body.getLong("id");
    return pool.preparedQuery(JobSql.FIND_JOB).execute(Tuple.of(id)).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no job " + id));
      }
      String status = rows.iterator().next().getString("status");
      JsonObject answer = new JsonObject().put("status", status).put("job_id", String.valueOf(id));
      if (!"failed".equals(status)) {
        return Future.succeededFuture(answer);
      }
      return pool.preparedQuery(JobSql.FAILED_STORES).execute(Tuple.of(id)).map(failed -> {
        JsonArray errors = new JsonArray();
        failed.forEach(row -> errors.add(new JsonObject().put("store_id", row.getString("store_id"))
          .put("error", row.getString("error_message"))));
        return answer.put("error", errors);
      });
    });
  }

  /** Every visit and image of a job, for its owner or an admin (anyone else: 404). */
  private Future<JsonObject> get(JsonObject body) {
    long id = body.getLong("id");
    Caller caller = Caller.required();
    return pool.preparedQuery(JobSql.FIND_JOB).execute(Tuple.of(id)).compose(rows -> {
      Row job = rows.size() == 0 ? null : rows.iterator().next();
      if (job == null || !caller.mayActFor(job.getLong("owner_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no job " + id));
      }
      return pool.preparedQuery(JobSql.IMAGES_OF_JOB).execute(Tuple.of(id)).map(images -> JobJson.detail(job, images));
    });
  }

  private Future<JsonObject> list(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    return pool.preparedQuery(JobSql.PAGE).execute(Tuple.of(caller.isAdmin() ? null : caller.userId(), query.getString("status"),
        query.getLong("cursor", Long.MAX_VALUE), limit + 1))
      .map(rows -> Page.of(rows, limit, JobJson::job, "id"));
  }

  /** An admin replaces or extends the store master with a CSV; a bad row refuses the whole file, naming its line. */
  private Future<JsonObject> importStores(JsonObject body) {
    return Caller.requireAdmin("import stores").compose(ignored -> {
      List<StoreMaster.Store> stores;
      try {
        stores = StoreMaster.parse(body.getString("csv"));
      } catch (StoreMaster.BadFile e) {
        return Future.failedFuture(Failure.invalid("body", e.getMessage()));
      }
      if (stores.isEmpty()) {
        return Future.failedFuture(Failure.invalid("body", "holds no stores"));
      }
      return upsert(stores).map(changed -> new JsonObject().put("stores", stores.size()).put("changed", changed));
    });
  }
}
