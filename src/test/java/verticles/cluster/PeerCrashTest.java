package verticles.cluster;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.EmbeddedServers;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two clustered JVMs; one is SIGKILLed while handlers on it hold tasks the other sent. What it
 * held comes back within the lease (the survivor hears that the member left), not after the
 * task's own timeout, and the queue's concurrency slots are not held meanwhile.
 */
class PeerCrashTest {

  private static final long LEASE_MS = 6_000;
  private static final int TASK_TIMEOUT_MS = 60_000;

  @TempDir
  static Path work;

  private static EmbeddedServers redis;
  private static String redisUrl;
  private static String databaseUrl;

  @BeforeAll
  static void servers() throws Exception {
    redis = EmbeddedServers.open(work.resolve("redis"));
    redisUrl = redis.startRedis(0);
    databaseUrl = TestServers.freshDatabase();
  }

  @AfterAll
  static void stopServers() {
    redis.close();
  }

  private static Map<String, String> env(int clusterPort, String members) {
    Map<String, String> env = new HashMap<>();
    env.put("DATABASE_URL", databaseUrl);
    env.put("REDIS_URL", redisUrl);
    env.put("JWT_SECRET", TestServers.JWT_SECRET);
    env.put("ADMIN_USERNAME", "ops");
    env.put("ADMIN_PASSWORD", "ops-password-1");
    env.put("TASK_LEASE_MS", String.valueOf(LEASE_MS));
    env.put("CLUSTER", "true");
    env.put("CLUSTER_PORT", String.valueOf(clusterPort));
    env.put("CLUSTER_MEMBERS", members);
    env.put("LOG_FORMAT", "text");
    return env;
  }

  @Test
  void tasksHeldByAKilledMemberComeBackWithinTheLeaseNotTheirTimeout() throws Exception {
    int survivorPort = TestServers.freePort();
    int doomedPort = TestServers.freePort();
    String members = "127.0.0.1:" + survivorPort + ",127.0.0.1:" + doomedPort;
    Map<String, String> doomedEnv = env(doomedPort, members);
    doomedEnv.put("ROLES", "dispatch");
    // The doomed member dispatches at most one task itself: most of the queue's slots are the survivor's
    // deliveries, which the bus spreads over both members' handlers.
    doomedEnv.put("TASK_NODE_CONCURRENCY", "1");

    try (NodeProcess survivor = NodeProcess.start(work.resolve("survivor"), env(survivorPort, members))) {
      survivor.awaitReady(Duration.ofSeconds(90));
      Api api = new Api(survivor.httpPort());
      String admin = api.login("ops", "ops-password-1");
      assertEquals(200, api.raw("PATCH", "/api/v1/queues/crash", new JsonObject().put("concurrency", 4).encode(),
        "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);

      List<Long> ids = new ArrayList<>();
      long killedAt;
      try (NodeProcess doomed = NodeProcess.start(work.resolve("doomed"), doomedEnv)) {
        TestServers.await("the second member to join", Duration.ofSeconds(90),
          () -> survivor.output().contains("member(s)") && doomed.output().contains("(2 member(s))"));
        TestServers.await("the second member's handlers to serve", Duration.ofSeconds(60),
          () -> doomed.output().contains("ready in"));
        for (int i = 0; i < 12; i++) {
          ids.add(api.post("/api/v1/tasks", new JsonObject().put("type", "noop").put("queue", "crash").put("timeout_ms", TASK_TIMEOUT_MS)
            .put("payload", new JsonObject().put("sleep_ms", 3000)), admin).json().getLong("id"));
        }
        String running = "SELECT count(*) FROM tasks WHERE queue = 'crash' AND status = 'running'";
        TestServers.await("the queue's four slots in use", Duration.ofSeconds(20), () -> TestServers.scalar(databaseUrl, running) == 4);
        NodeProcess.sleep(500);  // the handlers have the tasks (and have told their dispatchers so)
        doomed.process().destroyForcibly().waitFor();
        killedAt = System.nanoTime();
      }

      try {
        TestServers.await("every task done", Duration.ofSeconds(TASK_TIMEOUT_MS / 1000 - 5), () -> ids.stream()
          .allMatch(id -> "succeeded".equals(api.get("/api/v1/tasks/" + id, admin).json().getString("status"))));
      } catch (AssertionError stuck) {
        throw new AssertionError(stuck.getMessage() + "; the tasks:\n" + tasks() + "\nthe survivor's log:\n" + survivor.output(), stuck);
      }
      long lastMs = Duration.ofNanos(System.nanoTime() - killedAt).toMillis();
      System.out.println("kill -> last task succeeded: " + lastMs + " ms (lease " + LEASE_MS + " ms, task timeout "
        + TASK_TIMEOUT_MS + " ms, queue concurrency 4)");
      assertTrue(lastMs < TASK_TIMEOUT_MS / 2, "the lost tasks came back long before their timeout: " + lastMs + " ms");

      long handedBack = TestServers.scalar(databaseUrl,
        "SELECT count(*) FROM tasks WHERE queue = 'crash' AND attempts = 2 AND last_error IS NULL");
      long leftTheCluster = survivor.output().lines().filter(line -> line.contains("left holding")).count();
      assertTrue(leftTheCluster >= 1, "the survivor re-delivered what the lost member held:\n" + survivor.output());
      assertTrue(handedBack >= 1, "some task ran a second time after its member was lost");
      assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'crash' AND attempts > 2"),
        "no task ran more than twice");
      survivor.assertStopsCleanly(Duration.ofSeconds(15));
    }
  }

  /** The crash queue's tasks, one line each, for a failure message. */
  private static String tasks() {
    StringBuilder text = new StringBuilder();
    try (Connection db = TestServers.jdbc(databaseUrl); Statement statement = db.createStatement();
         ResultSet rows = statement.executeQuery("SELECT id, status, attempts, leased_by, lease_until, last_error FROM tasks "
           + "WHERE queue = 'crash' ORDER BY id")) {
      while (rows.next()) {
        for (int column = 1; column <= 6; column++) {
          text.append(rows.getString(column)).append(column < 6 ? " | " : "\n");
        }
      }
    } catch (SQLException e) {
      text.append(e);
    }
    return text.toString();
  }
}
