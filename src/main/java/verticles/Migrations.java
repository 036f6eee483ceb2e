package verticles;

import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the numbered SQL files of {@code sql/} (packaged into the jar) with Flyway. Blocking:
 * run it on a worker thread. Flyway's PostgreSQL advisory lock lets several nodes start at once.
 */
public final class Migrations {

  private static final Logger log = LoggerFactory.getLogger(Migrations.class);

  private Migrations() {
  }

  /** Migrates the database at {@code databaseUrl}; returns the schema version it now has. */
  public static String migrate(String databaseUrl) {
    PgConnectOptions options = PgConnectOptions.fromUri(databaseUrl);
    String jdbcUrl = "jdbc:postgresql://" + options.getHost() + ":" + options.getPort() + "/" + options.getDatabase();
    Flyway flyway = Flyway.configure()
      .dataSource(jdbcUrl, options.getUser(), options.getPassword())
      .locations("classpath:sql")
      .connectRetries(10)
      .load();
    MigrateResult result = flyway.migrate();
    // Read back rather than trust the result: a node that waited on the lock while another
    // migrated reports the version it saw before waiting.
    String version = flyway.info().current().getVersion().getVersion();
    log.info("database schema at version {} ({} migration(s) applied now)", version, result.migrationsExecuted);
    return version;
  }
}
