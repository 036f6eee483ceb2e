package verticles.http;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Caller;
import verticles.common.RequestContext;

import static net.logstash.logback.argument.StructuredArguments.kv;

/**
 * One line per request, when its response is done: method, path (never the query string, where
 * secrets end up), status, duration, bytes, user id; the request id comes with every line.
 */
final class AccessLog implements Handler<RoutingContext> {

  private static final Logger log = LoggerFactory.getLogger("pulse.access");

  @Override
  public void handle(RoutingContext rc) {
    long began = System.nanoTime();
    rc.addBodyEndHandler(ignored -> {
      Caller caller = RequestContext.caller();
      log.info("{} {} {} {} {} {}",
        kv("method", rc.request().method().name()),
        kv("path", rc.request().path()),
        kv("status", rc.response().getStatusCode()),
        kv("duration_ms", (System.nanoTime() - began) / 1_000_000.0),
        kv("bytes", rc.response().bytesWritten()),
        kv("user_id", caller == null ? null : caller.userId()));
    });
    rc.next();
  }
}
