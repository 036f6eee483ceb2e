package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Function;

/**
 * How a service answers a bus address: the handler returns a future (or throws); its result is
 * the reply, a coded failure goes back as is, anything else is logged here and goes back as
 * "internal" without its details.
 */
public final class ServiceReplies {

  private static final Logger log = LoggerFactory.getLogger(ServiceReplies.class);

  private ServiceReplies() {
  }

  public static void serve(Vertx vertx, String address, Function<JsonObject, Future<?>> handler) {
    Bus.<JsonObject>consume(vertx, address, message -> {
      Future<?> result;
      try {
        result = handler.apply(message.body());
      } catch (RuntimeException e) {
        result = Future.failedFuture(e);
      }
      result.onComplete(done -> reply(message, done.succeeded() ? done.result() : null, done.cause()));
    });
  }

  private static void reply(Message<JsonObject> message, Object body, Throwable error) {
    if (error == null) {
      message.reply(body);
      return;
    }
    Failure failure = Failure.of(error);
    if (failure == Failure.INTERNAL) {
      log.error("{} failed", message.address(), error);
      message.fail(failure.code, "internal error");
    } else {
      message.fail(failure.code, error.getMessage());
    }
  }
}
