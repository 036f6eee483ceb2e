package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import verticles.common.Database;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Owns tasks, schedules and the Redis backlog: delivery, leases, retries (bus area tasks.*).
 * So far it answers its readiness check; its features land with their issues.
 */
public class DispatchVerticle extends VerticleBase {

  private Pool pool;
  private RedisAPI redis;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    redis = RedisStore.client(vertx, config());
    return new ServiceHealth(vertx, Role.DISPATCH, config()).postgres(pool).redis(redis).serve();
  }
}
