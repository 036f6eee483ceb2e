package verticles.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.CorsHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.common.Jwt;
import verticles.common.RedisStore;
import verticles.common.RequestContext;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP edge (one instance per core): request ids, access log, security headers, CORS, body
 * limits, authentication, rate limits, validation against the OpenAPI document, health,
 * metrics and docs. It owns nothing persistent and reaches the rest of Pulse only over the bus.
 */
public class HttpVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(HttpVerticle.class);

  private HttpServer server;
  private boolean lastReady = true;

  @Override
  public Future<?> start() {
    // openapi.yaml takes seconds to parse in a cold JVM on a busy machine: on a worker, not an event loop.
    return vertx.executeBlocking(ApiSpec::load).compose(this::serve);
  }

  private Future<?> serve(ApiSpec spec) {
    JsonObject config = config();
    String docs = ApiDocs.html(spec.document());
    Readiness readiness = new Readiness(vertx, config);

    Router router = Router.router(vertx);
    router.route().handler(HttpVerticle::assignRequestId).handler(new AccessLog()).handler(new EdgeHeaders());
    String origins = config.getString(Config.CORS_ORIGINS);
    if (!origins.isBlank()) {
      router.route().handler(CorsHandler.create()
        .addOrigins(Config.list(origins))
        .allowedMethods(Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE))
        .allowedHeaders(Set.of("Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"))
        .exposedHeaders(Set.of("X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))
        .maxAgeSeconds(600));
    }
    // The deadline starts before the body is read (a slow body is the client's delay to answer for).
    router.route("/api/*").handler(EdgeTimeouts.requestDeadline(vertx, config.getInteger(Config.HTTP_REQUEST_TIMEOUT_MS)));
    router.route("/api/*").handler(BodyHandler.create(false).setBodyLimit(config.getInteger(Config.BODY_LIMIT_BYTES)));

    router.get("/health/live").handler(rc -> rc.json(new JsonObject().put("status", "up")));
    router.get("/health/ready").handler(rc -> readiness.check().onSuccess(result -> {
      boolean up = "up".equals(result.getString("status"));
      if (up != lastReady) {
        // Said when it changes, not on every probe: a load balancer asks every second.
        if (up) {
          log.info("ready again");
        } else {
          log.warn("not ready: {}", result.getJsonArray("failed").encode());
        }
        lastReady = up;
      }
      rc.response().setStatusCode(up ? 200 : 503);
      rc.json(result);
    }));
    router.get("/metrics").handler(PrometheusScrapingHandler.create(config.getString(Config.NODE_NAME)));
    router.get("/openapi.yaml").handler(rc -> rc.response().putHeader("Content-Type", "application/yaml").end(spec.yaml()));
    router.get("/docs").handler(rc -> rc.response().putHeader("Content-Type", "text/html; charset=utf-8").end(docs));

    MeterRegistry registry = BackendRegistries.getNow(config.getString(Config.NODE_NAME));
    Authentication authentication = new Authentication(vertx, Jwt.auth(vertx, config), config.getInteger(Config.BUS_TIMEOUT_MS), registry);
    RedisAPI redis = RedisStore.client(vertx, config);
    RateLimiter limiter = new RateLimiter(vertx, redis, Dependency.redis(vertx, config, redis), registry);
    new ApiRoutes(vertx, router, spec, authentication, limiter, config.getInteger(Config.RATE_LIMIT_AUTH_PER_MINUTE),
      config.getInteger(Config.RATE_LIMIT_USER_PER_MINUTE), config.getInteger(Config.RATE_LIMIT_PUBLIC_PER_MINUTE),
      config.getInteger(Config.BUS_TIMEOUT_MS)).mount();
    new EventBusBridge(vertx, config, redis, Dependency.redis(vertx, config, redis), registry)
      .mount(router, spec, authentication, limiter.perUser("api", config.getInteger(Config.RATE_LIMIT_USER_PER_MINUTE)));
    Dashboard.mount(router);
    Handler<RoutingContext> retailLimit = limiter.perClientIp("retail", config.getInteger(Config.RATE_LIMIT_RETAIL_PER_MINUTE));
    RetailContract retail = new RetailContract(vertx, config.getInteger(Config.BUS_TIMEOUT_MS));
    if (config.getBoolean(Config.RETAIL_REQUIRE_TOKEN)) {
      retail.mount(router, retailLimit, authentication);
    } else {
      retail.mount(router, retailLimit);
    }

    for (int status : new int[] {400, 401, 403, 404, 405, 413, 415, 503}) {
      router.errorHandler(status, rc -> Problem.send(rc, status, detail(rc, status)));
    }
    router.errorHandler(500, rc -> {
      log.error("request failed", rc.failure());
      Problem.send(rc, 500, null);
    });

    List<String> undescribed = spec.undescribed(ApiRoutes.served(router));
    if (!undescribed.isEmpty()) {
      return Future.failedFuture(new IllegalStateException("routes missing from openapi.yaml: " + undescribed));
    }

    server = vertx.createHttpServer(new HttpServerOptions()
      .setHost(config.getString(Config.HTTP_HOST))
      .setPort(config.getInteger(Config.HTTP_PORT))
      .setIdleTimeout(config.getInteger(Config.HTTP_IDLE_TIMEOUT_MS))
      .setReadIdleTimeout(config.getInteger(Config.HTTP_READ_TIMEOUT_MS))
      .setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
      .setCompressionSupported(true));
    return server
      .invalidRequestHandler(HttpVerticle::invalidRequest)
      .requestHandler(router)
      .listen();
  }

  /** Stops accepting connections and lets in-flight requests finish, up to SHUTDOWN_GRACE_MS. */
  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture()
      : server.shutdown(config().getInteger(Config.SHUTDOWN_GRACE_MS), TimeUnit.MILLISECONDS);
  }

  private static String detail(RoutingContext rc, int status) {
    switch (status) {
      case 404: return "no route for " + rc.request().method() + " " + rc.request().path();
      case 405: return rc.request().method() + " is not allowed on " + rc.request().path();
      case 413: return "the body is larger than the limit";
      case 415: return "send the body as application/json";
      case 503: return "try again shortly";
      default: return null;
    }
  }

  /**
   * What Netty could not parse (a URI or headers over the limits, a broken request line) never
   * reaches the router: it still gets a problem body, and says the connection closes.
   */
  private static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    int status = cause instanceof TooLongHttpLineException ? 414 : cause instanceof TooLongHttpHeaderException ? 431 : 400;
    String detail = switch (status) {
      case 414 -> "the request line is longer than the server accepts";
      case 431 -> "the request headers are larger than the server accepts";
      default -> "the request is not valid HTTP/1.1";
    };
    String requestId = RequestContext.acceptOrCreate(null);
    request.response().setStatusCode(status)
      .putHeader("Content-Type", "application/problem+json")
      .putHeader("Connection", "close")
      .putHeader("X-Request-Id", requestId)
      .end(Problem.text(status, "", requestId, detail))
      .onComplete(ignored -> request.connection().close());
  }

  private static void assignRequestId(RoutingContext rc) {
    String requestId = RequestContext.acceptOrCreate(rc.request().getHeader("X-Request-Id"));
    RequestContext.bindRequestId(requestId);
    rc.response().putHeader("X-Request-Id", requestId);
    rc.next();
  }
}
