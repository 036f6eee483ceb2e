package verticles.tasks;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import verticles.common.Addresses;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.TaskTypes;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The http.request task (a webhook) against a real local HTTP server: what the endpoint receives,
 * which answers are retried, and that a refused address is never connected to.
 */
@ExtendWith(VertxExtension.class)
class HttpRequestTaskTest {

  /** One request as the endpoint saw it. */
  private record Received(String method, String uri, String contentType, String body) {
  }

  private final List<Received> received = new CopyOnWriteArrayList<>();
  private final AtomicInteger connections = new AtomicInteger();
  private int port;

  /** The endpoint: answers by path, and counts every connection made to it. */
  @BeforeEach
  void startEndpoint(Vertx vertx, VertxTestContext test) {
    HttpServer server = vertx.createHttpServer()
      .connectionHandler(connection -> connections.incrementAndGet())
      .requestHandler(request -> request.body().onSuccess(body -> {
        received.add(new Received(request.method().name(), request.uri(), request.getHeader("Content-Type"), body.toString()));
        switch (request.path()) {
          case "/missing" -> request.response().setStatusCode(404).end("no such hook");
          case "/boom" -> request.response().setStatusCode(500).end("broken");
          case "/busy" -> request.response().setStatusCode(429).end("slow down");
          case "/silent" -> { /* never answers */ }
          case "/large" -> request.response().setStatusCode(200).end("x".repeat(200 * 1024));
          case "/moved" -> request.response().setStatusCode(302).putHeader("Location", "/hook").end();
          default -> request.response().setStatusCode(202).end("{\"ok\":true}");
        }
      }));
    server.listen(0, "127.0.0.1").onComplete(test.succeeding(listening -> {
      port = listening.actualPort();
      test.completeNow();
    }));
  }

  /** Deploys only the task's handler, with this allow-list. */
  private static Future<String> deploy(Vertx vertx, String allowlist) {
    JsonObject config = new JsonObject().put(Config.OUTBOUND_ALLOWLIST, allowlist).put(Config.NODE_NAME, "webhook-test");
    return vertx.deployVerticle(new HttpRequestTask(), new DeploymentOptions().setConfig(config));
  }

  /** Delivers a task as the dispatcher does: the spec as the body, the delivery in headers. */
  private static Future<Message<JsonObject>> deliver(Vertx vertx, JsonObject spec, long timeoutMs) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs + 5_000)
      .addHeader(BusHeaders.TASK_ID, "42").addHeader(BusHeaders.ATTEMPT, "1")
      .addHeader(BusHeaders.TIMEOUT_MS, String.valueOf(timeoutMs))
      .addHeader(BusHeaders.USER_ID, "7").addHeader(BusHeaders.ROLES, "user");
    return vertx.eventBus().request(Addresses.Tasks.handler(TaskTypes.HTTP_REQUEST), spec, options);
  }

  private JsonObject post(String pathAndQuery) {
    return new JsonObject().put("url", "http://127.0.0.1:" + port + pathAndQuery).put("method", "POST")
      .put("body", new JsonObject().put("event", "order.paid").put("order", 1234));
  }

  @Test
  void theEndpointReceivesTheMethodPathQueryAndJsonBody(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/hook?token=abc&x=1"), 5000))
      .onComplete(test.succeeding(reply -> test.verify(() -> {
        assertEquals(202, reply.body().getInteger("status"));
        assertEquals("{\"ok\":true}", reply.body().getString("body"));
        assertEquals(1, received.size(), received.toString());
        Received request = received.get(0);
        assertEquals("POST", request.method());
        assertEquals("/hook?token=abc&x=1", request.uri(), "the query string reaches the endpoint");
        assertEquals("application/json", request.contentType());
        assertEquals(new JsonObject().put("event", "order.paid").put("order", 1234), new JsonObject(request.body()));
        test.completeNow();
      })));
  }

  @Test
  void aUrlWithAQueryButNoPathKeepsItsQuery(Vertx vertx, VertxTestContext test) {
    // The case the old target expression got wrong: no path, so it sent "/" and dropped "?token=abc".
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("?token=abc"), 5000))
      .onComplete(test.succeeding(reply -> test.verify(() -> {
        assertEquals(202, reply.body().getInteger("status"));
        assertEquals("/?token=abc", received.get(0).uri());
        test.completeNow();
      })));
  }

  @Test
  void aPrivateAddressOffTheAllowListIsRefusedWithoutConnecting(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "")
      .compose(deployed -> deliver(vertx, post("/hook?token=abc&x=1"), 5000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.FORBIDDEN, Failure.of(error));
        assertFalse(Failure.of(error).retryable, "refused for good, not retried");
        assertTrue(error.getMessage().contains("127.0.0.1"), error.getMessage());
        assertEquals(0, connections.get(), "the endpoint saw no connection at all");
        assertTrue(received.isEmpty());
        test.completeNow();
      })));
  }

  @Test
  void aServerErrorIsRetryable(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/boom"), 5000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.UNAVAILABLE, Failure.of(error));
        assertTrue(Failure.of(error).retryable);
        assertTrue(error.getMessage().contains("500"), error.getMessage());
        assertEquals(1, received.size(), "the request was made");
        test.completeNow();
      })));
  }

  @Test
  void tooManyRequestsIsRetryable(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/busy"), 5000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.UNAVAILABLE, Failure.of(error));
        test.completeNow();
      })));
  }

  @Test
  void aClientErrorFailsForGood(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/missing"), 5000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFalse(Failure.of(error).retryable, "a 404 will not get better by retrying");
        assertEquals(Failure.VALIDATION, Failure.of(error));
        assertTrue(error.getMessage().contains("404"), error.getMessage());
        test.completeNow();
      })));
  }

  @Test
  void anEndpointThatNeverAnswersTimesOutRetryably(Vertx vertx, VertxTestContext test) {
    long began = System.nanoTime();
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/silent"), 1000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.UNAVAILABLE, Failure.of(error));
        long tookMs = (System.nanoTime() - began) / 1_000_000;
        assertTrue(tookMs < 4000, "the task's own timeout bounds the request, not the 25 s default: " + tookMs + " ms");
        test.completeNow();
      })));
  }

  @Test
  void aLargeAnswerIsKeptAsItsFirst64KiB(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/large"), 5000))
      .onComplete(test.succeeding(reply -> test.verify(() -> {
        assertEquals(200, reply.body().getInteger("status"));
        assertEquals("x".repeat(64 * 1024), reply.body().getString("body"));
        test.completeNow();
      })));
  }

  @Test
  void aRedirectIsNotFollowedAndFailsForGood(Vertx vertx, VertxTestContext test) {
    deploy(vertx, "127.0.0.1/32")
      .compose(deployed -> deliver(vertx, post("/moved"), 5000))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.VALIDATION, Failure.of(error));
        assertTrue(error.getMessage().contains("302"), error.getMessage());
        assertEquals(1, received.size(), "only the first request was made: " + received);
        test.completeNow();
      })));
  }

  @Test
  void onlyHttpAndHttpsUrlsWithAHostAreTaken(Vertx vertx, VertxTestContext test) {
    var refused = test.checkpoint(3);
    deploy(vertx, "127.0.0.1/32").onComplete(test.succeeding(deployed -> {
      for (String url : List.of("ftp://127.0.0.1:" + port + "/x", "http:///nohost", "http://exa mple.com/")) {
        deliver(vertx, new JsonObject().put("url", url), 5000).onComplete(test.failing(error -> test.verify(() -> {
          assertEquals(Failure.VALIDATION, Failure.of(error), url);
          assertEquals(0, connections.get());
          refused.flag();
        })));
      }
    }));
  }
}
