package verticles.tasks;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the dashboard asks of the task room, over REST as any client would: search by every
 * filter, a task's attempts and timeline, dead tasks grouped by error fingerprint, bulk retry,
 * cancel and delete by filter (dry run first, a job that reports progress), schedules with their
 * next fire times, last outcome and run-now, the nodes and the statistics; and the 4xx that bad
 * input gets, naming the field.
 */
class TaskBoardTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("board_admin", "board-admin-password-1").with("TASK_LEASE_MS", "2000");

  private static Api api;
  private static String admin;
  private static long aliceId;
  private static String alice;
  private static String bob;

  @BeforeAll
  static void users() {
    api = node.api();
    admin = node.adminToken();
    aliceId = register("board_alice");
    alice = api.login("board_alice", "password-board_alice");
    register("board_bob");
    bob = api.login("board_bob", "password-board_bob");
  }

  private static long register(String name) {
    Api.Reply reply = api.post("/api/v1/auth/register", new JsonObject().put("username", name).put("email", name + "@example.com")
      .put("password", "password-" + name), null);
    assertEquals(201, reply.status, reply.toString());
    return reply.json().getLong("id");
  }

  /** Rows as the dispatcher would have left them, {@code count} of one kind. */
  private static void seed(long owner, int count, String type, String queue, String status, String payload, String error) throws Exception {
    try (Connection db = TestServers.jdbc(node.databaseUrl()); PreparedStatement insert = db.prepareStatement("""
      INSERT INTO tasks (owner_id, type, queue, payload, status, attempts, max_attempts, backoff, run_at, last_error, finished_at, queued_at)
      SELECT ?, ?, ?, ?::jsonb, ?, 1, 1, '{"kind": "fixed", "base_ms": 100, "max_ms": 100}', now(), ?,
             CASE WHEN ? IN ('queued', 'scheduled') THEN NULL ELSE now() END, now()
      FROM generate_series(1, ?)
      """)) {
      insert.setLong(1, owner);
      insert.setString(2, type);
      insert.setString(3, queue);
      insert.setString(4, payload);
      insert.setString(5, status);
      insert.setString(6, error);
      insert.setString(7, status);
      insert.setInt(8, count);
      insert.executeUpdate();
    }
  }

  private static JsonArray search(String query, String token) {
    Api.Reply reply = api.get("/api/v1/tasks?limit=200&" + query, token);
    assertEquals(200, reply.status, reply.toString());
    return reply.json().getJsonArray("items");
  }

  private static String q(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8);
  }

  private static JsonObject awaitBulk(long id, String token) {
    JsonObject[] job = new JsonObject[1];
    TestServers.await("bulk action " + id + " to end", Duration.ofSeconds(30), () -> {
      job[0] = api.get("/api/v1/tasks/bulk/" + id, token).json();
      return !"running".equals(job[0].getString("status"));
    });
    return job[0];
  }

  private static void problemNaming(Api.Reply reply, String field) {
    assertEquals(400, reply.status, reply.toString());
    assertEquals("application/problem+json", reply.header("Content-Type"));
    assertTrue(reply.json().getJsonArray("errors").stream().anyMatch(e -> field.equals(((JsonObject) e).getString("field"))),
      "names " + field + ": " + reply);
  }

  @Test
  void searchFindsTasksByStateQueueTypeTimePayloadAndErrorText() throws Exception {
    seed(aliceId, 3, "noop", "search-a", "dead", "{\"customer\": {\"id\": 42}}", "HTTP 502 from billing (attempt 3)");
    seed(aliceId, 2, "http.request", "search-a", "failed", "{\"customer\": {\"id\": 7}}", "permanent: 404 Not Found");
    seed(aliceId, 4, "noop", "search-b", "succeeded", "{\"customer\": {\"id\": 42}}", null);

    assertEquals(9, search("queue=search-a", admin).size() + search("queue=search-b", admin).size());
    assertEquals(3, search("queue=search-a&status=dead", admin).size());
    assertEquals(2, search("queue=search-a&type=http.request", admin).size());
    assertEquals(7, search("payload=" + q("customer.id=42"), admin).size());
    assertEquals(3, search("payload=" + q("customer.id=42") + "&error=" + q("502 FROM billing"), admin).size(), "error text, any case");
    assertEquals(0, search("error=" + q("50_ from"), admin).size(), "_ and % are literal, not wildcards");
    String past = q(OffsetDateTime.now().minusHours(1).toString());
    String future = q(OffsetDateTime.now().plusHours(1).toString());
    assertEquals(9, search("from=" + past + "&to=" + future + "&queue=search-a", admin).size()
      + search("from=" + past + "&to=" + future + "&queue=search-b", admin).size());
    assertEquals(0, search("from=" + future + "&queue=search-a", admin).size());
    assertEquals(0, search("queue=search-a", bob).size(), "a user sees only their own tasks");
    assertEquals(5, search("queue=search-a&owner_id=1", alice).size(), "a user's owner_id is their own, whatever they send");

    JsonArray page = api.get("/api/v1/tasks?queue=search-a&limit=2", admin).json().getJsonArray("items");
    String cursor = api.get("/api/v1/tasks?queue=search-a&limit=2", admin).json().getString("next_cursor");
    JsonArray next = api.get("/api/v1/tasks?queue=search-a&limit=2&cursor=" + cursor, admin).json().getJsonArray("items");
    assertTrue(page.getJsonObject(1).getLong("id") > next.getJsonObject(0).getLong("id"), "pages go on, newest first");

    problemNaming(api.get("/api/v1/tasks?payload=" + q("no equals sign"), admin), "payload");
    problemNaming(api.get("/api/v1/tasks?fingerprint=XYZ", admin), "fingerprint");
    problemNaming(api.get("/api/v1/tasks?status=lost", admin), "status");
    problemNaming(api.get("/api/v1/tasks?from=yesterday", admin), "from");
    problemNaming(api.get("/api/v1/tasks?error=" + "x".repeat(201), admin), "error");
  }

  @Test
  void aTaskShowsEveryAttemptWithItsErrorAndDurationAndItsTimeline() {
    long id = api.post("/api/v1/tasks", new JsonObject().put("type", "noop").put("payload", new JsonObject().put("fail", "retryable"))
      .put("max_attempts", 3).put("backoff", new JsonObject().put("kind", "fixed").put("base_ms", 50).put("max_ms", 50)), alice)
      .json().getLong("id");
    TestServers.await("the task to die", Duration.ofSeconds(20),
      () -> "dead".equals(api.get("/api/v1/tasks/" + id, alice).json().getString("status")));
    JsonObject reply = api.get("/api/v1/tasks/" + id + "/attempts", alice).json();
    JsonArray attempts = reply.getJsonArray("attempts");
    assertEquals(3, attempts.size(), reply.encodePrettily());
    for (int i = 0; i < 3; i++) {
      JsonObject attempt = attempts.getJsonObject(i);
      assertEquals(i + 1, attempt.getInteger("attempt"));
      assertEquals(i < 2 ? "queued" : "dead", attempt.getString("outcome"));
      assertTrue(attempt.getString("error").contains("asked to fail"), attempt.encode());
      assertNotNull(attempt.getLong("duration_ms"));
      assertNotNull(attempt.getString("node"));
    }
    List<String> states = new ArrayList<>();
    reply.getJsonArray("timeline").forEach(step -> states.add(((JsonObject) step).getString("state")));
    assertEquals(List.of("queued", "running", "queued", "running", "queued", "running", "dead"), states);
    assertEquals(404, api.get("/api/v1/tasks/" + id + "/attempts", bob).status, "another user's task does not exist for them");
  }

  @Test
  void deadTasksAreGroupedByFingerprintAndAGroupIsRetriedByFilter() throws Exception {
    seed(aliceId, 2, "noop", "groups", "dead", "{}", "timeout after 5012 ms calling 10.0.0.7");
    seed(aliceId, 3, "noop", "groups", "dead", "{}", "timeout after 4998 ms calling 10.0.0.9");
    seed(aliceId, 1, "noop", "groups", "dead", "{}", "connection refused");
    JsonArray groups = api.get("/api/v1/tasks/dead-groups?queue=groups", admin).json().getJsonArray("items");
    assertEquals(2, groups.size(), groups.encodePrettily());
    JsonObject timeouts = groups.getJsonObject(0);
    assertEquals(5, timeouts.getLong("count"), "numbers and addresses are masked: one group");
    assertEquals("timeout after # ms calling #.#.#.#", timeouts.getString("pattern"));
    String fingerprint = timeouts.getString("fingerprint");
    assertEquals(5, search("fingerprint=" + fingerprint, admin).size());

    JsonObject filter = new JsonObject().put("status", "dead").put("fingerprint", fingerprint);
    JsonObject dry = api.post("/api/v1/tasks/bulk/dry-run", new JsonObject().put("action", "retry").put("filter", filter), admin).json();
    assertEquals(5, dry.getLong("matching"));
    assertEquals(5, search("fingerprint=" + fingerprint + "&status=dead", admin).size(), "a dry run changes nothing");
    Api.Reply started = api.post("/api/v1/tasks/bulk", new JsonObject().put("action", "retry").put("filter", filter), admin);
    assertEquals(202, started.status, started.toString());
    JsonObject job = awaitBulk(started.json().getLong("id"), admin);
    assertEquals("done", job.getString("status"));
    assertEquals(5, job.getLong("done"));
    TestServers.await("the retried tasks to succeed", Duration.ofSeconds(20), () -> search("queue=groups&status=succeeded", admin).size() == 5);
    assertEquals(1, search("queue=groups&status=dead", admin).size(), "the other group is left alone");
  }

  @Test
  void bulkCancelAndDeleteByFilterOnlyTouchWhatTheyMayAndOnlyTheStartersTasks() throws Exception {
    assertEquals(200, api.raw("PATCH", "/api/v1/queues/held", new JsonObject().put("paused", true).encode(),
      "Authorization", "Bearer " + admin, "Content-Type", "application/json").status);
    JsonArray batch = new JsonArray();
    for (int i = 0; i < 30; i++) {
      batch.add(new JsonObject().put("type", "noop").put("queue", "held").put("payload", new JsonObject().put("i", i)));
    }
    assertEquals(201, api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", batch), alice).status);
    assertEquals(201, api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", new JsonArray().add(batch.getJsonObject(0))), bob).status);
    TestServers.await("the queue to hold 31 ready tasks", Duration.ofSeconds(10), () -> ready("held") == 31);

    JsonObject queued = new JsonObject().put("queue", "held").put("status", "queued");
    Api.Reply own = api.post("/api/v1/tasks/bulk", new JsonObject().put("action", "cancel").put("filter", queued), alice);
    assertEquals(202, own.status, own.toString());
    assertEquals(30, own.json().getLong("matching"), "a user's bulk action counts only their own tasks");
    assertEquals("done", awaitBulk(own.json().getLong("id"), alice).getString("status"));
    assertEquals(30, search("queue=held&status=cancelled", admin).size());
    assertEquals(1, search("queue=held&status=queued", admin).size(), "bob's task is still queued");
    TestServers.await("Redis to forget the cancelled tasks", Duration.ofSeconds(10), () -> ready("held") == 1);
    assertEquals(404, api.get("/api/v1/tasks/bulk/" + own.json().getLong("id"), bob).status, "a job is its starter's");

    JsonObject delete = new JsonObject().put("action", "delete").put("filter", new JsonObject().put("queue", "held"));
    assertEquals(30, api.post("/api/v1/tasks/bulk/dry-run", delete, admin).json().getLong("matching"), "only finished tasks are deleted");
    JsonObject deleted = awaitBulk(api.post("/api/v1/tasks/bulk", delete, admin).json().getLong("id"), admin);
    assertEquals(30, deleted.getLong("done"));
    assertEquals(1, search("queue=held", admin).size());

    Api.Reply badAction = api.post("/api/v1/tasks/bulk", new JsonObject().put("action", "explode").put("filter", new JsonObject()), admin);
    problemNaming(badAction, "action");
    problemNaming(api.post("/api/v1/tasks/bulk/dry-run", new JsonObject().put("action", "retry")
      .put("filter", new JsonObject().put("payload", "=x")), admin), "filter.payload");
    problemNaming(api.post("/api/v1/tasks/bulk", new JsonObject().put("action", "retry")
      .put("filter", new JsonObject().put("colour", "red")), admin), "filter.colour");
    assertEquals(404, api.get("/api/v1/tasks/bulk/999999", admin).status);
    assertEquals(405, api.get("/api/v1/tasks/bulk", admin).status);
  }

  private static long ready(String queue) {
    return api.get("/api/v1/queues", admin).json().getJsonArray("items").stream().map(JsonObject.class::cast)
      .filter(item -> queue.equals(item.getString("name"))).findFirst().map(item -> item.getLong("ready", 0L)).orElse(-1L);
  }

  @Test
  void schedulesShowTheirNextFiresAndLastOutcomeAndRunNow() {
    JsonObject schedule = api.post("/api/v1/schedules", new JsonObject().put("name", "hourly").put("cron", "0 * * * *")
      .put("timezone", "Asia/Kolkata").put("task", new JsonObject().put("type", "noop")), alice).json();
    long id = schedule.getLong("id");
    JsonObject read = api.get("/api/v1/schedules/" + id, alice).json();
    JsonArray next = read.getJsonArray("next_fire_times");
    assertEquals(3, next.size());
    assertTrue(OffsetDateTime.parse(next.getString(0)).isBefore(OffsetDateTime.parse(next.getString(1))));
    assertEquals(0, OffsetDateTime.parse(next.getString(0)).atZoneSameInstant(java.time.ZoneId.of("Asia/Kolkata")).getMinute(),
      "on the hour in the schedule's zone");
    assertTrue(read.getValue("last_task") == null);

    Api.Reply ran = api.post("/api/v1/schedules/" + id + "/run", null, alice);
    assertEquals(201, ran.status, ran.toString());
    long task = ran.json().getLong("id");
    assertEquals(id, ran.json().getLong("schedule_id"));
    TestServers.await("the run to succeed", Duration.ofSeconds(10), () -> "succeeded".equals(api.get("/api/v1/schedules?limit=200", alice)
      .json().getJsonArray("items").stream().map(JsonObject.class::cast).filter(s -> s.getLong("id") == id).findFirst()
      .map(s -> s.getJsonObject("last_task")).map(last -> last.getLong("id") == task ? last.getString("status") : null).orElse(null)));
    assertEquals(404, api.post("/api/v1/schedules/" + id + "/run", null, bob).status);
  }

  @Test
  void theNodesAndTheStatisticsAreForAdmins() {
    TestServers.await("this node to be listed", Duration.ofSeconds(10), () -> {
      Api.Reply reply = api.get("/api/v1/nodes", admin);
      return reply.status == 200 && reply.json().getJsonArray("items").stream().map(JsonObject.class::cast)
        .anyMatch(item -> node.node().name().equals(item.getString("name")));
    });
    JsonObject self = api.get("/api/v1/nodes", admin).json().getJsonArray("items").stream().map(JsonObject.class::cast)
      .filter(item -> node.node().name().equals(item.getString("name"))).findFirst().orElseThrow();
    Set<String> roles = new TreeSet<>();
    self.getJsonArray("roles").forEach(role -> roles.add((String) role));
    assertTrue(roles.containsAll(Set.of("http", "dispatch", "ledger")), self.encode());
    assertTrue(self.getLong("heartbeat_age_ms") < 15_000, self.encode());
    assertTrue(self.getLong("uptime_ms") >= 0, self.encode());
    assertNotNull(self.getValue("running_tasks"), self.encode());
    assertEquals(403, api.get("/api/v1/nodes", bob).status);

    JsonObject stats = api.get("/api/v1/stats", admin).json();
    assertEquals(60, stats.getJsonArray("throughput").size());
    assertTrue(stats.containsKey("latency"), stats.encode());
    assertEquals(403, api.get("/api/v1/stats", bob).status);
  }
}
