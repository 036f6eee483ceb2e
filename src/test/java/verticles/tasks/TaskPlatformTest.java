package verticles.tasks;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.EmbeddedServers;
import verticles.Node;
import verticles.common.Config;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.ServerFiles;
import verticles.support.TestServers;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The task platform against real PostgreSQL and Redis with two dispatching nodes sharing them:
 * retries and dead-letter, delays, cron, idempotent submit, cancel, queue limits across nodes,
 * Redis losing everything, and a clean stop that leaves no lease.
 */
class TaskPlatformTest {

  @TempDir
  static Path redisDir;

  private static EmbeddedServers redis;
  private static int redisPort;
  private static String databaseUrl;
  private static Node first;
  private static Node second;
  private static Api api;
  private static int port;
  private static String admin;
  private static final List<JsonObject> EVENTS = new CopyOnWriteArrayList<>();

  private static Config config(Map<String, String> extra) {
    Map<String, String> env = new java.util.HashMap<>(Map.of("DATABASE_URL", databaseUrl,
      "REDIS_URL", "redis://127.0.0.1:" + redisPort, "ADMIN_USERNAME", "ops", "ADMIN_PASSWORD", "ops-password-1",
      "RATE_LIMIT_AUTH_PER_MINUTE", "100000", "RATE_LIMIT_USER_PER_MINUTE", "100000",
      "TASK_LEASE_MS", "2000", "TASK_RECONCILE_MS", "1000", "TASK_NODE_CONCURRENCY", "2"));
    env.putAll(extra);
    return TestServers.config(env);
  }

  @BeforeAll
  static void start() throws Exception {
    redis = EmbeddedServers.open(redisDir);
    redisPort = URI.create(redis.startRedis(0)).getPort();
    databaseUrl = TestServers.freshDatabase();
    Config one = config(Map.of());
    first = Node.start(one).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    second = Node.start(config(Map.of())).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    // Two separate (unclustered) buses: listen on both for the events of whichever node ran a task.
    first.vertx().eventBus().<JsonObject>consumer("events.admin", message -> EVENTS.add(message.body()));
    second.vertx().eventBus().<JsonObject>consumer("events.admin", message -> EVENTS.add(message.body()));
    port = one.integer("HTTP_PORT");
    api = new Api(port);
    admin = api.login("ops", "ops-password-1");
  }

  @AfterAll
  static void stop() throws Exception {
    if (second != null) {
      second.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    first.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    redis.close();
  }

  private static JsonObject submit(JsonObject spec) {
    Api.Reply reply = api.post("/api/v1/tasks", spec, admin);
    assertEquals(201, reply.status, reply.toString());
    return reply.json();
  }

  private static JsonObject task(long id) {
    return api.get("/api/v1/tasks/" + id, admin).json();
  }



  @Test
  void aFailingTaskIsRetriedWithGrowingGapsThenDeadAndAManualRetryRevivesIt() {
    long id = submit(new JsonObject().put("type", "noop").put("payload", new JsonObject().put("fail", "retryable"))
      .put("max_attempts", 4).put("backoff", new JsonObject().put("kind", "exponential").put("base_ms", 250).put("max_ms", 10_000)))
      .getLong("id");
    TestServers.await("dead", Duration.ofSeconds(20), () -> "dead".equals(task(id).getString("status")));
    JsonObject dead = task(id);
    assertEquals(4, dead.getInteger("attempts"));
    assertTrue(dead.getString("last_error").contains("asked to fail"), dead.encode());

    List<OffsetDateTime> starts = new ArrayList<>();
    for (JsonObject event : EVENTS) {
      JsonObject task = event.getJsonObject("task");
      if (task != null && task.getLong("id") == id && "task.running".equals(event.getString("type"))) {
        starts.add(OffsetDateTime.parse(task.getString("started_at")));
      }
    }
    assertEquals(4, starts.size(), "one start per attempt");
    long previousGap = 0;
    for (int i = 1; i < starts.size(); i++) {
      long gap = Duration.between(starts.get(i - 1), starts.get(i)).toMillis();
      assertTrue(gap > previousGap, "gaps grow: " + starts);
      previousGap = gap;
    }

    Api.Reply revived = api.post("/api/v1/tasks/" + id + "/retry", new JsonObject(), admin);
    assertEquals(200, revived.status, revived.toString());
    assertEquals("queued", revived.json().getString("status"));
    TestServers.await("dead again", Duration.ofSeconds(10), () -> task(id).getInteger("attempts") == 5 && "dead".equals(task(id).getString("status")));
    assertEquals(409, api.post("/api/v1/tasks/" + submit(new JsonObject().put("type", "noop").put("delay_ms", 60_000)).getLong("id")
      + "/retry", new JsonObject(), admin).status, "only failed or dead tasks are retried");
  }

  @Test
  void aRunningTaskShowsTheProgressItsHandlerReports() {
    long id = submit(new JsonObject().put("type", "noop").put("payload", new JsonObject().put("sleep_ms", 2000))).getLong("id");
    TestServers.await("progress while running", Duration.ofSeconds(10), () -> {
      JsonObject task = task(id);
      return "running".equals(task.getString("status")) && task.getJsonObject("progress") != null
        && task.getJsonObject("progress").getInteger("percent") == 50;
    });
    TestServers.await("done", Duration.ofSeconds(10), () -> "succeeded".equals(task(id).getString("status")));
  }

  @Test
  void aPermanentFailureIsNotRetried() {
    long id = submit(new JsonObject().put("type", "noop").put("payload", new JsonObject().put("fail", "permanent"))).getLong("id");
    TestServers.await("failed", Duration.ofSeconds(10), () -> "failed".equals(task(id).getString("status")));
    assertEquals(1, task(id).getInteger("attempts"));
  }

  @Test
  void aDelayedTaskNeverStartsEarlyAndStartsWithinASecondOfItsTime() {
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(submit(new JsonObject().put("type", "noop").put("delay_ms", 1200 + 400 * i)).getLong("id"));
    }
    TestServers.await("all done", Duration.ofSeconds(15), () -> ids.stream().allMatch(id -> "succeeded".equals(task(id).getString("status"))));
    for (long id : ids) {
      JsonObject task = task(id);
      OffsetDateTime due = OffsetDateTime.parse(task.getString("run_at"));
      OffsetDateTime started = OffsetDateTime.parse(task.getString("started_at"));
      long lateMs = Duration.between(due, started).toMillis();
      assertTrue(lateMs >= 0, "task " + id + " started " + (-lateMs) + " ms early");
      assertTrue(lateMs < 1000, "task " + id + " started " + lateMs + " ms late");
    }
  }

  @Test
  void repeatedSubmissionsWithOneKeyMakeOneTask() throws Exception {
    List<CompletableFuture<Api.Reply>> replies = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      replies.add(CompletableFuture.supplyAsync(() -> new Api(port).raw("POST", "/api/v1/tasks",
        new JsonObject().put("type", "noop").put("delay_ms", 60_000).encode(), "Content-Type", "application/json",
        "Authorization", "Bearer " + admin, "Idempotency-Key", "nightly-report")));
    }
    Set<Long> ids = ConcurrentHashMap.newKeySet();
    int created = 0;
    for (CompletableFuture<Api.Reply> reply : replies) {
      Api.Reply answer = reply.get(30, TimeUnit.SECONDS);
      assertTrue(answer.status == 201 || answer.status == 200, answer.toString());
      created += answer.status == 201 ? 1 : 0;
      ids.add(answer.json().getLong("id"));
    }
    assertEquals(1, created, "one 201, the rest replays");
    assertEquals(1, ids.size());
    assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE idempotency_key = 'nightly-report'"));
  }

  @Test
  void concurrentSingleSubmitsShareCommitsYetEachCallerGetsItsOwnTask() throws Exception {
    long aliceId = api.post("/api/v1/auth/register", new JsonObject().put("username", "alice-group").put("email", "alice-group@example.com")
      .put("password", "alice-password-1"), null).json().getLong("id");
    String alice = api.login("alice-group", "alice-password-1");
    long adminId = api.get("/api/v1/me", admin).json().getLong("id");
    double groupsBefore = metric("pulse_tasks_submit_group_count");
    double submitsBefore = metric("pulse_tasks_submit_group_sum");

    // 160 submits from 40 threads, alternating between two owners; a quarter of each owner's
    // submits carry the same key ("shared"), which must make one task per owner, not one in all.
    int n = 160;
    ExecutorService clients = Executors.newFixedThreadPool(40);
    List<CompletableFuture<Api.Reply>> replies = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        int index = i;
        String token = i % 2 == 0 ? admin : alice;
        String key = i % 8 < 2 ? "shared" : "own-" + i;
        replies.add(CompletableFuture.supplyAsync(() -> new Api(port).raw("POST", "/api/v1/tasks",
          new JsonObject().put("type", "noop").put("queue", "group").put("delay_ms", 600_000).put("payload", new JsonObject().put("n", index)).encode(),
          "Content-Type", "application/json", "Authorization", "Bearer " + token, "Idempotency-Key", key), clients));
      }
      Map<Long, Set<Long>> sharedIds = new ConcurrentHashMap<>();
      Map<Long, Integer> sharedCreated = new ConcurrentHashMap<>();
      Set<Long> ownIds = new java.util.HashSet<>();
      for (int i = 0; i < n; i++) {
        Api.Reply reply = replies.get(i).get(60, TimeUnit.SECONDS);
        assertTrue(reply.status == 201 || reply.status == 200, reply.toString());
        JsonObject task = reply.json();
        long owner = i % 2 == 0 ? adminId : aliceId;
        assertEquals(owner, task.getLong("owner_id"), "answer " + i + " is its own caller's task: " + task.encode());
        if (i % 8 < 2) {
          sharedIds.computeIfAbsent(owner, o -> ConcurrentHashMap.newKeySet()).add(task.getLong("id"));
          sharedCreated.merge(owner, reply.status == 201 ? 1 : 0, Integer::sum);
        } else {
          assertEquals(201, reply.status, reply.toString());
          assertEquals(i, task.getJsonObject("payload").getInteger("n"), "answer " + i + " carries its own payload: " + task.encode());
          assertTrue(ownIds.add(task.getLong("id")), "a task id answered twice: " + task.encode());
        }
      }
      for (long owner : List.of(adminId, aliceId)) {
        assertEquals(1, sharedIds.get(owner).size(), "one task per owner for the shared key");
        assertEquals(1, sharedCreated.get(owner), "one 201 per owner for the shared key, the rest replays");
        assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE idempotency_key = 'shared' AND owner_id = " + owner));
      }
      assertEquals(n - n / 4 + 2, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'group'"));
    } finally {
      clients.shutdownNow();
    }
    double groups = metric("pulse_tasks_submit_group_count") - groupsBefore;
    double submits = metric("pulse_tasks_submit_group_sum") - submitsBefore;
    assertEquals(n, submits, "every single submit went through the group commit");
    assertTrue(groups < submits, "concurrent submits shared commits: " + submits + " submits in " + groups + " groups");
  }

  /** A value of the first node's /metrics: the first sample whose line starts with {@code name}. */
  private static double metric(String name) {
    return metric(name, "");
  }

  /** The first sample of {@code name} whose labels contain {@code label} (0 when there is none). */
  private static double metric(String name, String label) {
    return api.get("/metrics", null).raw.body().lines()
      .filter(line -> (line.startsWith(name + " ") || line.startsWith(name + "{")) && line.contains(label))
      .findFirst().map(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).orElse(0.0);
  }

  /**
   * A new task wakes the dispatchers for its own queue only: the other queues they know are asked
   * on their periodic look alone. Before, every wake-up took from every queue, so an idle queue
   * was asked exactly as often as the busy one (here the first node's takes: it gets the submits).
   */
  @Test
  void aWakeUpTakesFromTheQueueThatHasWorkNotFromEveryQueue() {
    long known = submit(new JsonObject().put("type", "noop").put("queue", "stays-idle")).getLong("id");
    TestServers.await("the idle queue's one task ran", Duration.ofSeconds(10), () -> "succeeded".equals(task(known).getString("status")));
    double idleBefore = takes("stays-idle");
    double busyBefore = takes("gets-work");
    int n = 40;
    for (int i = 0; i < n; i++) {
      long id = submit(new JsonObject().put("type", "noop").put("queue", "gets-work")).getLong("id");
      TestServers.await("task " + i + " ran", Duration.ofSeconds(10), () -> "succeeded".equals(task(id).getString("status")));
    }
    double idle = takes("stays-idle") - idleBefore;
    double busy = takes("gets-work") - busyBefore;
    assertTrue(busy - idle >= n / 2.0, "the busy queue was asked on its wake-ups, the idle one was not: busy " + busy + ", idle " + idle);
  }

  /** The first node's takes from a queue, whatever they handed out. */
  private static double takes(String queue) {
    return api.get("/metrics", null).raw.body().lines()
      .filter(line -> line.startsWith("pulse_tasks_takes_total{") && line.contains("queue=\"" + queue + "\""))
      .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  void theWaitIsTimedFromWhenATaskBecameReadyNotFromWhenItWasMade() {
    String queue = "queue=\"wait-timed\"";
    long id = submit(new JsonObject().put("type", "noop").put("queue", "wait-timed").put("delay_ms", 1000)).getLong("id");
    TestServers.await("the delayed task ran", Duration.ofSeconds(15), () -> "succeeded".equals(task(id).getString("status")));
    JsonObject done = task(id);
    double sinceMade = Duration.between(OffsetDateTime.parse(done.getString("created_at")),
      OffsetDateTime.parse(done.getString("started_at"))).toNanos() / 1e9;
    assertTrue(sinceMade >= 0.9, "it waited for its delay: " + done.encode());
    assertEquals(1, metric("pulse_tasks_wait_seconds_count", queue), "one first attempt started in the queue");
    double waited = metric("pulse_tasks_wait_seconds_sum", queue);
    assertTrue(waited >= 0 && waited < sinceMade, "waited " + waited + " s, from made to started " + sinceMade + " s");
  }

  @Test
  void aBatchIsAllOrNoneAnswersInRequestOrderAndReplaysEachItemsKey() {
    JsonObject noop = new JsonObject().put("type", "noop").put("queue", "batch");
    io.vertx.core.json.JsonArray tasks = new JsonArray()
      .add(noop.copy())
      .add(noop.copy().put("idempotency_key", "batch-1"))
      .add(noop.copy().put("idempotency_key", "batch-1"))
      .add(noop.copy().put("delay_ms", 60_000).put("priority", 7))
      .add(noop.copy().put("idempotency_key", "batch-2").put("payload", new JsonObject().put("echo", "fifth")));
    Api.Reply first = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", tasks), admin);
    assertEquals(201, first.status, first.toString());
    JsonArray items = first.json().getJsonArray("items");
    assertEquals(5, items.size());
    assertEquals(items.getJsonObject(1).getLong("id"), items.getJsonObject(2).getLong("id"), "one task per key, even inside one batch");
    assertEquals(List.of(false, false, true, false, false), items.stream().map(item -> ((JsonObject) item).getBoolean("replayed")).toList());
    assertEquals(4, items.stream().map(item -> ((JsonObject) item).getLong("id")).distinct().count());
    assertEquals("scheduled", items.getJsonObject(3).getString("status"));
    JsonObject delayed = task(items.getJsonObject(3).getLong("id"));
    assertEquals(7, delayed.getInteger("priority"), "answers are in request order: " + delayed.encode());
    long fifth = items.getJsonObject(4).getLong("id");
    TestServers.await("the batch ran", Duration.ofSeconds(10), () -> "succeeded".equals(task(fifth).getString("status")));
    assertEquals("fifth", task(fifth).getJsonObject("result").getString("echo"));

    Api.Reply again = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", new JsonArray()
      .add(noop.copy().put("idempotency_key", "batch-2")).add(noop.copy().put("idempotency_key", "batch-3"))), admin);
    assertEquals(201, again.status, again.toString());
    assertEquals(fifth, again.json().getJsonArray("items").getJsonObject(0).getLong("id"));
    assertTrue(again.json().getJsonArray("items").getJsonObject(0).getBoolean("replayed"));
    Api.Reply onlyReplays = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", new JsonArray()
      .add(noop.copy().put("idempotency_key", "batch-3"))), admin);
    assertEquals(200, onlyReplays.status, onlyReplays.toString());

    // One bad item refuses the whole batch, naming the item; nothing of it is kept.
    Api.Reply bad = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", new JsonArray()
      .add(noop.copy().put("idempotency_key", "batch-4")).add(new JsonObject().put("type", "no-such-type"))), admin);
    assertEquals(400, bad.status, bad.toString());
    assertEquals("tasks.1.type", bad.json().getJsonArray("errors").getJsonObject(0).getString("field"));
    Api.Reply tooMany = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks",
      new JsonArray(java.util.Collections.nCopies(1001, noop))), admin);
    assertEquals(400, tooMany.status, tooMany.toString());
    assertTrue(tooMany.toString().contains("tasks"), tooMany.toString());
    // RFC 3339 (the schema's date-time) allows a leap second; java.time does not: still a 400.
    Api.Reply leap = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", new JsonArray()
      .add(noop.copy().put("idempotency_key", "batch-4").put("run_at", "2030-06-30T23:59:60Z"))), admin);
    assertEquals(400, leap.status, leap.toString());
    assertEquals("tasks.0.run_at", leap.json().getJsonArray("errors").getJsonObject(0).getString("field"));
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE idempotency_key = 'batch-4'"));
    assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE idempotency_key = 'batch-1'"));
  }

  @Test
  void onlyWaitingTasksCanBeCancelledAndACancelledTaskNeverRuns() {
    long waiting = submit(new JsonObject().put("type", "noop").put("delay_ms", 1500)).getLong("id");
    Api.Reply cancelled = api.post("/api/v1/tasks/" + waiting + "/cancel", new JsonObject(), admin);
    assertEquals(200, cancelled.status, cancelled.toString());
    assertEquals("cancelled", cancelled.json().getString("status"));
    assertEquals(409, api.post("/api/v1/tasks/" + waiting + "/cancel", new JsonObject(), admin).status);

    long done = submit(new JsonObject().put("type", "noop")).getLong("id");
    TestServers.await("done", Duration.ofSeconds(10), () -> "succeeded".equals(task(done).getString("status")));
    assertEquals(409, api.post("/api/v1/tasks/" + done + "/cancel", new JsonObject(), admin).status);

    NodeProcess.sleep(2500);
    JsonObject after = task(waiting);
    assertEquals("cancelled", after.getString("status"));
    assertEquals(0, after.getInteger("attempts"), "it never ran");
  }

  @Test
  void aQueueConcurrencyLimitHoldsAcrossBothNodesAndPauseHoldsEverything() throws Exception {
    // Each node runs at most 2 tasks at once (TASK_NODE_CONCURRENCY); the queue allows 3 in the
    // whole cluster: 3 at once needs both nodes, and 4 would break the cluster-wide limit.
    assertEquals(200, api.raw("PATCH", "/api/v1/queues/narrow", new JsonObject().put("concurrency", 3).put("paused", true).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ids.add(submit(new JsonObject().put("type", "noop").put("queue", "narrow").put("payload", new JsonObject().put("sleep_ms", 300)))
        .getLong("id"));
    }
    NodeProcess.sleep(1000);
    assertTrue(ids.stream().allMatch(id -> "queued".equals(task(id).getString("status"))), "paused: nothing starts");

    assertEquals(200, api.raw("PATCH", "/api/v1/queues/narrow", new JsonObject().put("paused", false).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);
    TestServers.await("all done", Duration.ofSeconds(30), () -> ids.stream().allMatch(id -> "succeeded".equals(task(id).getString("status"))));

    List<long[]> spans = new ArrayList<>();
    Set<String> nodes = ConcurrentHashMap.newKeySet();
    for (long id : ids) {
      JsonObject task = task(id);
      spans.add(new long[] {OffsetDateTime.parse(task.getString("started_at")).toInstant().toEpochMilli(),
        OffsetDateTime.parse(task.getString("finished_at")).toInstant().toEpochMilli()});
      nodes.add(task.getJsonObject("result").getString("node"));
    }
    int most = 0;
    for (long[] span : spans) {
      long at = span[0];
      int running = 0;
      for (long[] other : spans) {
        running += other[0] <= at && at < other[1] ? 1 : 0;
      }
      most = Math.max(most, running);
    }
    assertTrue(most <= 3, "at most 3 ran at once, saw " + most);
    assertEquals(3, most, "and the limit was used");
    assertEquals(2, nodes.size(), "both nodes took work: " + nodes);

    Api.Reply queues = api.get("/api/v1/queues", admin);
    JsonObject narrow = queues.json().getJsonArray("items").stream().map(o -> (JsonObject) o)
      .filter(q -> "narrow".equals(q.getString("name"))).findFirst().orElseThrow();
    assertEquals(3, narrow.getInteger("concurrency"));
    assertEquals(0L, narrow.getLong("ready"));
  }

  @Test
  void aThousandQueuedTasksAllSucceedAfterRedisLosesEverything() throws Exception {
    assertEquals(200, api.raw("PATCH", "/api/v1/queues/bulk", new JsonObject().put("paused", true).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);
    List<CompletableFuture<Api.Reply>> submits = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      JsonObject spec = new JsonObject().put("type", "noop").put("queue", "bulk");
      submits.add(CompletableFuture.supplyAsync(() -> api.post("/api/v1/tasks", spec, admin)));
      if (submits.size() % 50 == 0) {
        CompletableFuture.allOf(submits.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
      }
    }
    for (CompletableFuture<Api.Reply> submit : submits) {
      assertEquals(201, submit.get(60, TimeUnit.SECONDS).status);
    }
    assertEquals(1000, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'bulk' AND status = 'queued'"));

    assertEquals("+OK", ServerFiles.redisCommand(redisPort, "FLUSHALL"));
    assertEquals(200, api.raw("PATCH", "/api/v1/queues/bulk", new JsonObject().put("paused", false).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);

    TestServers.await("all 1000 succeeded", Duration.ofSeconds(90), () -> TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'bulk' AND status = 'succeeded'") == 1000);
    assertEquals(1000, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'bulk' AND attempts = 1"), "each ran once");
  }

  @Test
  void aCronScheduleOnTwoNodesFiresExactlyOncePerOccurrence() throws Exception {
    Api.Reply created = api.post("/api/v1/schedules", new JsonObject().put("name", "every second").put("cron", "* * * * * *")
      .put("timezone", "Europe/Paris").put("task", new JsonObject().put("type", "noop").put("queue", "cron")), admin);
    assertEquals(201, created.status, created.toString());
    long id = created.json().getLong("id");
    NodeProcess.sleep(6500);
    assertEquals(200, api.raw("PATCH", "/api/v1/schedules/" + id, new JsonObject().put("enabled", false).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);
    NodeProcess.sleep(500);

    long fired = TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE schedule_id = " + id);
    long occurrences = TestServers.scalar(databaseUrl, "SELECT count(DISTINCT run_at) FROM tasks WHERE schedule_id = " + id);
    long span = TestServers.scalar(databaseUrl, "SELECT extract(epoch FROM max(run_at) - min(run_at))::bigint FROM tasks WHERE schedule_id = " + id);
    assertEquals(occurrences, fired, "one task per occurrence");
    assertEquals(span + 1, fired, "no occurrence missed between the first and the last");
    assertTrue(fired >= 5, "fired " + fired + " times in 6.5 s");
    assertEquals(400, api.post("/api/v1/schedules", new JsonObject().put("name", "bad").put("cron", "* * *")
      .put("task", new JsonObject().put("type", "noop")), admin).status);
    assertEquals(400, api.post("/api/v1/schedules", new JsonObject().put("name", "bad").put("cron", "0 * * * *")
      .put("timezone", "Mars/Olympus").put("task", new JsonObject().put("type", "noop")), admin).status);
  }

  @Test
  void stoppingANodeReturnsItsLeasesAtOnce() throws Exception {
    Node third = Node.start(config(Map.of())).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    second.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    second = null;
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      ids.add(submit(new JsonObject().put("type", "noop").put("queue", "long").put("payload", new JsonObject().put("sleep_ms", 8000)))
        .getLong("id"));
    }
    String onThird = "SELECT count(*) FROM tasks WHERE queue = 'long' AND status = 'running' AND leased_by = '" + third.name() + "'";
    TestServers.await("some run on the third node", Duration.ofSeconds(10), () -> TestServers.scalar(databaseUrl, onThird) > 0);

    long began = System.nanoTime();
    third.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    long stopMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    assertTrue(stopMs < 6000, "stopped in " + stopMs + " ms");
    assertEquals(0, TestServers.scalar(databaseUrl, onThird), "no task is left leased to the stopped node");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'long' AND last_error LIKE 'lease expired%'"),
      "the stopping node handed its tasks back itself (renewing their leases while they had a chance to finish); none was reaped");
    String leased = ServerFiles.redisCommand(redisPort, "ZCARD", "tasks:leased:long");
    long runningInPostgres = TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE queue = 'long' AND status = 'running'");
    assertEquals(":" + runningInPostgres, leased, "Redis holds exactly the leases of the node still running");
    TestServers.await("all done on the first node", Duration.ofSeconds(40), () -> ids.stream().allMatch(id -> "succeeded".equals(task(id).getString("status"))));
  }
}
