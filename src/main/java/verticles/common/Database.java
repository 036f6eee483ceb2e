package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/** The node's PostgreSQL pool: one pool shared by all verticles of a node (closed with the last). */
public final class Database {

  private Database() {
  }

  public static Pool pool(Vertx vertx, JsonObject config) {
    PgConnectOptions connect = PgConnectOptions.fromUri(config.getString(Config.DATABASE_URL))
      .setCachePreparedStatements(true)
      .setPipeliningLimit(256);
    PoolOptions pool = new PoolOptions()
      .setMaxSize(config.getInteger(Config.DB_POOL_SIZE))
      .setShared(true)
      .setName("pulse-pg")
      .setMaxWaitQueueSize(10_000)
      .setConnectionTimeout(5)
      .setPoolCleanerPeriod(10_000)
      .setIdleTimeout(60);
    return PgBuilder.pool().with(pool).connectingTo(connect).using(vertx).build();
  }
}
