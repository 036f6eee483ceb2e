package verticles.common;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a redirect carries along, and what a capped body looks like (the rest of SafeFetch is
 * covered through its users: ImageWorkerTest and HttpRequestTaskTest).
 */
@ExtendWith(VertxExtension.class)
class SafeFetchTest {

  /** One request as a server saw it. */
  private record Seen(int server, String method, String path, String authorization, String body) {
  }

  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private int first;
  private int second;

  /** Two servers, two origins: the first redirects by path, the second answers every request. */
  @BeforeEach
  void startServers(Vertx vertx, VertxTestContext test) {
    vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
      seen.add(new Seen(1, request.method().name(), request.path(), request.getHeader("Authorization"), body.toString()));
      switch (request.path()) {
        case "/see-other" -> request.response().setStatusCode(303).putHeader("Location", "/done").end();
        case "/temporary" -> request.response().setStatusCode(307).putHeader("Location", "/done").end();
        case "/elsewhere" -> request.response().setStatusCode(302)
          .putHeader("Location", "http://127.0.0.1:" + second + "/done").end();
        case "/big" -> request.response().end("y".repeat(10_000));
        default -> request.response().end("done");
      }
    })).listen(0, "127.0.0.1")
      .compose(one -> {
        first = one.actualPort();
        return vertx.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
          seen.add(new Seen(2, request.method().name(), request.path(), request.getHeader("Authorization"), body.toString()));
          request.response().end("done");
        })).listen(0, "127.0.0.1");
      })
      .onComplete(test.succeeding(two -> {
        second = two.actualPort();
        test.completeNow();
      }));
  }

  private static SafeFetch fetch(Vertx vertx, boolean truncate) {
    return new SafeFetch(vertx, new OutboundPolicy("127.0.0.1/32"), new SafeFetch.Limits(3, 1000, truncate, 2000, 2000));
  }

  private String url(String path) {
    return "http://127.0.0.1:" + first + path;
  }

  @Test
  void afterA303APostGoesOnAsAGetWithoutItsBody(Vertx vertx, VertxTestContext test) {
    fetch(vertx, false).fetch(HttpMethod.POST, url("/see-other"), MultiMap.caseInsensitiveMultiMap(), Buffer.buffer("{\"a\":1}"), 5000)
      .onComplete(test.succeeding(response -> test.verify(() -> {
        assertEquals(200, response.status());
        assertEquals(url("/done"), response.finalUrl());
        assertEquals(new Seen(1, "GET", "/done", null, ""), seen.get(1));
        test.completeNow();
      })));
  }

  @Test
  void afterA307APostIsRepeatedWithItsBody(Vertx vertx, VertxTestContext test) {
    fetch(vertx, false).fetch(HttpMethod.POST, url("/temporary"), MultiMap.caseInsensitiveMultiMap(), Buffer.buffer("{\"a\":1}"), 5000)
      .onComplete(test.succeeding(response -> test.verify(() -> {
        assertEquals(new Seen(1, "POST", "/done", null, "{\"a\":1}"), seen.get(1));
        test.completeNow();
      })));
  }

  @Test
  void credentialsAreNotCarriedToAnotherOrigin(Vertx vertx, VertxTestContext test) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Authorization", "Bearer secret");
    fetch(vertx, false).fetch(HttpMethod.GET, url("/elsewhere"), headers, null, 5000)
      .onComplete(test.succeeding(response -> test.verify(() -> {
        assertEquals("Bearer secret", seen.get(0).authorization(), "the first origin got them");
        assertEquals(2, seen.get(1).server());
        assertNull(seen.get(1).authorization(), "the second did not");
        test.completeNow();
      })));
  }

  @Test
  void aBodyOverTheCapFailsOrIsCutWhenAskedTo(Vertx vertx, VertxTestContext test) {
    fetch(vertx, false).get(url("/big"), 5000)
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.VALIDATION, Failure.of(error));
        assertTrue(error.getMessage().contains("10000 bytes, more than the 1000"), error.getMessage());
      })))
      .recover(ignored -> fetch(vertx, true).get(url("/big"), 5000))
      .onComplete(test.succeeding(cut -> test.verify(() -> {
        assertTrue(cut.truncated());
        assertEquals("y".repeat(1000), cut.body().toString());
        test.completeNow();
      })));
  }

  @Test
  void aWholeBodyIsNotMarkedCut(Vertx vertx, VertxTestContext test) {
    fetch(vertx, true).get(url("/done"), 5000)
      .onComplete(test.succeeding(whole -> test.verify(() -> {
        assertFalse(whole.truncated());
        assertEquals("done", whole.body().toString());
        test.completeNow();
      })));
  }
}
