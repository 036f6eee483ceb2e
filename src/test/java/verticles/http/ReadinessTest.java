package verticles.http;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.EmbeddedServers;
import verticles.support.NodeProcess;
import verticles.support.PulseNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Readiness follows the real state of Redis: up, down while it is stopped, up again after. */
class ReadinessTest {

  /** A Redis of this test's own, so the test can stop it without disturbing the others. */
  @RegisterExtension
  static final PulseNode node = PulseNode.create().withOwnRedis().with("HEALTH_TIMEOUT_MS", "1000");

  private static EmbeddedServers redis;
  private static int port;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    redis = node.redis();
    port = node.port();
  }

  @Test
  void readinessIsDownWhileRedisIsStoppedAndUpAgainAfterItRestarts() throws Exception {
    HttpResponse<String> ready = get("/health/ready");
    assertEquals(200, ready.statusCode(), ready.body());
    JsonObject body = new JsonObject(ready.body());
    assertEquals("up", body.getString("status"));
    assertEquals("ok", body.getJsonObject("checks").getJsonObject("ledger").getJsonObject("checks").getString("postgres"));

    redis.stopRedis();
    HttpResponse<String> down = get("/health/ready");
    assertEquals(503, down.statusCode(), down.body());
    JsonObject failed = new JsonObject(down.body());
    assertEquals("down", failed.getString("status"));
    assertTrue(failed.getJsonArray("failed").contains("ledger.redis"), down.body());
    assertTrue(failed.getJsonArray("failed").contains("dispatch.redis"), down.body());
    assertTrue(failed.getJsonArray("failed").stream().allMatch(name -> name.toString().endsWith(".redis")),
      "only Redis is named: " + down.body());
    assertEquals(200, get("/health/live").statusCode(), "liveness does not depend on Redis");

    redis.restartRedis();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    int status = 0;
    while (System.nanoTime() < deadline && (status = get("/health/ready").statusCode()) != 200) {
      NodeProcess.sleep(200);
    }
    assertEquals(200, status, "ready again once Redis is back");
  }

  @Test
  void everyResponseCarriesARequestIdTakenFromTheRequestOrMadeUp() throws Exception {
    HttpResponse<String> echoed = HTTP.send(HttpRequest.newBuilder(uri("/health/live"))
      .header("X-Request-Id", "abc-123").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals("abc-123", echoed.headers().firstValue("X-Request-Id").orElse(null));

    HttpResponse<String> made = get("/nowhere");
    assertEquals(404, made.statusCode());
    String id = made.headers().firstValue("X-Request-Id").orElse("");
    assertTrue(id.length() >= 16, "a generated id: " + id);
    assertEquals("application/problem+json", made.headers().firstValue("Content-Type").orElse(null));
    JsonObject problem = new JsonObject(made.body());
    assertEquals(404, problem.getInteger("status"));
    assertEquals(id, problem.getString("request_id"));
    assertEquals("/nowhere", problem.getString("instance"));
  }

  @Test
  void aWrongMethodIsA405Problem() throws Exception {
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(uri("/health/live"))
      .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(405, response.statusCode());
    assertEquals(405, new JsonObject(response.body()).getInteger("status"));
  }

  @Test
  void metricsAreServedInPrometheusFormat() throws Exception {
    get("/health/ready");
    HttpResponse<String> metrics = get("/metrics");
    assertEquals(200, metrics.statusCode());
    String text = metrics.body();
    assertTrue(text.contains("vertx_http_server_requests_total"), "HTTP server metrics");
    assertTrue(text.contains("vertx_eventbus_processed_total"), "event bus metrics");
    assertTrue(text.contains("vertx_pool_"), "pool metrics");
    assertTrue(text.contains("jvm_memory_used_bytes"), "JVM metrics");
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).build(),
      HttpResponse.BodyHandlers.ofString());
  }

  private static URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
