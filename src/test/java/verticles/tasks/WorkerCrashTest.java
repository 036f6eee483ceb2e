package verticles.tasks;

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
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Nodes in their own JVMs, killed with SIGKILL mid-task: nothing is lost, no effect is applied twice. */
class WorkerCrashTest {

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

  private static Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put("DATABASE_URL", databaseUrl);
    env.put("REDIS_URL", redisUrl);
    env.put("JWT_SECRET", TestServers.JWT_SECRET);
    env.put("ADMIN_USERNAME", "ops");
    env.put("ADMIN_PASSWORD", "ops-password-1");
    env.put("TASK_LEASE_MS", "2000");
    env.put("TASK_RECONCILE_MS", "1000");
    env.put("LOG_FORMAT", "text");
    return env;
  }



  @Test
  void aTaskWhoseWorkerWasKilledCompletesOnAnotherNodeAndAMoneyMoveIsNotRepeated() throws Exception {
    JsonObject task;
    long taskId;
    long transferTask;
    long payee;
    try (NodeProcess doomed = NodeProcess.start(work.resolve("doomed"), env())) {
      doomed.awaitReady(Duration.ofSeconds(90));
      Api api = new Api(doomed.httpPort());
      String admin = api.login("ops", "ops-password-1");

      // A money move that completes normally on this node first.
      payee = api.post("/api/v1/auth/register", new JsonObject().put("username", "payee").put("email", "payee@example.com")
        .put("password", "payee-password"), null).json().getLong("id");
      assertEquals(201, api.post("/api/v1/transactions/credit", new JsonObject().put("amount", 1000), admin).status);
      JsonObject transfer = new JsonObject().put("type", "ledger.transfer").put("payload", new JsonObject()
        .put("from_user_id", 1).put("to_user_id", payee).put("amount", 300).put("currency", "USD"));
      transferTask = api.post("/api/v1/tasks", transfer, admin).json().getLong("id");
      TestServers.await("the transfer task", Duration.ofSeconds(20), () -> "succeeded".equals(api.get("/api/v1/tasks/" + transferTask, admin).json().getString("status")));

      // A long task: the node is killed while it runs.
      task = api.post("/api/v1/tasks", new JsonObject().put("type", "noop").put("payload", new JsonObject().put("sleep_ms", 5000)), admin).json();
      taskId = task.getLong("id");
      TestServers.await("the task running on the doomed node", Duration.ofSeconds(20), () -> {
        JsonObject now = api.get("/api/v1/tasks/" + taskId, admin).json();
        return "running".equals(now.getString("status"));
      });
      assertTrue(TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE id = " + taskId + " AND leased_by LIKE '%:" + doomed.process().pid() + "'") == 1,
        "the doomed node holds the lease");
      doomed.process().destroyForcibly().waitFor();
    }

    // The worst moment for a money move: its effect committed, its success not yet recorded, and
    // its worker dead. (We put the finished transfer task back in that state: running, lease lapsed.)
    try (Connection db = TestServers.jdbc(databaseUrl); Statement statement = db.createStatement()) {
      assertEquals(1, statement.executeUpdate("UPDATE tasks SET status = 'running', lease_until = now() - interval '1 second', "
        + "leased_by = 'a-node-that-died' WHERE id = " + transferTask));
    }

    try (NodeProcess survivor = NodeProcess.start(work.resolve("survivor"), env())) {
      survivor.awaitReady(Duration.ofSeconds(90));
      Api api = new Api(survivor.httpPort());
      String admin = api.login("ops", "ops-password-1");
      TestServers.await("the killed task to finish elsewhere", Duration.ofSeconds(30),
        () -> "succeeded".equals(api.get("/api/v1/tasks/" + taskId, admin).json().getString("status")));
      JsonObject done = api.get("/api/v1/tasks/" + taskId, admin).json();
      assertEquals(2, done.getInteger("attempts"), "the killed attempt, then one more");
      assertTrue(done.getJsonObject("result").getString("node").endsWith(":" + survivor.process().pid()), done.encode());

      TestServers.await("the transfer to be redelivered", Duration.ofSeconds(30),
        () -> "succeeded".equals(api.get("/api/v1/tasks/" + transferTask, admin).json().getString("status")));
      assertEquals(2, api.get("/api/v1/tasks/" + transferTask, admin).json().getInteger("attempts"), "it was delivered again");
      assertEquals(300, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payee), "but the money moved once");
      assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE type = 'transfer'"));
      assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE status = 'running'"), "nothing left running");
      survivor.assertStopsCleanly(Duration.ofSeconds(10));
    }
  }
}
