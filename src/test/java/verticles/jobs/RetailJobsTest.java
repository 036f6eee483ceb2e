package verticles.jobs;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retail Pulse jobs end to end on one node, against a local image server: the original
 * contract's exact shapes, perimeters, unknown stores and broken images failing the job (each
 * store listed once), a flaky image succeeding on a retry, outcomes folded once, store imports.
 */
class RetailJobsTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("ops", "ops-password-1").with("OUTBOUND_ALLOWLIST", "127.0.0.1/32");

  private static Vertx images;
  private static int imagePort;
  private static final AtomicInteger FLAKY_CALLS = new AtomicInteger();

  @BeforeAll
  static void imageServer() throws Exception {
    images = Vertx.vertx();
    HttpServer server = images.createHttpServer().requestHandler(request -> {
      String path = request.path();
      if (path.equals("/flaky.png") && FLAKY_CALLS.getAndIncrement() == 0) {
        request.response().setStatusCode(500).end("try later");
      } else if (path.matches("/\\d+x\\d+\\.png") || path.equals("/flaky.png")) {
        String[] size = path.equals("/flaky.png") ? new String[] {"7", "5"} : path.substring(1, path.length() - 4).split("x");
        request.response().putHeader("Content-Type", "image/png").end(Buffer.buffer(png(Integer.parseInt(size[0]), Integer.parseInt(size[1]))));
      } else if (path.equals("/not-an-image.jpg")) {
        request.response().putHeader("Content-Type", "image/jpeg").end("<html>hello</html>");
      } else {
        request.response().setStatusCode(404).end();
      }
    });
    imagePort = server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
  }

  @AfterAll
  static void stopImageServer() throws Exception {
    images.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static byte[] png(int width, int height) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB), "png", out);
      return out.toByteArray();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String url(String path) {
    return "http://127.0.0.1:" + imagePort + path;
  }

  private static JsonObject visit(String store, String... paths) {
    JsonArray urls = new JsonArray();
    for (String path : paths) {
      urls.add(url(path));
    }
    return new JsonObject().put("store_id", store).put("image_url", urls).put("visit_time", "time of store visit");
  }

  private static JsonObject job(JsonObject... visits) {
    return new JsonObject().put("count", visits.length).put("visits", new JsonArray(List.of((Object[]) visits)));
  }

  /** Submits through the original contract; returns the job id (checking the answer's exact shape). */
  private static long submit(JsonObject body) {
    Api.Reply reply = node.api().raw("POST", "/api/submit/", body.encode(), "Content-Type", "application/json");
    assertEquals(201, reply.status, reply.toString());
    JsonObject answer = reply.json();
    assertEquals(1, answer.size(), "exactly {job_id}: " + answer);
    assertTrue(answer.getValue("job_id") instanceof Number, "job_id is a JSON number: " + reply.raw.body());
    return answer.getLong("job_id");
  }

  /** Polls the original status endpoint until the job is no longer ongoing; returns the last answer. */
  private static JsonObject finished(long id) {
    JsonObject[] last = new JsonObject[1];
    TestServers.await("job " + id + " to finish", Duration.ofSeconds(60), () -> {
      Api.Reply reply = node.api().get("/api/status?jobid=" + id, null);
      assertEquals(200, reply.status, reply.toString());
      last[0] = reply.json();
      return !"ongoing".equals(last[0].getString("status"));
    });
    return last[0];
  }

  @Test
  void theContractsExampleCompletesWithEveryPerimeterAndTheExactShapes() {
    long id = submit(job(visit("S00339218", "/40x30.png", "/100x1.png"), visit("S01408764", "/3x2.png")));
    Api.Reply ongoing = node.api().get("/api/status?jobid=" + id, null);
    assertEquals(String.valueOf(id), ongoing.json().getString("job_id"), "job_id is a JSON string here");

    JsonObject done = finished(id);
    assertEquals(new JsonObject().put("status", "completed").put("job_id", String.valueOf(id)), done, "exactly two keys");
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM images i LEFT JOIN tasks t ON t.id = i.task_id "
      + "WHERE i.job_id = " + id + " AND (t.id IS NULL OR (t.payload->>'image_id')::bigint <> i.id)"),
      "every image knows its own task (the fan-out links them in the same pass, not through the sweep)");
    JsonObject detail = node.api().get("/api/v1/jobs/" + id, node.adminToken()).json();
    assertEquals(3, detail.getInteger("done"));
    JsonArray first = detail.getJsonArray("visits").getJsonObject(0).getJsonArray("images");
    assertEquals(140, first.getJsonObject(0).getLong("perimeter"), "2 x (40 + 30)");
    assertEquals(202, first.getJsonObject(1).getLong("perimeter"));
    assertEquals(10, detail.getJsonArray("visits").getJsonObject(1).getJsonArray("images").getJsonObject(0).getLong("perimeter"));
    assertEquals("png", first.getJsonObject(0).getString("format").toLowerCase());
  }

  @Test
  void theCurrentGenerationOfStoreIdsAndTheRouteWithoutASlashWorkToo() {
    Api.Reply reply = node.api().raw("POST", "/api/submit", job(visit("RP00004", "/5x5.png")).encode(), "Content-Type", "application/json");
    assertEquals(201, reply.status, reply.toString());
    assertEquals("completed", finished(reply.json().getLong("job_id")).getString("status"));
  }

  @Test
  void anUnknownStoreOrABrokenImageFailsTheJobListingEachFailedStoreOnce() {
    long id = submit(job(visit("NOPE-1", "/5x5.png", "/6x6.png"), visit("S00339218", "/5x5.png"),
      visit("RP00004", "/missing.png", "/not-an-image.jpg")));
    JsonObject failed = finished(id);
    assertEquals("failed", failed.getString("status"));
    assertEquals(String.valueOf(id), failed.getString("job_id"));
    assertEquals(3, failed.size(), "status, job_id and error");
    JsonArray errors = failed.getJsonArray("error");
    assertEquals(2, errors.size(), "each failed store once: " + errors);
    JsonObject unknown = errors.stream().map(JsonObject.class::cast).filter(e -> e.getString("store_id").equals("NOPE-1")).findFirst().orElseThrow();
    assertTrue(unknown.getString("error").contains("not in the store master"), unknown.encode());
    assertTrue(errors.stream().map(JsonObject.class::cast).anyMatch(e -> e.getString("store_id").equals("RP00004")), errors.encode());
    JsonObject detail = node.api().get("/api/v1/jobs/" + id, node.adminToken()).json();
    assertEquals(5, detail.getInteger("done"));
    assertEquals(4, detail.getInteger("failed"));
  }

  @Test
  void aFlakyImageSucceedsOnARetry() {
    FLAKY_CALLS.set(0);
    long id = submit(job(visit("S00339218", "/flaky.png")));
    assertEquals("completed", finished(id).getString("status"));
    JsonObject image = node.api().get("/api/v1/jobs/" + id, node.adminToken()).json().getJsonArray("visits").getJsonObject(0)
      .getJsonArray("images").getJsonObject(0);
    assertEquals(24, image.getLong("perimeter"));
    assertEquals(2, image.getInteger("attempts"), "the 500, then the image");
  }

  @Test
  void anOutcomeDeliveredAgainIsNotCountedTwice() throws Exception {
    long id = submit(job(visit("S00339218", "/8x8.png", "/9x9.png")));
    finished(id);
    JsonObject image = node.api().get("/api/v1/jobs/" + id, node.adminToken()).json().getJsonArray("visits").getJsonObject(0)
      .getJsonArray("images").getJsonObject(0);
    JsonObject outcome = new JsonObject().put("task_id", image.getLong("task_id")).put("status", "failed").put("error", "late")
      .put("attempts", 9).put("payload", new JsonObject().put("image_id", image.getLong("id")));
    node.vertx().eventBus().request("jobs.image.outcome", outcome, new DeliveryOptions().setSendTimeout(5000))
      .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    JsonObject after = node.api().get("/api/v1/jobs/" + id, node.adminToken()).json();
    assertEquals("completed", after.getString("status"));
    assertEquals(2, after.getInteger("done"));
    assertEquals(0, after.getInteger("failed"));
  }

  @Test
  void badRequestsGetTheContractsErrorShape() {
    JsonObject good = job(visit("S00339218", "/5x5.png"));
    List<String> bodies = List.of("{not json", "[]", "{}", good.copy().put("count", 2).encode(), good.copy().put("count", "1").encode(),
      good.copy().put("visits", new JsonArray()).put("count", 0).encode(),
      job(visit("S00339218", "/5x5.png").put("image_url", new JsonArray())).encode(),
      job(new JsonObject().put("store_id", "S00339218").put("image_url", new JsonArray().add(url("/5x5.png")))).encode(),
      job(visit("S00339218", "/5x5.png").put("store_id", 42)).encode(), "{\"count\": 1, \"visits\": [\"\\u0000\"]}");
    for (String body : bodies) {
      Api.Reply reply = node.api().raw("POST", "/api/submit/", body, "Content-Type", "application/json");
      assertEquals(400, reply.status, body + " -> " + reply);
      JsonObject answer = reply.json();
      assertEquals(1, answer.size(), "exactly {error}: " + answer);
      assertTrue(!answer.getString("error").isBlank(), reply.toString());
    }
    assertEquals("{}", node.api().get("/api/status?jobid=999999", null).raw.body());
    assertEquals(400, node.api().get("/api/status?jobid=abc", null).status);
    assertEquals("{}", node.api().get("/api/status?jobid=abc", null).raw.body());
    assertEquals("{}", node.api().get("/api/status", null).raw.body());
    assertEquals("{}", node.api().get("/api/status?jobid=99999999999999999999", null).raw.body());
  }

  @Test
  void anAdminImportsStoresAndABadRowImportsNothing() {
    String admin = node.adminToken();
    Api.Reply bad = node.api().raw("POST", "/api/v1/stores/import", "AreaCode,StoreName,StoreID\n1,New,NEW-1\n2,Broken\n",
      "Content-Type", "text/csv", "Authorization", "Bearer " + admin);
    assertEquals(400, bad.status, bad.toString());
    assertTrue(bad.toString().contains("line 3"), bad.toString());
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT count(*) FROM stores WHERE store_id = 'NEW-1'"), "nothing imported");
    Api.Reply good = node.api().raw("POST", "/api/v1/stores/import", "AreaCode,StoreName,StoreID\r\n1,\"New, Shop\",NEW-1",
      "Content-Type", "text/csv", "Authorization", "Bearer " + admin);
    assertEquals(200, good.status, good.toString());
    assertEquals("completed", finished(submit(job(visit("NEW-1", "/5x5.png")))).getString("status"));
    assertEquals(415, node.api().raw("POST", "/api/v1/stores/import", "{}", "Content-Type", "application/json",
      "Authorization", "Bearer " + admin).status);
  }
}
