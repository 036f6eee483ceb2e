package verticles.ledger;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import verticles.common.Database;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Owns balances, transactions and entries: every money move (bus area ledger.*).
 * So far it answers its readiness check; its features land with their issues.
 */
public class LedgerVerticle extends VerticleBase {

  private Pool pool;
  private RedisAPI redis;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    redis = RedisStore.client(vertx, config());
    return new ServiceHealth(vertx, Role.LEDGER, config()).postgres(pool).redis(redis).serve();
  }
}
