package verticles.cluster;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import verticles.EmbeddedServers;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retail Pulse jobs on two clustered JVMs: a 1,000-image job is shared by both nodes' image
 * workers, and a job whose second node is SIGKILLed half way finishes on the first with every
 * image counted once.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RetailClusterTest {

  @TempDir
  static Path work;

  private static EmbeddedServers redis;
  private static String databaseUrl;
  private static Vertx images;
  private static int imagePort;
  private static NodeProcess first;
  private static NodeProcess second;
  private static Api api;
  private static String admin;

  @BeforeAll
  static void start() throws Exception {
    redis = EmbeddedServers.open(work.resolve("redis"));
    String redisUrl = redis.startRedis(0);
    databaseUrl = TestServers.freshDatabase();
    images = Vertx.vertx();
    imagePort = images.createHttpServer().requestHandler(request -> {
      // /<width>x<height>.png?slow=<ms>: a generated PNG of that size, after that long.
      String[] size = request.path().substring(1, request.path().length() - 4).split("x");
      long slow = Long.parseLong(request.getParam("slow", "0"));
      Runnable answer = () -> request.response().putHeader("Content-Type", "image/png")
        .end(Buffer.buffer(png(Integer.parseInt(size[0]), Integer.parseInt(size[1]))));
      if (slow > 0) {
        images.setTimer(slow, ignored -> answer.run());
      } else {
        answer.run();
      }
    }).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();

    int firstPort = TestServers.freePort();
    int secondPort = TestServers.freePort();
    String members = "127.0.0.1:" + firstPort + ",127.0.0.1:" + secondPort;
    first = NodeProcess.start(work.resolve("first"), env(redisUrl, firstPort, members, "all"));
    first.awaitReady(Duration.ofSeconds(90));
    second = NodeProcess.start(work.resolve("second"), env(redisUrl, secondPort, members, "http,dispatch,worker"));
    second.awaitReady(Duration.ofSeconds(90));
    api = new Api(first.httpPort());
    admin = api.login("ops", "ops-password-1");
  }

  @AfterAll
  static void stop() throws Exception {
    if (second != null) {
      second.close();
    }
    if (first != null) {
      first.close();
    }
    images.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    redis.close();
  }

  private static Map<String, String> env(String redisUrl, int clusterPort, String members, String roles) {
    Map<String, String> env = new HashMap<>();
    env.put("DATABASE_URL", databaseUrl);
    env.put("REDIS_URL", redisUrl);
    env.put("JWT_SECRET", TestServers.JWT_SECRET);
    env.put("ADMIN_USERNAME", "ops");
    env.put("ADMIN_PASSWORD", "ops-password-1");
    env.put("ROLES", roles);
    env.put("CLUSTER", "true");
    env.put("CLUSTER_PORT", String.valueOf(clusterPort));
    env.put("CLUSTER_MEMBERS", members);
    env.put("OUTBOUND_ALLOWLIST", "127.0.0.1/32");
    env.put("TASK_LEASE_MS", "4000");
    env.put("LOG_FORMAT", "text");
    env.put("RATE_LIMIT_RETAIL_PER_MINUTE", "100000");
    return env;
  }

  private static byte[] png(int width, int height) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY), "png", out);
      return out.toByteArray();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** A job of {@code visits} visits of 50 images each, image i being (i % 97 + 1) × 3 pixels; returns its id. */
  private static long submit(int visits, long slowMs) {
    JsonArray all = new JsonArray();
    for (int v = 0; v < visits; v++) {
      JsonArray urls = new JsonArray();
      for (int i = 0; i < 50; i++) {
        int n = v * 50 + i;
        urls.add("http://127.0.0.1:" + imagePort + "/" + (n % 97 + 1) + "x3.png?slow=" + slowMs);
      }
      all.add(new JsonObject().put("store_id", String.format("RP%05d", v + 1)).put("image_url", urls).put("visit_time", "t"));
    }
    Api.Reply reply = api.raw("POST", "/api/submit/", new JsonObject().put("count", visits).put("visits", all).encode(),
      "Content-Type", "application/json");
    assertEquals(201, reply.status, reply.toString());
    return reply.json().getLong("job_id");
  }

  private static JsonObject awaitFinished(long id, Duration timeout) {
    TestServers.await("job " + id + " to finish", timeout,
      () -> !"ongoing".equals(api.get("/api/status?jobid=" + id, null).json().getString("status")));
    return api.get("/api/v1/jobs/" + id, admin).json();
  }

  /** How many image tasks were delivered to this node's handlers, from its Prometheus metrics. */
  private static double imagesHandled(NodeProcess node) {
    Matcher handled = Pattern.compile("vertx_eventbus_delivered_total\\{[^}]*address=\"task\\.image\\.perimeter\"[^}]*} ([0-9.E]+)")
      .matcher(node.get("/metrics").body());
    double total = 0;
    while (handled.find()) {
      total += Double.parseDouble(handled.group(1));
    }
    return total;
  }

  @Test
  @Order(1)
  void aThousandImageJobIsSharedByBothNodesWorkers() {
    long id = submit(20, 0);
    JsonObject job = awaitFinished(id, Duration.ofSeconds(120));
    assertEquals("completed", job.getString("status"), job.copy().put("visits", "…").encode());
    assertEquals(1000, job.getInteger("total"));
    assertEquals(1000, job.getInteger("done"));
    assertEquals(1000, TestServers.scalar(databaseUrl, "SELECT count(*) FROM images WHERE job_id = " + id
      + " AND perimeter = 2 * (width + height) AND width = (id - (SELECT min(id) FROM images WHERE job_id = " + id + ")) % 97 + 1"));
    double onFirst = imagesHandled(first);
    double onSecond = imagesHandled(second);
    System.out.printf("1,000 images: %.0f handled by the first node, %.0f by the second%n", onFirst, onSecond);
    assertTrue(onFirst > 0 && onSecond > 0, "both nodes' workers took images: " + onFirst + " / " + onSecond);
  }

  @Test
  @Order(2)
  void aJobWhoseSecondNodeIsKilledFinishesOnTheFirstWithEveryImageCountedOnce() {
    long id = submit(8, 150);
    String done = "SELECT done FROM image_jobs WHERE id = " + id;
    TestServers.await("the job under way", Duration.ofSeconds(60), () -> TestServers.scalar(databaseUrl, done) >= 50);
    second.process().destroyForcibly();
    JsonObject job = awaitFinished(id, Duration.ofSeconds(120));
    assertEquals("completed", job.getString("status"), job.copy().put("visits", "…").encode());
    assertEquals(400, job.getInteger("done"), "every image counted once");
    assertEquals(400, TestServers.scalar(databaseUrl, "SELECT count(*) FROM images WHERE job_id = " + id + " AND status = 'succeeded'"));
    long rerun = TestServers.scalar(databaseUrl, "SELECT count(*) FROM images WHERE job_id = " + id + " AND attempts > 1");
    System.out.println("images run again after the kill: " + rerun);
    assertTrue(rerun > 0, "some images were on the killed node and ran again");
  }
}
