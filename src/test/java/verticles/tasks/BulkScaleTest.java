package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bulk actions by filter over 100,000 tasks: retry 100,000 dead ones, cancel them once queued,
 * delete them once cancelled. Each request answers at once (the job runs on the server, beyond
 * any request timeout); meanwhile a probe on every event loop of the node measures how late its
 * 10 ms timer fires (an event loop held by a batch would show here), and the API keeps answering.
 * The timings are printed (see the README's measurement).
 */
class BulkScaleTest {

  private static final int TASKS = Integer.getInteger("bulk.tasks", 100_000);

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("scale_admin", "scale-admin-password-1")
    .with("HTTP_REQUEST_TIMEOUT_MS", "2000");

  /** One per event loop: the worst lateness of a 10 ms periodic timer. */
  static final class LoopProbe extends VerticleBase {
    static final ConcurrentHashMap<String, AtomicLong> WORST = new ConcurrentHashMap<>();

    @Override
    public Future<?> start() {
      AtomicLong worst = WORST.computeIfAbsent(Thread.currentThread().getName(), name -> new AtomicLong());
      long[] last = {System.nanoTime()};
      vertx.setPeriodic(10, ignored -> {
        long now = System.nanoTime();
        worst.accumulateAndGet(TimeUnit.NANOSECONDS.toMillis(now - last[0]) - 10, Math::max);
        last[0] = now;
      });
      return Future.succeededFuture();
    }
  }

  @Test
  void retryCancelAndDeleteOf100000TasksRunOnTheServerWithoutHoldingAnEventLoop() throws Exception {
    Api api = node.api();
    String admin = node.adminToken();
    // The retried tasks wait in a paused queue, so the measurement is the bulk action's alone.
    assertEquals(200, api.raw("PATCH", "/api/v1/queues/scale", new JsonObject().put("paused", true).encode(),
      "Authorization", "Bearer " + admin, "Content-Type", "application/json").status);
    long seeding = System.nanoTime();
    try (Connection db = TestServers.jdbc(node.databaseUrl()); Statement statement = db.createStatement()) {
      statement.executeUpdate("""
        INSERT INTO tasks (owner_id, type, queue, payload, status, attempts, max_attempts, backoff, run_at, last_error, finished_at)
        SELECT 1, 'noop', 'scale', jsonb_build_object('order', n), 'dead', 5, 5, '{"kind": "exponential", "base_ms": 1000, "max_ms": 60000}',
               now(), 'upstream timeout after ' || (5000 + mod(n, 97)) || ' ms', now()
        FROM generate_series(1, %d) AS n
        """.formatted(TASKS));
      statement.execute("ANALYZE tasks");
    }
    System.out.printf("seeded %,d dead tasks in %d ms%n", TASKS, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - seeding));
    int loops = 2 * Runtime.getRuntime().availableProcessors();
    node.vertx().deployVerticle(LoopProbe::new, new io.vertx.core.DeploymentOptions().setInstances(loops))
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);

    List<String> lines = new ArrayList<>();
    NodeProcess.sleep(3000);  // a measurement window: the loops' lateness with no bulk action running
    lines.add("baseline event-loop lateness, no bulk action running (3 s): " + worstLateness() + " ms");
    JsonObject dead = new JsonObject().put("queue", "scale").put("status", "dead").put("error", "upstream timeout");
    lines.add(run(api, admin, "retry", dead, TASKS));
    assertEquals(TASKS, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM tasks WHERE queue = 'scale' AND status = 'queued'"));
    TestServers.await("the backlog to hold them all", Duration.ofSeconds(30), () -> api.get("/api/v1/queues", admin).json()
      .getJsonArray("items").stream().map(JsonObject.class::cast).anyMatch(q -> "scale".equals(q.getString("name")) && q.getLong("ready") == TASKS));
    lines.add(run(api, admin, "cancel", new JsonObject().put("queue", "scale").put("status", "queued"), TASKS));
    TestServers.await("the backlog to forget them", Duration.ofSeconds(30), () -> api.get("/api/v1/queues", admin).json()
      .getJsonArray("items").stream().map(JsonObject.class::cast).anyMatch(q -> "scale".equals(q.getString("name")) && q.getLong("ready") == 0));
    lines.add(run(api, admin, "delete", new JsonObject().put("queue", "scale"), TASKS));
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM tasks WHERE queue = 'scale'"));

    System.out.println(String.join("\n", lines));
    assertTrue(LoopProbe.WORST.size() >= 2, "probes ran on the event loops");
  }

  /** The worst lateness any loop saw since the last call (then forgotten). */
  private static long worstLateness() {
    long worst = LoopProbe.WORST.values().stream().mapToLong(AtomicLong::get).max().orElse(-1);
    LoopProbe.WORST.values().forEach(value -> value.set(0));
    return worst;
  }

  /** A value of the node's /metrics: the first sample whose line starts with {@code name}. */
  private static double metric(Api api, String name) {
    return api.get("/metrics", null).raw.body().lines().filter(line -> line.startsWith(name)).findFirst()
      .map(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).orElse(-1.0);
  }

  /** Dry run, start, follow to the end while timing the API; one line of results. */
  private static String run(Api api, String admin, String action, JsonObject filter, int expected) {
    JsonObject body = new JsonObject().put("action", action).put("filter", filter);
    long began = System.nanoTime();
    Api.Reply dry = api.post("/api/v1/tasks/bulk/dry-run", body, admin);
    long dryMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    assertEquals(200, dry.status, dry.toString());
    assertEquals(expected, dry.json().getLong("matching"));
    long start = System.nanoTime();
    Api.Reply started = api.post("/api/v1/tasks/bulk", body, admin);
    long answerMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(202, started.status, started.toString());
    long id = started.json().getLong("id");
    long worstApiMs = 0;
    int reads = 0;
    JsonObject job;
    do {
      long asked = System.nanoTime();
      Api.Reply progress = api.get("/api/v1/tasks/bulk/" + id, admin);
      worstApiMs = Math.max(worstApiMs, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked));
      assertEquals(200, progress.status, "the API answers during the job: " + progress);
      job = progress.json();
      reads++;
      assertTrue(System.nanoTime() - start < TimeUnit.MINUTES.toNanos(3), "the job ends within 3 minutes: " + job);
      if ("running".equals(job.getString("status"))) {
        NodeProcess.sleep(50);  // a client reading progress now and then, not a wait for a condition
      }
    } while ("running".equals(job.getString("status")));
    long totalMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals("done", job.getString("status"), job.encode());
    assertEquals(expected, job.getLong("done"), job.encode());
    long lateness = worstLateness();
    double onLoopMs = metric(api, "pulse_tasks_bulk_loop_seconds_max") * 1000;
    double batchMs = metric(api, "pulse_tasks_bulk_batch_seconds_max") * 1000;
    assertTrue(answerMs < 2000, "the request answered before the request timeout (2 s): " + answerMs + " ms");
    assertTrue(onLoopMs < 250, "no batch step held its event loop: " + onLoopMs + " ms");
    assertTrue(lateness < 2000, "no event loop was blocked (Vert.x's warning threshold): " + lateness + " ms");
    return String.format("bulk %s of %,d tasks: dry run %d ms; request answered in %d ms; done in %,d ms (%,.0f tasks/s, %d batches,"
        + " slowest batch %.0f ms, longest step on an event loop %.1f ms); %d progress reads during it, slowest %d ms;"
        + " worst event-loop lateness %d ms", action, expected, dryMs, answerMs, totalMs, expected * 1000.0 / totalMs,
      (expected + BulkActions.BATCH - 1) / BulkActions.BATCH, batchMs, onLoopMs, reads, worstApiMs, lateness);
  }
}
