package verticles;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.ServerFiles;
import verticles.support.TestServers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad days under load, in embedded mode: PostgreSQL frozen, PostgreSQL killed, Redis killed.
 * Clients get 503 (never a 500, never an answer past the request timeout), the node logs each
 * outage in a handful of lines and does not spin while waiting, restarts the servers it owns,
 * and afterwards every acknowledged write is there and every acknowledged task has run.
 */
class OutageTest {

  private static final int REQUEST_TIMEOUT_MS = 4000;
  /** Log lines (WARN and ERROR) one outage may cost at most. */
  private static final int MOST_LINES_PER_OUTAGE = 20;

  @TempDir
  Path work;

  /** One answer: the phase it was sent in, what it was, its status and how long it took. */
  private record Answer(String phase, String kind, int status, long millis, String requestId) {
  }

  private final AtomicReference<String> phase = new AtomicReference<>("steady");
  private final ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
  /** Acknowledged writes: transfer request ids, and task ids. */
  private final ConcurrentLinkedQueue<String> transfers = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Long> tasks = new ConcurrentLinkedQueue<>();
  /** Transfers answered 503: applied or not, the client cannot tell, so it retries them with their keys. */
  private final ConcurrentLinkedQueue<String> unsure = new ConcurrentLinkedQueue<>();

  @Test
  void outagesAreAnswered503LoggedOnceAndHealedWithNothingLost() throws Exception {
    int pgPort = TestServers.freePort();
    int redisPort = TestServers.freePort();
    Path data = work.resolve("data");
    Map<String, String> env = new TreeMap<>(Map.of("DATA_DIR", data.toString(), "EMBEDDED_PG_PORT", String.valueOf(pgPort),
      "EMBEDDED_REDIS_PORT", String.valueOf(redisPort), "ADMIN_USERNAME", "ops", "ADMIN_PASSWORD", "ops-password-1",
      "RATE_LIMIT_USER_PER_MINUTE", "1000000", "RATE_LIMIT_AUTH_PER_MINUTE", "1000000", "LOG_FORMAT", "text",
      "BUS_TIMEOUT_MS", "2000", "HTTP_REQUEST_TIMEOUT_MS", String.valueOf(REQUEST_TIMEOUT_MS)));
    env.putAll(Map.of("TASK_LEASE_MS", "4000", "TASK_RECONCILE_MS", "1000", "HEALTH_TIMEOUT_MS", "1000"));
    String databaseUrl = "postgresql://postgres@127.0.0.1:" + pgPort + "/postgres";

    try (NodeProcess node = NodeProcess.start(work.resolve("node"), env)) {
      node.awaitReady(Duration.ofSeconds(90));
      Api api = new Api(node.httpPort());
      String admin = api.login("ops", "ops-password-1");
      long payee = api.post("/api/v1/auth/register", new JsonObject().put("username", "payee").put("email", "payee@example.com")
        .put("password", "payee-password"), null).json().getLong("id");
      assertEquals(201, api.post("/api/v1/transactions/credit", new JsonObject().put("amount", 1_000_000_000), admin).status);

      AtomicBoolean loading = new AtomicBoolean(true);
      ExecutorService clients = Executors.newFixedThreadPool(4);
      for (int i = 0; i < 4; i++) {
        clients.submit(() -> load(api, admin, payee, loading));
      }
      Map<String, Long> logLines = new TreeMap<>();

      during("steady", 3000, node, logLines);

      List<ProcessHandle> postgres = postgresProcesses(data);
      long lines = problemLines(node);
      long cpuBefore = cpuMillis(node);
      long frozenAt = System.nanoTime();
      phase.set("postgres frozen");
      signal("STOP", postgres);
      NodeProcess.sleep(6000);
      double coresWhileDown = (cpuMillis(node) - cpuBefore) / (double) TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - frozenAt);
      signal("CONT", postgres);
      awaitReady(node);
      logLines.put("postgres frozen", problemLines(node) - lines);
      during("after postgres thawed", 2000, node, logLines);

      lines = problemLines(node);
      phase.set("postgres killed");
      ServerFiles.postgres(data).orElseThrow().destroyForcibly();
      long pgKilledAt = System.nanoTime();
      NodeProcess.sleep(500);
      awaitReady(node);
      long pgRecoveredMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - pgKilledAt);
      logLines.put("postgres killed", problemLines(node) - lines);
      during("after postgres restarted", 2000, node, logLines);

      lines = problemLines(node);
      phase.set("redis killed");
      ServerFiles.redis(data).orElseThrow().destroyForcibly();
      long redisKilledAt = System.nanoTime();
      NodeProcess.sleep(500);
      awaitReady(node);
      long redisRecoveredMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - redisKilledAt);
      logLines.put("redis killed", problemLines(node) - lines);
      during("after redis restarted", 2000, node, logLines);

      loading.set(false);
      clients.shutdown();
      assertTrue(clients.awaitTermination(30, TimeUnit.SECONDS));

      Map<String, Map<Integer, Long>> statuses = answers.stream().collect(Collectors.groupingBy(Answer::phase, TreeMap::new,
        Collectors.groupingBy(Answer::status, TreeMap::new, Collectors.counting())));
      long slowest = answers.stream().mapToLong(Answer::millis).max().orElse(0);
      System.out.printf("statuses per phase: %s%nslowest answer: %d ms; postgres back in %d ms, redis back in %d ms; "
        + "cores used while postgres was frozen: %.2f; WARN/ERROR lines per phase: %s%n",
        statuses, slowest, pgRecoveredMs, redisRecoveredMs, coresWhileDown, logLines);

      List<Answer> wrong = answers.stream().filter(answer -> answer.status() >= 500 && answer.status() != 503 || answer.status() == 0)
        .collect(Collectors.toList());
      assertTrue(wrong.isEmpty(), "only 503s, never a 500 or a dropped connection: " + wrong);
      assertTrue(slowest <= REQUEST_TIMEOUT_MS + 1500, "no answer past the request timeout: " + slowest + " ms");
      assertTrue(statuses.get("postgres frozen").containsKey(503), "the frozen database was answered with 503: " + statuses);
      for (String outage : List.of("postgres frozen", "postgres killed", "redis killed")) {
        assertTrue(logLines.get(outage) <= MOST_LINES_PER_OUTAGE, outage + " cost " + logLines.get(outage) + " log lines:\n" + node.output());
      }
      assertTrue(coresWhileDown < 0.6, "no hot loop while postgres was frozen: " + coresWhileDown + " cores");
      List<String> log = node.output().lines().collect(Collectors.toList());
      int firstFrame = log.stream().filter(line -> line.startsWith("\tat ")).findFirst().map(log::indexOf).orElse(-1);
      assertEquals(-1, firstFrame, "no stack traces in the log: " + (firstFrame < 0 ? ""
        : String.join("\n", log.subList(Math.max(0, firstFrame - 3), Math.min(log.size(), firstFrame + 8)))));

      // The client retries every transfer it was answered 503 with its key: each is applied at most once,
      // whether or not its batch had reached the database.
      for (String requestId : unsure) {
        TestServers.await("a retried transfer answered", Duration.ofSeconds(30), () -> {
          Api.Reply reply = transfer(api, admin, payee, requestId);
          assertTrue(reply.status == 201 || reply.status == 503, "a retry is applied or refused as an outage: " + reply.status + " " + reply.raw.body());
          return reply.status == 201;
        });
        transfers.add(requestId);
      }

      // Nothing acknowledged was lost, nothing was applied twice; every acknowledged task ran, and none twice.
      String transferIds = transfers.stream().map(id -> "'" + id + "'").collect(Collectors.joining(","));
      assertEquals(transfers.size(), TestServers.scalar(databaseUrl,
        "SELECT count(*) FROM transactions WHERE request_id IN (" + transferIds + ")"), "every acknowledged transfer is there, once");
      assertEquals(transfers.size(), TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE to_user = " + payee),
        "no transfer was applied but for the acknowledged ones (" + unsure.size() + " of them retried after a 503)");
      assertEquals(0, TestServers.scalar(databaseUrl, "SELECT coalesce(sum(amount), 0) FROM entries"), "money is conserved");
      assertEquals(TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE to_user = " + payee),
        TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payee), "the payee got exactly what was recorded");
      String taskIds = tasks.stream().map(String::valueOf).collect(Collectors.joining(","));
      TestServers.await("every acknowledged task to run", Duration.ofSeconds(60), () -> TestServers.scalar(databaseUrl,
        "SELECT count(*) FROM tasks WHERE status = 'succeeded' AND id IN (" + taskIds + ")") == tasks.size());
      System.out.printf("acknowledged: %d transfers (%d retried after a 503), %d tasks (%d of them ran twice)%n", transfers.size(),
        unsure.size(), tasks.size(),
        TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE attempts > 1 AND id IN (" + taskIds + ")"));
      node.assertStopsCleanly(Duration.ofSeconds(20));
    }
  }

  /** Runs requests until told to stop: a transfer, a task submit and a read, each with a request id of its own. */
  private void load(Api api, String admin, long payee, AtomicBoolean loading) {
    int i = 0;
    while (loading.get()) {
      String requestId = UUID.randomUUID().toString();
      String currentPhase = phase.get();
      long began = System.nanoTime();
      Api.Reply reply;
      String kind = switch (i++ % 3) {
        case 0 -> "transfer";
        case 1 -> "task";
        default -> "read";
      };
      try {
        reply = switch (kind) {
          case "transfer" -> transfer(api, admin, payee, requestId);
          case "task" -> api.raw("POST", "/api/v1/tasks", new JsonObject().put("type", "noop").encode(),
            "Content-Type", "application/json", "Authorization", "Bearer " + admin, "X-Request-Id", requestId);
          default -> api.raw("GET", "/api/v1/me", null, "Authorization", "Bearer " + admin, "X-Request-Id", requestId);
        };
      } catch (RuntimeException e) {
        answers.add(new Answer(currentPhase, kind, 0, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), requestId));
        continue;
      }
      answers.add(new Answer(currentPhase, kind, reply.status, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), requestId));
      if (reply.status == 503 && kind.equals("transfer")) {
        unsure.add(requestId);
      } else if (reply.status == 201 && kind.equals("transfer")) {
        transfers.add(requestId);
      } else if (reply.status == 201 && kind.equals("task")) {
        tasks.add(reply.json().getLong("id"));
      }
    }
  }

  /** A transfer of 1 to the payee; its request id is also its idempotency key, so a retry is the same request. */
  private static Api.Reply transfer(Api api, String admin, long payee, String requestId) {
    return api.raw("POST", "/api/v1/transactions/transfer", new JsonObject().put("to_user_id", payee).put("amount", 1).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + admin, "X-Request-Id", requestId, "Idempotency-Key", requestId);
  }

  /** Runs the load in {@code name} for {@code millis}, counting the WARN and ERROR lines the node wrote meanwhile. */
  private void during(String name, long millis, NodeProcess node, Map<String, Long> logLines) {
    long before = problemLines(node);
    phase.set(name);
    NodeProcess.sleep(millis);
    logLines.merge(name, problemLines(node) - before, Long::sum);
  }

  private void awaitReady(NodeProcess node) {
    TestServers.await("the node ready again (" + phase.get() + ")", Duration.ofSeconds(60),
      () -> node.get("/health/ready").statusCode() == 200);
  }

  private static long problemLines(NodeProcess node) {
    return node.output().lines().filter(line -> line.contains(" WARN ") || line.contains(" ERROR ")).count();
  }

  private static List<ProcessHandle> postgresProcesses(Path data) throws IOException {
    ProcessHandle postmaster = ServerFiles.postgres(data).orElseThrow();
    List<ProcessHandle> all = new ArrayList<>(List.of(postmaster));
    all.addAll(postmaster.descendants().collect(Collectors.toList()));
    return all;
  }

  /** To each process still there: a backend may end between being listed and being signalled. */
  private static void signal(String signal, List<ProcessHandle> processes) throws Exception {
    for (ProcessHandle process : processes) {
      int exit = new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).inheritIO().start().waitFor();
      assertTrue(exit == 0 || !process.isAlive(), "kill -" + signal + " " + process.pid() + " exited " + exit);
    }
  }

  /** CPU time (user + system) the node's JVM has used, from /proc. */
  private static long cpuMillis(NodeProcess node) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + node.process().pid() + "/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    return ticks * 1000 / 100;  // USER_HZ is 100 on Linux
  }
}
