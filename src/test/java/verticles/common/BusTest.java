package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

@ExtendWith(VertxExtension.class)
class BusTest {

  /** Replies with the request id its handler sees. */
  private static void echoRequestId(Vertx vertx, String address) {
    Bus.<JsonObject>consume(vertx, address, message ->
      message.reply(new JsonObject().put("seen", RequestContext.requestId())));
  }

  @Test
  void theCallersRequestIdIsBoundOnTheReceivingSide(Vertx vertx, VertxTestContext test) {
    echoRequestId(vertx, "test.echo");
    ContextInternal request = ((ContextInternal) vertx.getOrCreateContext()).duplicate();
    request.runOnContext(ignored -> {
      RequestContext.bindRequestId("req-42");
      Bus.<JsonObject>request(vertx, "test.echo", new JsonObject(), 2000)
        .onComplete(test.succeeding(reply -> test.verify(() -> {
          assertEquals("req-42", reply.body().getString("seen"));
          test.completeNow();
        })));
    });
  }

  @Test
  void concurrentRequestsDoNotSeeEachOthersIds(Vertx vertx, VertxTestContext test) {
    echoRequestId(vertx, "test.echo2");
    var done = test.checkpoint(50);
    for (int i = 0; i < 50; i++) {
      String id = "req-" + i;
      ((ContextInternal) vertx.getOrCreateContext()).duplicate().runOnContext(ignored -> {
        RequestContext.bindRequestId(id);
        Bus.<JsonObject>request(vertx, "test.echo2", new JsonObject(), 2000)
          .onComplete(test.succeeding(reply -> test.verify(() -> {
            assertEquals(id, reply.body().getString("seen"));
            assertEquals(id, RequestContext.requestId(), "the caller's own context is untouched");
            done.flag();
          })));
      });
    }
  }

  @Test
  void aMessageWithoutARequestIdGetsAFreshOne(Vertx vertx, VertxTestContext test) {
    echoRequestId(vertx, "test.echo3");
    vertx.eventBus().<JsonObject>request("test.echo3", new JsonObject())
      .onComplete(test.succeeding(reply -> test.verify(() -> {
        String seen = reply.body().getString("seen");
        assertNotNull(seen);
        assertNotEquals("", seen);
        test.completeNow();
      })));
  }

  @Test
  void aRequestNobodyAnswersTimesOutAsUnavailable(Vertx vertx, VertxTestContext test) {
    vertx.eventBus().consumer("test.silent", message -> { /* never replies */ });
    Bus.request(vertx, "test.silent", new JsonObject(), 200)
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.UNAVAILABLE, Failure.of(error));
        test.completeNow();
      })));
  }

  @Test
  void aCodedFailureReachesTheCaller(Vertx vertx, VertxTestContext test) {
    Bus.consume(vertx, "test.refuse", message -> message.fail(Failure.CONFLICT.code, "already there"));
    Bus.request(vertx, "test.refuse", new JsonObject(), 2000)
      .onComplete(test.failing(error -> test.verify(() -> {
        assertEquals(Failure.CONFLICT, Failure.of(error));
        assertEquals("already there", error.getMessage());
        test.completeNow();
      })));
  }
}
