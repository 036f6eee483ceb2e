package verticles;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.NodeProcess;
import verticles.support.ServerFiles;
import verticles.support.TestServers;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A node in its own JVM, in zero-setup (embedded) mode: bad settings, SIGTERM, kill -9, restarts. */
class NodeLifecycleTest {

  @TempDir
  Path work;

  private Map<String, String> embedded(Path dataDir, int pgPort, int redisPort) {
    return Map.of("DATA_DIR", dataDir.toString(),
      "EMBEDDED_PG_PORT", String.valueOf(pgPort),
      "EMBEDDED_REDIS_PORT", String.valueOf(redisPort),
      "LOG_FORMAT", "text");
  }

  @Test
  void aBadSettingStopsTheStartWithOneLineNamingIt() throws Exception {
    try (NodeProcess node = NodeProcess.start(work, Map.of("HTTP_PORT", "abc"))) {
      assertTrue(node.process().waitFor(30, TimeUnit.SECONDS), "the node gives up at once");
      assertEquals(2, node.process().exitValue());
      List<String> lines = node.output().lines().collect(java.util.stream.Collectors.toList());
      assertEquals(1, lines.size(), "one line: " + node.output());
      assertTrue(lines.get(0).contains("HTTP_PORT") && lines.get(0).contains("abc"), lines.get(0));
      assertFalse(lines.get(0).contains("Exception"), "no stack trace");
    }
  }

  @Test
  void sigtermStopsEverythingAndExitsZeroWithinTenSeconds() throws Exception {
    Path data = work.resolve("data");
    try (NodeProcess node = NodeProcess.start(work, embedded(data, TestServers.freePort(), TestServers.freePort()))) {
      node.awaitReady(Duration.ofSeconds(90));
      ProcessHandle postgres = ServerFiles.postgres(data).orElseThrow();
      ProcessHandle redis = ServerFiles.redis(data).orElseThrow();
      List<ProcessHandle> children = node.children();
      assertTrue(children.contains(redis), "Redis runs as the node's child");

      long began = System.nanoTime();
      node.assertStopsCleanly(Duration.ofSeconds(10));
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);

      assertGone(postgres, "PostgreSQL");
      assertGone(redis, "Redis");
      for (ProcessHandle child : children) {
        assertGone(child, "child " + child.info().command().orElse("?"));
      }
      assertTrue(node.output().contains("stopped"), node.output());
      System.out.println("SIGTERM to exit: " + tookMs + " ms");
    }
  }

  @Test
  void aNodeKilledWithSigkillLeavesNoServerRunning() throws Exception {
    Path data = work.resolve("data");
    try (NodeProcess node = NodeProcess.start(work, embedded(data, TestServers.freePort(), TestServers.freePort()))) {
      node.awaitReady(Duration.ofSeconds(90));
      ProcessHandle postgres = ServerFiles.postgres(data).orElseThrow();
      ProcessHandle redis = ServerFiles.redis(data).orElseThrow();

      node.process().destroyForcibly().waitFor();

      assertGone(postgres, "PostgreSQL (stopped by the watchdog)");
      assertGone(redis, "Redis (stopped by the watchdog)");
    }
  }

  @Test
  void dataSurvivesACrashAndTheServersItOrphanedDoNotBlockTheNextStart() throws Exception {
    Path data = work.resolve("data");
    int pgPort = TestServers.freePort();
    int redisPort = TestServers.freePort();
    String databaseUrl = "postgresql://postgres@127.0.0.1:" + pgPort + "/postgres";

    try (NodeProcess first = NodeProcess.start(work, embedded(data, pgPort, redisPort))) {
      first.awaitReady(Duration.ofSeconds(90));
      try (Connection db = TestServers.jdbc(databaseUrl); Statement sql = db.createStatement()) {
        sql.execute("INSERT INTO audit_logs (entity_type, entity_id, action) VALUES ('test', 'marker', 'written before the crash')");
      }
      assertEquals("+OK", ServerFiles.redisCommand(redisPort, "SET", "marker", "kept"));

      // The worst crash: the watchdog dies first, then the JVM; both servers are orphaned.
      first.children().stream().filter(p -> p.info().command().orElse("").endsWith("sh")).forEach(ProcessHandle::destroyForcibly);
      first.process().destroyForcibly().waitFor();
    }
    ProcessHandle orphanPostgres = ServerFiles.postgres(data).orElseThrow();
    ProcessHandle orphanRedis = ServerFiles.redis(data).orElseThrow();
    assertTrue(orphanPostgres.isAlive() && orphanRedis.isAlive(), "the crash left both servers running");

    try (NodeProcess second = NodeProcess.start(work, embedded(data, pgPort, redisPort))) {
      second.awaitReady(Duration.ofSeconds(90));
      assertFalse(orphanPostgres.isAlive(), "the orphaned PostgreSQL was stopped");
      assertFalse(orphanRedis.isAlive(), "the orphaned Redis was stopped");
      assertTrue(second.output().contains("reopened"), second.output());

      try (Connection db = TestServers.jdbc(databaseUrl); Statement sql = db.createStatement()) {
        ResultSet rows = sql.executeQuery("SELECT count(*) FROM audit_logs WHERE entity_id = 'marker'");
        rows.next();
        assertEquals(1, rows.getInt(1), "the committed row survived");
      }
      assertEquals("$4\r\nkept", ServerFiles.redisCommand(redisPort, "GET", "marker"), "the Redis key survived");
      second.assertStopsCleanly(Duration.ofSeconds(10));
    }
  }

  private static void assertGone(ProcessHandle process, String what) throws Exception {
    try {
      process.onExit().get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(what + " (pid " + process.pid() + ") is still running");
    }
  }
}
