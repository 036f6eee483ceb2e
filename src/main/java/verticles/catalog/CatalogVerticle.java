package verticles.catalog;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import verticles.common.Database;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Owns products and orders: the catalog and the purchase saga (bus areas catalog.*, orders.*).
 * So far it answers its readiness check; its features land with their issues.
 */
public class CatalogVerticle extends VerticleBase {

  private Pool pool;
  private RedisAPI redis;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    redis = RedisStore.client(vertx, config());
    return new ServiceHealth(vertx, Role.CATALOG, config()).postgres(pool).redis(redis).serve();
  }
}
