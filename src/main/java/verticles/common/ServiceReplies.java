package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Function;

/**
 * How a service answers a bus address: the handler returns a future (or throws); its result is
 * the reply (a {@link VersionedJson} goes as its bytes, the version in a header), a coded failure
 * goes back as is (with its details), an unreachable dependency goes back as "unavailable" (and is
 * told to its {@link Dependency}, which logs the outage once), and anything else is logged here
 * and goes back as "internal" without its details.
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
      result.onComplete(done -> reply(vertx, message, done.succeeded() ? done.result() : null, done.cause()));
    });
  }

  private static void reply(Vertx vertx, Message<JsonObject> message, Object body, Throwable error) {
    if (error == null) {
      if (body instanceof VersionedJson versioned) {
        message.reply(versioned.json(), new DeliveryOptions().addHeader(BusHeaders.VERSION, String.valueOf(versioned.version())));
      } else {
        message.reply(body);
      }
      return;
    }
    if (error instanceof ServiceFailure failure) {
      message.reply(failure);
      return;
    }
    Failure failure = Failure.of(error);
    switch (failure) {
      case INTERNAL -> {
        log.error("{} failed", message.address(), error);
        message.fail(failure.code, "internal error");
      }
      case UNAVAILABLE -> {
        Dependency blamed = error instanceof ReplyException ? null : Dependency.blamedFor(vertx, error);
        if (blamed != null) {
          blamed.failed(error);
        }
        message.fail(failure.code, "a dependency is unavailable; try again shortly");
      }
      default -> message.fail(failure.code, error.getMessage());
    }
  }
}
