package verticles.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.RequestContext;
import verticles.common.ServiceReplies;

import java.util.ArrayList;
import java.util.List;

/**
 * The /api/v1 routes: each one is looked up in the OpenAPI document (so no route can exist
 * undescribed), validated against it, and forwarded to its owner over the bus.
 */
final class ApiRoutes {

  private final Vertx vertx;
  private final Router router;
  private final ApiSpec spec;
  private final Authentication authentication;
  private final RateLimiter limiter;
  private final int authPerMinute;
  private final int userPerMinute;
  private final long timeoutMs;

  ApiRoutes(Vertx vertx, Router router, ApiSpec spec, Authentication authentication, RateLimiter limiter,
            int authPerMinute, int userPerMinute, long timeoutMs) {
    this.vertx = vertx;
    this.router = router;
    this.spec = spec;
    this.authentication = authentication;
    this.limiter = limiter;
    this.authPerMinute = authPerMinute;
    this.userPerMinute = userPerMinute;
    this.timeoutMs = timeoutMs;
  }

  void mount() {
    anonymous(HttpMethod.POST, "/api/v1/auth/register", Addresses.Identity.REGISTER, 201);
    anonymous(HttpMethod.POST, "/api/v1/auth/login", Addresses.Identity.LOGIN, 200);
    route(HttpMethod.GET, "/api/v1/me", authentication, limiter.perUser("api", userPerMinute),
      spec.validation("GET", "/api/v1/me"), rc -> {
        rc.put(ApiSpec.PARAMS, new JsonObject().put("id", RequestContext.caller().userId));
        rc.next();
      }, forward(Addresses.Identity.GET, 200));
    authenticated(HttpMethod.GET, "/api/v1/users", Addresses.Identity.LIST, 200);
    authenticated(HttpMethod.GET, "/api/v1/users/{id}", Addresses.Identity.GET, 200);
    authenticated(HttpMethod.PUT, "/api/v1/users/{id}", Addresses.Identity.UPDATE, 200);
    authenticated(HttpMethod.DELETE, "/api/v1/users/{id}", Addresses.Identity.DELETE, 204);
    authenticated(HttpMethod.GET, "/api/v1/audit-logs", Addresses.Audit.LIST, 200);
    authenticated(HttpMethod.POST, "/api/v1/transactions/credit", Addresses.Ledger.CREDIT, 201);
    authenticated(HttpMethod.POST, "/api/v1/transactions/debit", Addresses.Ledger.DEBIT, 201);
    authenticated(HttpMethod.POST, "/api/v1/transactions/transfer", Addresses.Ledger.TRANSFER, 201);
    authenticated(HttpMethod.GET, "/api/v1/transactions/history", Addresses.Ledger.HISTORY, 200);
    authenticated(HttpMethod.GET, "/api/v1/transactions/{id}", Addresses.Ledger.GET, 200);
    authenticated(HttpMethod.POST, "/api/v1/transactions/{id}/reverse", Addresses.Ledger.REVERSE, 201);
    authenticated(HttpMethod.GET, "/api/v1/balances/current", Addresses.Ledger.BALANCES_CURRENT, 200);
    authenticated(HttpMethod.GET, "/api/v1/balances/historical", Addresses.Ledger.BALANCES_HISTORICAL, 200);
    authenticated(HttpMethod.GET, "/api/v1/balances/at-time", Addresses.Ledger.BALANCES_AT_TIME, 200);
    authenticated(HttpMethod.POST, "/api/v1/tasks", Addresses.Tasks.SUBMIT, 201);
    authenticated(HttpMethod.POST, "/api/v1/tasks/batch", Addresses.Tasks.SUBMIT_BATCH, 201);
    authenticated(HttpMethod.GET, "/api/v1/tasks", Addresses.Tasks.LIST, 200);
    authenticated(HttpMethod.GET, "/api/v1/tasks/{id}", Addresses.Tasks.GET, 200);
    authenticated(HttpMethod.POST, "/api/v1/tasks/{id}/cancel", Addresses.Tasks.CANCEL, 200);
    authenticated(HttpMethod.POST, "/api/v1/tasks/{id}/retry", Addresses.Tasks.RETRY, 200);
    authenticated(HttpMethod.POST, "/api/v1/schedules", Addresses.Schedules.CREATE, 201);
    authenticated(HttpMethod.GET, "/api/v1/schedules", Addresses.Schedules.LIST, 200);
    authenticated(HttpMethod.GET, "/api/v1/schedules/{id}", Addresses.Schedules.GET, 200);
    authenticated(HttpMethod.PATCH, "/api/v1/schedules/{id}", Addresses.Schedules.UPDATE, 200);
    authenticated(HttpMethod.DELETE, "/api/v1/schedules/{id}", Addresses.Schedules.DELETE, 204);
    authenticated(HttpMethod.GET, "/api/v1/queues", Addresses.Queues.LIST, 200);
    authenticated(HttpMethod.PATCH, "/api/v1/queues/{name}", Addresses.Queues.UPDATE, 200);
  }

  /** Public, limited per client IP and endpoint (these are the endpoints that take passwords). */
  private void anonymous(HttpMethod method, String path, String address, int status) {
    route(method, path, limiter.perClientIp(address, authPerMinute), spec.validation(method.name(), path), forward(address, status));
  }

  private void authenticated(HttpMethod method, String path, String address, int status) {
    route(method, path, authentication, limiter.perUser("api", userPerMinute), spec.validation(method.name(), path),
      forward(address, status));
  }

  @SafeVarargs
  private void route(HttpMethod method, String documentPath, Handler<RoutingContext>... handlers) {
    spec.operation(method.name(), documentPath);
    Route route = router.route(method, documentPath.replaceAll("\\{(\\w+)}", ":$1"));
    for (Handler<RoutingContext> handler : handlers) {
      route.handler(handler);
    }
  }

  /** The bus message is the validated body merged with the validated parameters. A null reply means 204. */
  private Handler<RoutingContext> forward(String address, int status) {
    return rc -> {
      JsonObject message = new JsonObject();
      JsonObject body = rc.get(ApiSpec.BODY);
      if (body != null) {
        message.mergeIn(body);
      }
      message.mergeIn(rc.get(ApiSpec.PARAMS));
      Bus.<JsonObject>request(vertx, address, message, timeoutMs)
        .onSuccess(reply -> {
          String override = reply.headers().get(ServiceReplies.STATUS_HEADER);
          if (reply.body() == null) {
            rc.response().setStatusCode(204).end();
          } else {
            rc.response().setStatusCode(override != null ? Integer.parseInt(override) : status);
            rc.json(reply.body());
          }
        })
        .onFailure(error -> Problem.fail(rc, error));
    };
  }

  /** Every method and path the router serves, in the document's {id} form (for the coverage test). */
  static List<String> served(Router router) {
    List<String> served = new ArrayList<>();
    for (Route route : router.getRoutes()) {
      if (route.getPath() == null || route.methods() == null) {
        continue;
      }
      for (HttpMethod method : route.methods()) {
        served.add(method.name() + " " + route.getPath().replaceAll(":(\\w+)", "{$1}"));
      }
    }
    return served;
  }
}
