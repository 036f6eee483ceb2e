package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.ContextInternal;

/**
 * Request/reply on the event bus with Pulse's rules: every request has a timeout, and the
 * caller's context (request id) travels in delivery headers and is bound again on the
 * receiving side before the handler runs.
 */
public final class Bus {

  private Bus() {
  }

  public static <T> Future<Message<T>> request(Vertx vertx, String address, Object body, long timeoutMs) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs);
    String requestId = RequestContext.requestId();
    if (requestId != null) {
      options.addHeader(RequestContext.REQUEST_ID_HEADER, requestId);
    }
    Caller caller = RequestContext.caller();
    if (caller != null) {
      options.addHeader(RequestContext.USER_ID_HEADER, String.valueOf(caller.userId));
      options.addHeader(RequestContext.ROLES_HEADER, caller.role);
    }
    return vertx.eventBus().request(address, body, options);
  }

  /** Consumes {@code address}; the handler runs with the sender's request id and caller bound. */
  public static <T> MessageConsumer<T> consume(Vertx vertx, String address, Handler<Message<T>> handler) {
    return vertx.eventBus().consumer(address, message -> {
      ContextInternal context = (ContextInternal) vertx.getOrCreateContext();
      if (context.isDuplicate()) {
        handleWithRequestId(message, handler);
      } else {
        // Consumers normally run on a per-message duplicated context; never bind on a shared one.
        context.duplicate().runOnContext(ignored -> handleWithRequestId(message, handler));
      }
    });
  }

  private static <T> void handleWithRequestId(Message<T> message, Handler<Message<T>> handler) {
    RequestContext.bindRequestId(RequestContext.acceptOrCreate(message.headers().get(RequestContext.REQUEST_ID_HEADER)));
    RequestContext.bindCaller(Caller.from(message.headers()));
    handler.handle(message);
  }
}
