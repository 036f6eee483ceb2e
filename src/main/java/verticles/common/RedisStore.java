package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.RedisOptions;

/**
 * A pooled Redis client for one verticle; connections are made on demand and remade after Redis
 * restarts. REDIS_URL names one server or Sentinels (see {@link RedisEndpoint}); either way the
 * client is rebuilt in place when it goes wrong after a failover (see {@link RebuildableRedis}).
 */
public final class RedisStore {

  private RedisStore() {
  }

  public static RedisAPI client(Vertx vertx, JsonObject config) {
    return RedisAPI.api(rebuildable(vertx, config));
  }

  /** The client itself, for a caller that watches it and asks for a rebuild (the dispatcher). */
  public static RebuildableRedis rebuildable(Vertx vertx, JsonObject config) {
    RedisOptions options = RedisEndpoint.options(config.getString(Config.REDIS_URL))
      .setMaxPoolSize(config.getInteger(Config.REDIS_POOL_SIZE))
      .setMaxPoolWaiting(10_000)
      .setMaxWaitingHandlers(10_000);
    String node = config.getString(Config.NODE_NAME);
    return new RebuildableRedis(vertx, options, node == null ? null : BackendRegistries.getNow(node));
  }
}
