package verticles.identity;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import verticles.common.Database;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Owns users: registration, login, user records, password hashes (bus area identity.*).
 * So far it answers its readiness check; its features land with their issues.
 */
public class IdentityVerticle extends VerticleBase {

  private Pool pool;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    return new ServiceHealth(vertx, Role.IDENTITY, config()).postgres(pool).serve();
  }
}
