package verticles.tasks;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.ServerFiles;
import verticles.support.TestServers;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The fast way back for a dead worker's task: Redis names the leases that expired, and the
 * housekeeper reaps those tasks in PostgreSQL by id within seconds. The index-walking reaper,
 * which also finds leases Redis lost, runs only every reconcile period: ten minutes here, so
 * only the fast way can act during the test.
 */
class LeaseExpiryTest {

  /** A Redis of this test's own, whose leases the test edits; a 2 s lease and a reaper that waits ten minutes. */
  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("ops", "ops-password-1").withOwnRedis()
    .with("TASK_LEASE_MS", "2000").with("TASK_RECONCILE_MS", "600000");

  private static int redisPort;
  private static String databaseUrl;
  private static Api api;
  private static String admin;

  @BeforeAll
  static void start() {
    redisPort = node.redisPort();
    databaseUrl = node.databaseUrl();
    api = node.api();
    admin = node.adminToken();
  }

  private static long succeededNoop() {
    long id = api.post("/api/v1/tasks", new JsonObject().put("type", "noop").put("queue", "ghosts"), admin).json().getLong("id");
    TestServers.await("task " + id + " to succeed", Duration.ofSeconds(10), () -> "succeeded".equals(task(id).getString("status")));
    return id;
  }

  private static JsonObject task(long id) {
    return api.get("/api/v1/tasks/" + id, admin).json();
  }

  @Test
  void aLeaseRedisSawExpireIsReapedAndRunAgainWithinSeconds() throws Exception {
    long known = succeededNoop();
    long lost = succeededNoop();
    // Both as a worker that died mid-task leaves them: running, the lease lapsed a while ago.
    // Redis still has the first one's lease; the second one's it lost (a flush, say).
    try (Connection db = TestServers.jdbc(databaseUrl); Statement statement = db.createStatement()) {
      assertEquals(2, statement.executeUpdate("UPDATE tasks SET status = 'running', finished_at = NULL, "
        + "lease_until = now() - interval '1 second', leased_by = 'a-node-that-died' WHERE id IN (" + known + ", " + lost + ")"));
    }
    assertEquals(":1", ServerFiles.redisCommand(redisPort, "ZADD", "tasks:leased:ghosts",
      String.valueOf(System.currentTimeMillis() - 5000), String.valueOf(known)));

    TestServers.await("the task whose lease Redis saw expire to run again", Duration.ofSeconds(5),
      () -> "succeeded".equals(task(known).getString("status")));
    JsonObject again = task(known);
    assertEquals(2, again.getInteger("attempts"), "the dead worker's attempt, then one more: " + again.encode());
    JsonObject waiting = task(lost);
    assertEquals("running", waiting.getString("status"),
      "a lease Redis lost waits for the reaper proper (every reconcile period): " + waiting.encode());
  }
}
