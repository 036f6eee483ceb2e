package verticles.cluster;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.Api;
import verticles.support.TestServers;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The local fleet of scripts/cluster.sh: three JVMs (an edge with the services, two dispatch and
 * worker nodes) on shared servers of their own. 3,000 webhook tasks and a 1,000-image job are
 * shared by the nodes; one worker node is SIGKILLed mid-run; everything still finishes, every
 * task's effect once (the receiver records each call and its Idempotency-Key), every image once.
 */
class ThreeNodeClusterTest {

  private static final int TASKS = 3_000;
  private static final int IMAGES = 1_000;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path work;

  /** Calls the webhook receiver had, per idempotency key. */
  private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  private final AtomicInteger callCount = new AtomicInteger();
  private final AtomicInteger imagesServed = new AtomicInteger();
  /** Fetches the image server had, per image of the job. */
  private final Map<String, AtomicInteger> fetches = new ConcurrentHashMap<>();
  /**
   * Past a third of the webhooks, and then of the images, the receivers hold their answers until
   * the kill: so the kill lands mid-run, whatever the machine's speed, with work in flight on every node.
   */
  private final Gate gate = new Gate();

  @Test
  void threeNodesShareTheWorkAndLosingOneLosesNothing() throws Exception {
    Vertx receivers = Vertx.vertx();
    Path dir = work.resolve("cluster");
    List<Integer> httpPorts = List.of(TestServers.freePort(), TestServers.freePort(), TestServers.freePort());
    List<Integer> clusterPorts = List.of(TestServers.freePort(), TestServers.freePort(), TestServers.freePort());
    try {
      int webhookPort = listen(receivers, request -> request.body().onSuccess(body -> {
        String key = request.getHeader("Idempotency-Key");
        calls.computeIfAbsent(key == null ? "none" : key, k -> new AtomicInteger()).incrementAndGet();
        int n = callCount.incrementAndGet();
        gate.pass(n > TASKS / 3, () -> request.response().end("ok"));
      }));
      int imagePort = listen(receivers, request -> {
        String[] size = request.path().substring(1, request.path().length() - 4).split("x");
        fetches.computeIfAbsent(request.getParam("n"), k -> new AtomicInteger()).incrementAndGet();
        int n = imagesServed.incrementAndGet();
        gate.pass(n > IMAGES / 3, () -> request.response().putHeader("Content-Type", "image/png")
          .end(Buffer.buffer(png(Integer.parseInt(size[0]), Integer.parseInt(size[1])))));
      });

      long began = System.nanoTime();
      String started = cluster(dir, httpPorts, clusterPorts, "start");
      long startMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
      System.out.println(started);
      System.out.println("cluster.sh start: 3 nodes and their servers ready in " + startMs + " ms");
      assertTrue(started.contains("cluster ready in"), started);

      String databaseUrl = Files.readAllLines(dir.resolve("servers.env")).stream().filter(line -> line.startsWith("DATABASE_URL="))
        .findFirst().orElseThrow().substring("DATABASE_URL=".length());
      Api api = new Api(httpPorts.get(0));
      String admin = api.login("ops", "ops-password-1");
      // Webhooks to one receiver: a cluster-wide limit, as one would set for a real endpoint.
      assertEquals(200, api.raw("PATCH", "/api/v1/queues/hooks", new JsonObject().put("concurrency", 64).encode(),
        "Content-Type", "application/json", "Authorization", "Bearer " + admin).status);

      for (int batch = 0; batch < TASKS / 1000; batch++) {
        JsonArray tasks = new JsonArray();
        for (int i = 0; i < 1000; i++) {
          tasks.add(new JsonObject().put("type", "http.request").put("queue", "hooks").put("max_attempts", 10)
            .put("payload", new JsonObject().put("url", "http://127.0.0.1:" + webhookPort + "/run").put("body", "x")));
        }
        Api.Reply reply = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", tasks), admin);
        assertEquals(201, reply.status, reply.toString());
      }
      TestServers.await("a third of the webhooks done", Duration.ofSeconds(120), () -> callCount.get() > TASKS / 3);
      long job = submitImages(api, imagePort);
      TestServers.await("a third of the images done", Duration.ofSeconds(60), () -> imagesServed.get() > IMAGES / 3);
      Map<String, Double> webhooksBefore = handled(httpPorts, "task.http.request");
      Map<String, Double> imagesBefore = handled(httpPorts, "task.image.perimeter");
      long doomed = Long.parseLong(Files.readString(dir.resolve("node-3.pid")).trim());
      ProcessHandle.of(doomed).orElseThrow().destroyForcibly();
      long killedAt = System.nanoTime();
      gate.open();
      System.out.println("before the kill: webhook tasks handled per node " + webhooksBefore + ", images " + imagesBefore
        + "; webhook calls so far " + callCount.get() + ", images served " + imagesServed.get());
      attempts(databaseUrl, "at the kill");

      String succeeded = "SELECT count(*) FROM tasks WHERE type = 'http.request' AND status = 'succeeded'";
      TestServers.await("every task done", Duration.ofSeconds(120), () -> TestServers.scalar(databaseUrl, succeeded) == TASKS);
      TestServers.await("the image job done", Duration.ofSeconds(120),
        () -> !"ongoing".equals(api.get("/api/status?jobid=" + job, null).json().getString("status")));
      long afterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      Map<String, Double> webhooksAfter = handled(httpPorts.subList(0, 2), "task.http.request");
      Map<String, Double> imagesAfter = handled(httpPorts.subList(0, 2), "task.image.perimeter");
      long repeatedTasks = TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE type = 'http.request' AND attempts > 1");
      long repeatedImages = TestServers.scalar(databaseUrl, "SELECT count(*) FROM images WHERE job_id = " + job + " AND attempts > 1");
      long twice = calls.values().stream().filter(count -> count.get() > 1).count();
      long imagesTwice = fetches.values().stream().filter(count -> count.get() > 1).count();
      long thrice = calls.values().stream().filter(count -> count.get() > 2).count()
        + fetches.values().stream().filter(count -> count.get() > 2).count();
      System.out.println("after the kill (node-3 gone; all done " + afterMs + " ms after it): webhook tasks handled per node "
        + webhooksAfter + ", images " + imagesAfter);
      System.out.println("webhook calls " + callCount.get() + " for " + calls.size() + " keys; keys called twice " + twice
        + "; tasks with a second attempt " + repeatedTasks + "; image fetches " + imagesServed.get() + " for " + fetches.size()
        + " images; fetched twice " + imagesTwice + "; images with a second attempt " + repeatedImages
        + "; webhooks or images run three times " + thrice);
      attempts(databaseUrl, "at the end");

      assertEquals(TASKS, calls.size(), "every task's effect reached the receiver, each under its own key");
      assertTrue(calls.keySet().stream().allMatch(key -> key.startsWith("task:")), "every call carried its task's key");
      assertTrue(twice <= repeatedTasks, "a key is called twice only by a redelivery after the kill: " + twice + " / " + repeatedTasks);
      // An attempt is not a run: deliveries to the dead node before the cluster noticed (10 s of
      // missed heartbeats) failed without running. What ran is what the receivers saw. A task can
      // run at most three times here: on the dead node; again when it left; and once more when a
      // live node had not yet said it holds a delivery 2 s after it was sent (its worker queue
      // backed up) at the moment the member left, which presumes it lost with the member. Seen
      // once in five fresh-clone runs, for one image; the effects count once either way (keys,
      // the fold).
      assertTrue(calls.values().stream().allMatch(count -> count.get() <= 3), "no webhook ran four times");
      assertEquals(IMAGES, fetches.size(), "every image was fetched");
      assertTrue(fetches.values().stream().allMatch(count -> count.get() <= 3), "no image was fetched four times");
      double total = webhooksBefore.values().stream().mapToDouble(Double::doubleValue).sum();
      webhooksBefore.forEach((node, count) -> assertTrue(count >= 0.2 * total, node + " handled " + count + " of " + total));
      double images = imagesBefore.values().stream().mapToDouble(Double::doubleValue).sum();
      List<Double> imageShares = new ArrayList<>(imagesBefore.values());
      imageShares.removeIf(count -> count == 0);  // node-1 runs no image worker
      assertEquals(2, imageShares.size(), "both worker nodes took images: " + imagesBefore);
      imageShares.forEach(count -> assertTrue(count >= 0.2 * images, "a worker node's share of the images: " + imagesBefore));

      JsonObject finished = api.get("/api/v1/jobs/" + job, admin).json();
      assertEquals("completed", finished.getString("status"), finished.copy().put("visits", "…").encode());
      assertEquals(IMAGES, finished.getInteger("done"), "every image counted once");
      assertEquals(IMAGES, TestServers.scalar(databaseUrl, "SELECT count(*) FROM images WHERE job_id = " + job
        + " AND status = 'succeeded' AND perimeter = 2 * (width + height)"));
    } finally {
      long stopping = System.nanoTime();
      String stopped = cluster(dir, httpPorts, clusterPorts, "stop");
      System.out.println(stopped.strip() + " in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopping) + " ms");
      receivers.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /** Tasks by type, status and attempt, and the last error of those that failed an attempt. */
  private static void attempts(String databaseUrl, String when) throws Exception {
    try (var db = TestServers.jdbc(databaseUrl); var statement = db.createStatement();
         var rows = statement.executeQuery("SELECT type, status, attempts, left(coalesce(last_error, ''), 90), count(*) FROM tasks"
           + " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3")) {
      while (rows.next()) {
        System.out.println("  " + when + ": " + rows.getString(1) + " " + rows.getString(2) + " attempt " + rows.getInt(3) + ": "
          + rows.getLong(5) + " " + rows.getString(4));
      }
    }
  }

  /** Answers at once until it is closed past its threshold; then holds the answers until {@link #open}. */
  private static final class Gate {
    private final List<Runnable> held = new ArrayList<>();
    private boolean open;

    void pass(boolean pastThreshold, Runnable answer) {
      synchronized (this) {
        if (pastThreshold && !open) {
          held.add(answer);
          return;
        }
      }
      answer.run();
    }

    void open() {
      List<Runnable> answers;
      synchronized (this) {
        open = true;
        answers = new ArrayList<>(held);
        held.clear();
      }
      answers.forEach(Runnable::run);
    }
  }

  /** scripts/cluster.sh with this JVM's class path and java; its output (fails on a non-zero exit). */
  private static String cluster(Path dir, List<Integer> httpPorts, List<Integer> clusterPorts, String command) throws Exception {
    ProcessBuilder builder = new ProcessBuilder("bash", Path.of("scripts/cluster.sh").toAbsolutePath().toString(), command)
      .redirectErrorStream(true);
    Map<String, String> env = builder.environment();
    env.keySet().removeIf(key -> key.startsWith("TEST_") || key.equals("DATABASE_URL") || key.equals("REDIS_URL"));
    env.put("CLUSTER_DIR", dir.toString());
    env.put("HTTP_PORTS", join(httpPorts));
    env.put("CLUSTER_PORTS", join(clusterPorts));
    env.put("PULSE_CLASSPATH", System.getProperty("java.class.path"));
    env.put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
    env.put("JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlogback.configurationFile=logback.xml");
    env.put("ADMIN_USERNAME", "ops");
    env.put("ADMIN_PASSWORD", "ops-password-1");
    env.put("OUTBOUND_ALLOWLIST", "127.0.0.1/32");
    env.put("TASK_LEASE_MS", "6000");
    env.put("LOG_FORMAT", "text");
    env.put("RATE_LIMIT_USER_PER_MINUTE", "1000000");
    env.put("RATE_LIMIT_AUTH_PER_MINUTE", "1000000");
    env.put("RATE_LIMIT_RETAIL_PER_MINUTE", "1000000");
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes());
    if (!process.waitFor(240, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new AssertionError("cluster.sh " + command + " failed:\n" + output + logs(dir));
    }
    return output;
  }

  private static String logs(Path dir) {
    StringBuilder text = new StringBuilder();
    for (String name : List.of("servers.log", "node-1.log", "node-2.log", "node-3.log")) {
      try {
        List<String> lines = Files.readAllLines(dir.resolve(name));
        text.append("\n--- ").append(name).append(" (end) ---\n")
          .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
      } catch (IOException e) {
        text.append("\n--- no ").append(name);
      }
    }
    return text.toString();
  }

  private static String join(List<Integer> ports) {
    return String.join(" ", ports.stream().map(String::valueOf).toList());
  }

  /** Deliveries to the handlers of {@code address} on each node, from its /metrics. */
  private static Map<String, Double> handled(List<Integer> httpPorts, String address) throws Exception {
    Pattern delivered = Pattern.compile("vertx_eventbus_delivered_total\\{[^}]*address=\"" + Pattern.quote(address) + "\"[^}]*} ([0-9.E]+)");
    Map<String, Double> counts = new LinkedHashMap<>();
    for (int i = 0; i < httpPorts.size(); i++) {
      String metrics = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPorts.get(i) + "/metrics"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
      double total = 0;
      Matcher matcher = delivered.matcher(metrics);
      while (matcher.find()) {
        total += Double.parseDouble(matcher.group(1));
      }
      counts.put("node-" + (i + 1), total);
    }
    return counts;
  }

  /** A Retail Pulse job of 1,000 images in 20 visits; image n is (n % 97 + 1) × 3 pixels. */
  private static long submitImages(Api api, int imagePort) {
    JsonArray visits = new JsonArray();
    for (int v = 0; v < IMAGES / 50; v++) {
      JsonArray urls = new JsonArray();
      for (int i = 0; i < 50; i++) {
        urls.add("http://127.0.0.1:" + imagePort + "/" + ((v * 50 + i) % 97 + 1) + "x3.png?n=" + (v * 50 + i));
      }
      visits.add(new JsonObject().put("store_id", String.format("RP%05d", v + 1)).put("image_url", urls).put("visit_time", "t"));
    }
    Api.Reply reply = api.raw("POST", "/api/submit/", new JsonObject().put("count", visits.size()).put("visits", visits).encode(),
      "Content-Type", "application/json");
    assertEquals(201, reply.status, reply.toString());
    return reply.json().getLong("job_id");
  }

  private static int listen(Vertx vertx, io.vertx.core.Handler<io.vertx.core.http.HttpServerRequest> handler) throws Exception {
    return vertx.createHttpServer().requestHandler(handler).listen(0, "127.0.0.1")
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
  }

  private static byte[] png(int width, int height) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY), "png", out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
