package verticles.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;
import verticles.common.RequestContext;

/**
 * A request must be answered within HTTP_REQUEST_TIMEOUT_MS: 408 (and the connection closed)
 * when its body is still arriving, 503 when Pulse is the slow one. With the server's read
 * timeout (a connection that sends nothing for HTTP_READ_TIMEOUT_MS is closed: a stalled or
 * half-sent request, a forgotten keep-alive) and its idle timeout, no client holds a socket
 * for long. Vert.x gives no hook when a connection opens (its connection handler runs once a
 * request's headers are in), so a client that dribbles its headers a byte at a time is bounded
 * by the read timeout per byte and the 8 KB header limit, not by a header deadline.
 */
final class EdgeTimeouts {

  private EdgeTimeouts() {
  }

  static Handler<RoutingContext> requestDeadline(Vertx vertx, long timeoutMs) {
    return rc -> {
      long timer = vertx.setTimer(timeoutMs, ignored -> {
        if (Problem.answered(rc)) {
          return;
        }
        boolean bodyStillComing = !rc.request().isEnded();
        rc.response().putHeader("Connection", "close");
        Problem.send(rc, bodyStillComing ? 408 : 503, bodyStillComing
          ? "the request was not received within " + timeoutMs + " ms"
          : "no answer within " + timeoutMs + " ms; try again shortly (request " + RequestContext.requestId() + ")");
        if (bodyStillComing) {
          rc.request().connection().close();
        }
      });
      rc.addEndHandler(ignored -> vertx.cancelTimer(timer));
      rc.next();
    };
  }
}
