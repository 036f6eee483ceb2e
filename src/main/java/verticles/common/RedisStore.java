package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.RedisOptions;

/** A pooled Redis client for one verticle; connections are made on demand and remade after Redis restarts. */
public final class RedisStore {

  private RedisStore() {
  }

  public static RedisAPI client(Vertx vertx, JsonObject config) {
    RedisOptions options = new RedisOptions()
      .setConnectionString(config.getString(Config.REDIS_URL))
      .setMaxPoolSize(config.getInteger(Config.REDIS_POOL_SIZE))
      .setMaxPoolWaiting(10_000)
      .setMaxWaitingHandlers(10_000);
    return RedisAPI.api(Redis.createClient(vertx, options));
  }
}
