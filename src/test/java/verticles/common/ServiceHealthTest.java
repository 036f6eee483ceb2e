package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import io.vertx.sqlclient.Pool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import verticles.Migrations;
import verticles.support.TestServers;

import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(VertxExtension.class)
class ServiceHealthTest {

  private static JsonObject configNeeding(String url, String version) {
    return TestServers.config(Map.of("DATABASE_URL", url)).with(Config.SCHEMA_VERSION, version)
      .with(Config.NODE_NAME, "test-node").json();
  }

  @Test
  void aSchemaNewerThanTheNodeNeedsIsHealthyAnOlderOneIsNot(Vertx vertx, VertxTestContext test) throws Exception {
    String url = TestServers.freshDatabase();
    String migrated = Migrations.migrate(url);
    try (Connection db = TestServers.jdbc(url); Statement sql = db.createStatement()) {
      // What a newer node's migration would leave behind during a rolling upgrade.
      sql.execute("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
        + "installed_by, execution_time, success) VALUES (1000, '" + (Integer.parseInt(migrated) + 1)
        + "', 'newer', 'SQL', 'V_newer.sql', 0, 'test', 0, true)");
    }
    Pool pool = Database.pool(vertx, configNeeding(url, migrated));
    ServiceHealth current = new ServiceHealth(vertx, Role.LEDGER, configNeeding(url, migrated)).postgres(pool);
    ServiceHealth ahead = new ServiceHealth(vertx, Role.LEDGER, configNeeding(url, "999")).postgres(pool);

    current.run()
      .compose(result -> {
        test.verify(() -> assertEquals("up", result.getString("status"), result.encode()));
        return ahead.run();
      })
      .onComplete(test.succeeding(result -> test.verify(() -> {
        assertEquals("down", result.getString("status"));
        String postgres = result.getJsonObject("checks").getString("postgres");
        assertTrue(postgres.contains("needs 999"), postgres);
        test.completeNow();
      })));
  }
}
