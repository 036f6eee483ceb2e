package verticles.http;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.support.Api;
import verticles.support.NodeScripts;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The dashboard end to end in Debian's chromium through playwright-core
 * (src/test/js/dashboard.test.mjs): log in, a transfer from another session shows without a
 * reload (100 of them timed, commit to page), the page at phone width, an admin's search of dead
 * tasks by error text with a dry run and "retry all matching" on 1,000 of them while the count
 * falls, every admin view, no console errors, and the polling fallback when the socket is down.
 * Screenshots go to {@code -Dscreenshots.dir} when it is set (docs/ holds the committed ones).
 */
class DashboardTest {

  private static final String ADMIN = "dash_admin";
  private static final String ADMIN_PASSWORD = "dash-admin-password-1";
  private static final String DEAD_ERROR = "upstream timeout after 5000 ms (pricing-api)";
  private static final int DEAD = 1000;

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin(ADMIN, ADMIN_PASSWORD);

  private static JsonObject user(String name) {
    Api api = node.api();
    Api.Reply created = api.post("/api/v1/auth/register", new JsonObject().put("username", name)
      .put("email", name + "@example.com").put("password", "password-" + name), null);
    assertEquals(201, created.status, created.toString());
    return new JsonObject().put("id", created.json().getLong("id")).put("token", api.login(name, "password-" + name));
  }

  /** Dead tasks as the dispatcher leaves them (their payload asks for nothing, so a retry succeeds). */
  private static void seedDeadTasks(long owner, int count, String error) throws Exception {
    try (Connection db = TestServers.jdbc(node.databaseUrl()); PreparedStatement insert = db.prepareStatement("""
      INSERT INTO tasks (owner_id, type, queue, payload, status, attempts, max_attempts, backoff, run_at, last_error,
                         created_at, started_at, finished_at)
      SELECT ?, 'noop', 'default', jsonb_build_object('n', n), 'dead', 3, 3, '{"kind": "exponential", "base_ms": 1000, "max_ms": 60000}',
             now() - interval '1 hour', ?, now() - interval '1 hour', now() - interval '50 minutes', now() - interval '50 minutes'
      FROM generate_series(1, ?) AS n
      """)) {
      insert.setLong(1, owner);
      insert.setString(2, error);
      insert.setInt(3, count);
      insert.executeUpdate();
    }
  }

  /** A finished image job of {@code owner}: one image measured, one that could not be downloaded. */
  private static void seedImageJob(long owner) throws Exception {
    try (Connection db = TestServers.jdbc(node.databaseUrl()); PreparedStatement insert = db.prepareStatement("""
      WITH job AS (
        INSERT INTO image_jobs (owner_id, status, total, done, failed, visits, dispatched_at, finished_at)
        VALUES (?, 'failed', 2, 2, 1, 1, now(), now()) RETURNING id
      )
      INSERT INTO images (job_id, visit, store_id, url, visit_time, status, width, height, perimeter, format, error_message, attempts)
      SELECT id, 0, 'RP00001', 'https://img.example.com/shelf-1.jpg', '2026-11-29 10:00', 'succeeded', 1024, 768, 3584, 'jpeg', NULL, 1 FROM job
      UNION ALL
      SELECT id, 0, 'RP00001', 'https://img.example.com/shelf-2.jpg', '2026-11-29 10:00', 'failed', NULL, NULL, NULL, NULL,
             'HTTP 404 from img.example.com', 3 FROM job
      """)) {
      insert.setLong(1, owner);
      insert.executeUpdate();
    }
  }

  @Test
  void theDashboardWorksEndToEndInChromium() throws Exception {
    NodeScripts.requireChromium();
    JsonObject alice = user("dash_alice");
    JsonObject bob = user("dash_bob");
    assertEquals(201, node.api().post("/api/v1/transactions/credit", new JsonObject().put("amount", 100_000_000), bob.getString("token")).status);
    assertEquals(201, node.api().post("/api/v1/transactions/credit", new JsonObject().put("amount", 2500), alice.getString("token")).status);
    assertEquals(201, node.api().post("/api/v1/tasks", new JsonObject().put("type", "noop").put("payload", new JsonObject()),
      alice.getString("token")).status);
    assertEquals(201, node.api().post("/api/v1/schedules", new JsonObject().put("name", "nightly report").put("cron", "0 3 * * *")
      .put("timezone", "Europe/Paris").put("task", new JsonObject().put("type", "noop")), node.adminToken()).status);
    long failing = node.api().post("/api/v1/tasks", new JsonObject().put("type", "noop").put("max_attempts", 3)
      .put("payload", new JsonObject().put("fail", "retryable"))
      .put("backoff", new JsonObject().put("kind", "fixed").put("base_ms", 200).put("max_ms", 200)), alice.getString("token")).json().getLong("id");
    TestServers.await("a task to die after 3 attempts", java.time.Duration.ofSeconds(20), () -> "dead".equals(
      node.api().get("/api/v1/tasks/" + failing, alice.getString("token")).json().getString("status")));
    seedImageJob(alice.getLong("id"));
    seedDeadTasks(alice.getLong("id"), DEAD, DEAD_ERROR);
    seedDeadTasks(alice.getLong("id"), 40, "connection refused: 10.0.0.7:443");
    Path results = Files.createTempFile("dashboard-results", ".json");

    Map<String, String> env = new HashMap<>();
    env.put("PULSE_BASE_URL", "http://127.0.0.1:" + node.port());
    env.put("ADMIN_USERNAME", ADMIN);
    env.put("ADMIN_PASSWORD", ADMIN_PASSWORD);
    env.put("ALICE_USERNAME", "dash_alice");
    env.put("ALICE_PASSWORD", "password-dash_alice");
    env.put("ALICE_ID", String.valueOf(alice.getLong("id")));
    env.put("BOB_TOKEN", bob.getString("token"));
    env.put("DEAD_ERROR", DEAD_ERROR);
    env.put("DEAD_COUNT", String.valueOf(DEAD));
    env.put("TASK_ID", String.valueOf(failing));
    env.put("TRANSFERS", System.getProperty("dashboard.transfers", "100"));
    env.put("RESULTS_FILE", results.toString());
    String screenshots = System.getProperty("screenshots.dir");
    if (screenshots != null) {
      env.put("SCREENSHOT_DIR", Path.of(screenshots).toAbsolutePath().toString());
    }

    NodeScripts.Run run = NodeScripts.test("dashboard.test.mjs", env, 300);
    System.out.println("dashboard results:\n" + Files.readString(results));
    assertEquals(0, run.exitCode(), "the dashboard tests failed:\n" + run.output());
    assertTrue(run.output().contains("ℹ fail 0") && !run.output().contains("ℹ pass 0"), run.output());
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM tasks WHERE status = 'dead' AND last_error = '"
      + DEAD_ERROR + "'"), "every matching dead task was retried");
    assertEquals(41, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM tasks WHERE status = 'dead'"),
      "the other dead tasks were left alone");
  }
}
