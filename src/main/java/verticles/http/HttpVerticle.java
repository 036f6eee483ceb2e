package verticles.http;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.micrometer.PrometheusScrapingHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Config;
import verticles.common.RequestContext;

import java.util.concurrent.TimeUnit;

/**
 * The HTTP edge (one instance per core): routes, request ids, health and metrics. It owns
 * nothing persistent and talks to the rest of Pulse only over the event bus.
 */
public class HttpVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(HttpVerticle.class);

  private HttpServer server;

  @Override
  public Future<?> start() {
    JsonObject config = config();
    Readiness readiness = new Readiness(vertx, config);
    Router router = Router.router(vertx);
    router.route().handler(HttpVerticle::assignRequestId);
    router.get("/health/live").handler(rc -> rc.json(new JsonObject().put("status", "up")));
    router.get("/health/ready").handler(rc -> readiness.check().onSuccess(result -> {
      boolean up = "up".equals(result.getString("status"));
      if (!up) {
        log.warn("not ready: {}", result.getJsonArray("failed").encode());
      }
      rc.response().setStatusCode(up ? 200 : 503);
      rc.json(result);
    }));
    router.get("/metrics").handler(PrometheusScrapingHandler.create(config.getString(Config.NODE_NAME)));
    router.errorHandler(404, rc -> Problem.send(rc, 404, "No route for " + rc.request().method() + " " + rc.request().path()));
    router.errorHandler(405, rc -> Problem.send(rc, 405, rc.request().method() + " is not allowed on " + rc.request().path()));
    router.errorHandler(500, rc -> {
      log.error("request failed", rc.failure());
      Problem.send(rc, 500, null);
    });

    server = vertx.createHttpServer(new HttpServerOptions()
      .setHost(config.getString(Config.HTTP_HOST))
      .setPort(config.getInteger(Config.HTTP_PORT))
      .setCompressionSupported(true));
    return server.requestHandler(router).listen();
  }

  /** Stops accepting connections and lets in-flight requests finish, up to SHUTDOWN_GRACE_MS. */
  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture()
      : server.shutdown(config().getInteger(Config.SHUTDOWN_GRACE_MS), TimeUnit.MILLISECONDS);
  }

  private static void assignRequestId(RoutingContext rc) {
    String requestId = RequestContext.acceptOrCreate(rc.request().getHeader("X-Request-Id"));
    RequestContext.bindRequestId(requestId);
    rc.response().putHeader("X-Request-Id", requestId);
    rc.next();
  }
}
