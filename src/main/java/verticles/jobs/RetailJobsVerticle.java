package verticles.jobs;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import verticles.common.Database;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Owns stores, image_jobs and images: the Retail Pulse job contract (bus area jobs.*).
 * So far it answers its readiness check; its features land with their issues.
 */
public class RetailJobsVerticle extends VerticleBase {

  private Pool pool;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    return new ServiceHealth(vertx, Role.JOBS, config()).postgres(pool).serve();
  }
}
