package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import org.flywaydb.core.api.MigrationVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A service verticle's own readiness: it answers {@code health.<role>} with the result of each
 * of its checks, so the HTTP edge learns over the bus whether that part of Pulse can serve.
 */
public final class ServiceHealth {

  private static final Logger log = LoggerFactory.getLogger(ServiceHealth.class);

  private static final String LAST_MIGRATION =
    "SELECT version FROM flyway_schema_history WHERE success ORDER BY installed_rank DESC LIMIT 1";

  private final Vertx vertx;
  private final Role role;
  private final JsonObject config;
  private final Map<String, Supplier<Future<?>>> checks = new LinkedHashMap<>();

  public ServiceHealth(Vertx vertx, Role role, JsonObject config) {
    this.vertx = vertx;
    this.role = role;
    this.config = config;
    if (vertx.isClustered()) {
      checks.put("cluster", () -> ((VertxInternal) vertx).clusterManager().isActive()
        ? Future.succeededFuture() : Future.failedFuture("not a cluster member"));
    }
  }

  /**
   * PostgreSQL answers and holds at least the schema version this node migrated to (a newer
   * node may have migrated further during a rolling upgrade; that is fine).
   */
  public ServiceHealth postgres(Pool pool) {
    Dependency.postgres(vertx, config, pool);  // so that this verticle's outage errors are told to it
    String needed = config.getString(Config.SCHEMA_VERSION);
    checks.put("postgres", () -> pool.query(LAST_MIGRATION).execute().compose(rows -> {
      String found = rows.size() == 0 ? null : rows.iterator().next().getString("version");
      boolean recentEnough = needed == null
        || found != null && MigrationVersion.fromVersion(found).isAtLeast(needed);
      return recentEnough
        ? Future.succeededFuture()
        : Future.failedFuture("schema at version " + found + ", this node needs " + needed);
    }));
    return this;
  }

  public ServiceHealth redis(RedisAPI redis) {
    Dependency.redis(vertx, config, redis);
    checks.put("redis", () -> redis.ping(List.of()));
    return this;
  }

  /** Starts answering {@code health.<role>}. */
  public Future<Void> serve() {
    return Bus.<JsonObject>consume(vertx, Addresses.Health.of(role), message -> {
      log.debug("readiness check of {}", role.id);
      run().onComplete(result -> message.reply(result.result()));
    }).completion();
  }

  /** Runs every check; never fails, the outcome is in the body. */
  Future<JsonObject> run() {
    long timeout = config.getInteger(Config.HEALTH_TIMEOUT_MS);
    JsonObject results = new JsonObject();
    List<Future<?>> pending = new ArrayList<>();
    checks.forEach((name, check) -> pending.add(check.get()
      .timeout(timeout, TimeUnit.MILLISECONDS)
      .onSuccess(ignored -> results.put(name, "ok"))
      .onFailure(error -> results.put(name, describe(error)))
      .otherwiseEmpty()));
    return Future.join(pending).transform(ignored -> {
      boolean up = results.stream().allMatch(entry -> "ok".equals(entry.getValue()));
      return Future.succeededFuture(new JsonObject()
        .put("status", up ? "up" : "down")
        .put("node", config.getString(Config.NODE_NAME))
        .put("checks", results));
    });
  }

  private static String describe(Throwable error) {
    String message = error.getMessage();
    return message == null || message.isBlank() ? error.getClass().getSimpleName() : message;
  }
}
