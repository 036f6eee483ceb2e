package verticles.common;

import org.junit.jupiter.api.Test;
import verticles.Migrations;
import verticles.support.TestServers;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several nodes starting at once against one fresh database end with one correct schema. */
class MigrationRaceTest {

  @Test
  void nodesMigratingTheSameFreshDatabaseAtOnceApplyEachMigrationOnce() throws Exception {
    String url = TestServers.freshDatabase();
    int nodes = 4;
    CyclicBarrier together = new CyclicBarrier(nodes);
    ExecutorService pool = Executors.newFixedThreadPool(nodes);
    List<Future<String>> versions = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      versions.add(pool.submit(() -> {
        together.await();
        return Migrations.migrate(url);
      }));
    }
    String expected = versions.get(0).get(60, TimeUnit.SECONDS);
    for (Future<String> version : versions) {
      assertEquals(expected, version.get(60, TimeUnit.SECONDS), "every node sees the same final version");
    }
    pool.shutdown();

    try (Connection db = TestServers.jdbc(url); Statement sql = db.createStatement()) {
      ResultSet history = sql.executeQuery(
        "SELECT count(*) AS applied, count(DISTINCT version) AS versions, bool_and(success) AS ok "
          + "FROM flyway_schema_history WHERE version IS NOT NULL");
      history.next();
      assertTrue(history.getBoolean("ok"), "no failed migration recorded");
      assertEquals(history.getInt("versions"), history.getInt("applied"), "each version applied exactly once");
      assertEquals(expected, String.valueOf(history.getInt("versions")), "all versions up to the latest are there");

      sql.execute("INSERT INTO audit_logs (entity_type, entity_id, action) VALUES ('test', '1', 'created')");
      ResultSet rows = sql.executeQuery("SELECT count(*) FROM audit_logs");
      rows.next();
      assertEquals(1, rows.getInt(1), "the schema is usable");
    }
  }

  @Test
  void auditLogsRefuseUpdatesAndDeletes() throws Exception {
    String url = TestServers.freshDatabase();
    Migrations.migrate(url);
    try (Connection db = TestServers.jdbc(url); Statement sql = db.createStatement()) {
      sql.execute("INSERT INTO audit_logs (entity_type, entity_id, action) VALUES ('test', '1', 'created')");
      assertTrue(throwsSql(sql, "UPDATE audit_logs SET action = 'rewritten'"), "update refused");
      assertTrue(throwsSql(sql, "DELETE FROM audit_logs"), "delete refused");
      ResultSet rows = sql.executeQuery("SELECT action FROM audit_logs");
      rows.next();
      assertEquals("created", rows.getString(1));
    }
  }

  private static boolean throwsSql(Statement sql, String statement) {
    try {
      sql.execute(statement);
      return false;
    } catch (java.sql.SQLException expected) {
      return expected.getMessage().contains("append-only");
    }
  }
}
