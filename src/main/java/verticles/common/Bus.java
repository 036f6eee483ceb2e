package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;

/**
 * Request/reply on the event bus with Pulse's rules: every request has a timeout, and the
 * caller's context (request id, caller, idempotency key) travels in delivery headers and is
 * bound again on the receiving side before the handler runs.
 */
public final class Bus {

  private Bus() {
  }

  public static <T> Future<Message<T>> request(Vertx vertx, String address, Object body, long timeoutMs) {
    return request(vertx, address, body, new DeliveryOptions().setSendTimeout(timeoutMs));
  }

  /** With the current request id and caller added to {@code options}. */
  public static <T> Future<Message<T>> request(Vertx vertx, String address, Object body, DeliveryOptions options) {
    String requestId = RequestContext.requestId();
    if (requestId != null) {
      options.addHeader(BusHeaders.REQUEST_ID, requestId);
    }
    Caller caller = RequestContext.caller();
    if (caller != null) {
      options.addHeader(BusHeaders.USER_ID, String.valueOf(caller.userId()));
      options.addHeader(BusHeaders.ROLES, caller.role());
    }
    return vertx.eventBus().request(address, body, options);
  }

  /** Consumes {@code address}; the handler runs with the sender's request id, caller and idempotency key bound. */
  public static <T> MessageConsumer<T> consume(Vertx vertx, String address, Handler<Message<T>> handler) {
    return vertx.eventBus().consumer(address, message -> {
      ContextInternal context = (ContextInternal) vertx.getOrCreateContext();
      if (context.isDuplicate()) {
        handleInContext(vertx, message, handler);
      } else {
        // Consumers normally run on a per-message duplicated context; never bind on a shared one.
        context.duplicate().runOnContext(ignored -> handleInContext(vertx, message, handler));
      }
    });
  }

  private static <T> void handleInContext(Vertx vertx, Message<T> message, Handler<Message<T>> handler) {
    RequestContext.bindRequestId(RequestContext.acceptOrCreate(message.headers().get(BusHeaders.REQUEST_ID)));
    RequestContext.bindCaller(Caller.from(message.headers()));
    RequestContext.bindIdempotencyKey(message.headers().get(BusHeaders.IDEMPOTENCY_KEY));
    acknowledgeTask(vertx, message);
    handler.handle(message);
  }

  /**
   * A task delivery in a cluster: tells its dispatcher which node holds it, so that if this node
   * leaves the cluster the dispatcher re-delivers the task at once instead of waiting out its timeout.
   */
  private static void acknowledgeTask(Vertx vertx, Message<?> message) {
    String dispatcher = message.headers().get(BusHeaders.DISPATCHER);
    String task = message.headers().get(BusHeaders.TASK_ID);
    if (dispatcher != null && task != null && vertx instanceof VertxInternal internal && internal.isClustered()) {
      vertx.eventBus().send(dispatcher, new JsonObject().put("task_id", Long.parseLong(task))
        .put("node", internal.clusterManager().getNodeId()));
    }
  }
}
