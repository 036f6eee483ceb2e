package verticles.http;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.RequestContext;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The /api/v1 routes: each one is looked up in the OpenAPI document (so no route can exist
 * undescribed), validated against it, and forwarded to its owner over the bus.
 */
final class ApiRoutes {

  /**
   * Who may call a route: anyone (limited per client IP; ANONYMOUS for the routes that take
   * passwords, PUBLIC for reads), or an authenticated user (limited per user).
   */
  private enum Access { ANONYMOUS, PUBLIC, AUTHENTICATED, SELF }

  /** One operation of the document and the bus address that serves it; {@code status} is its usual success. */
  private record Endpoint(HttpMethod method, String path, String address, int status, Access access, boolean versioned) {
    Endpoint(HttpMethod method, String path, String address, int status, Access access) {
      this(method, path, address, status, access, false);
    }

    boolean literal() {
      return !path.contains("{");
    }
  }

  private static final List<Endpoint> ENDPOINTS = List.of(
    new Endpoint(HttpMethod.POST, "/api/v1/auth/register", Addresses.Identity.REGISTER, 201, Access.ANONYMOUS),
    new Endpoint(HttpMethod.POST, "/api/v1/auth/login", Addresses.Identity.LOGIN, 200, Access.ANONYMOUS),
    new Endpoint(HttpMethod.GET, "/api/v1/me", Addresses.Identity.GET, 200, Access.SELF),
    new Endpoint(HttpMethod.GET, "/api/v1/users", Addresses.Identity.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/users/{id}", Addresses.Identity.GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.PUT, "/api/v1/users/{id}", Addresses.Identity.UPDATE, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.DELETE, "/api/v1/users/{id}", Addresses.Identity.DELETE, 204, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/audit-logs", Addresses.Audit.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/transactions/credit", Addresses.Ledger.CREDIT, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/transactions/debit", Addresses.Ledger.DEBIT, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/transactions/transfer", Addresses.Ledger.TRANSFER, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/transactions/history", Addresses.Ledger.HISTORY, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/transactions/{id}", Addresses.Ledger.GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/transactions/{id}/reverse", Addresses.Ledger.REVERSE, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/balances/current", Addresses.Ledger.BALANCES_CURRENT, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/balances/historical", Addresses.Ledger.BALANCES_HISTORICAL, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/balances/at-time", Addresses.Ledger.BALANCES_AT_TIME, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks", Addresses.Tasks.SUBMIT, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks/batch", Addresses.Tasks.SUBMIT_BATCH, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/tasks", Addresses.Tasks.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/tasks/{id}", Addresses.Tasks.GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks/{id}/cancel", Addresses.Tasks.CANCEL, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks/{id}/retry", Addresses.Tasks.RETRY, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/tasks/{id}/attempts", Addresses.Tasks.ATTEMPTS, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/tasks/dead-groups", Addresses.Tasks.DEAD_GROUPS, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks/bulk/dry-run", Addresses.Tasks.BULK_COUNT, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/tasks/bulk", Addresses.Tasks.BULK, 202, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/tasks/bulk/{id}", Addresses.Tasks.BULK_GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/schedules/{id}/run", Addresses.Schedules.RUN, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/nodes", Addresses.Nodes.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/stats", Addresses.Nodes.STATS, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/schedules", Addresses.Schedules.CREATE, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/schedules", Addresses.Schedules.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/schedules/{id}", Addresses.Schedules.GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.PATCH, "/api/v1/schedules/{id}", Addresses.Schedules.UPDATE, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.DELETE, "/api/v1/schedules/{id}", Addresses.Schedules.DELETE, 204, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/queues", Addresses.Queues.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.PATCH, "/api/v1/queues/{name}", Addresses.Queues.UPDATE, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/jobs", Addresses.Jobs.SUBMIT, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/jobs", Addresses.Jobs.LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/jobs/{id}", Addresses.Jobs.GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/stores/import", Addresses.Jobs.IMPORT_STORES, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/products", Addresses.Catalog.CREATE, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/products", Addresses.Catalog.LIST, 200, Access.PUBLIC),
    new Endpoint(HttpMethod.GET, "/api/v1/products/{id}", Addresses.Catalog.GET, 200, Access.PUBLIC, true),
    new Endpoint(HttpMethod.PUT, "/api/v1/products/{id}", Addresses.Catalog.UPDATE, 200, Access.AUTHENTICATED, true),
    new Endpoint(HttpMethod.DELETE, "/api/v1/products/{id}", Addresses.Catalog.DELETE, 204, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/orders", Addresses.Catalog.ORDER, 201, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/orders", Addresses.Catalog.ORDER_LIST, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.GET, "/api/v1/orders/{id}", Addresses.Catalog.ORDER_GET, 200, Access.AUTHENTICATED),
    new Endpoint(HttpMethod.POST, "/api/v1/orders/{id}/refund", Addresses.Catalog.ORDER_REFUND, 200, Access.AUTHENTICATED));

  private static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  /** Where the areas' names start: the segment after it names a path's area. */
  private static final String AREAS = "/api/v1/";

  private final Vertx vertx;
  private final Router router;
  private final Map<String, Router> areas = new LinkedHashMap<>();
  private final ApiSpec spec;
  private final Authentication authentication;
  private final RateLimiter limiter;
  private final int authPerMinute;
  private final int userPerMinute;
  private final int publicPerMinute;
  private final long timeoutMs;

  ApiRoutes(Vertx vertx, Router router, ApiSpec spec, Authentication authentication, RateLimiter limiter,
            int authPerMinute, int userPerMinute, int publicPerMinute, long timeoutMs) {
    this.vertx = vertx;
    this.router = router;
    this.spec = spec;
    this.authentication = authentication;
    this.limiter = limiter;
    this.authPerMinute = authPerMinute;
    this.userPerMinute = userPerMinute;
    this.publicPerMinute = publicPerMinute;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Each area ({@code /api/v1/products}, {@code /api/v1/tasks}, …) has a sub-router of its own:
   * a router tries its routes one by one, and a product read that passed all ninety before its
   * own spent about 3 µs (a tenth of its CPU) doing it; now it passes the areas, then its area's
   * few routes. Within an area, literal paths are mounted first, each followed by a 405 for the
   * methods it does not serve; then the paths with parameters. So
   * {@code GET /api/v1/transactions/credit} is a 405 (credit is POST only), not a 400 for a
   * transaction id that is not a number.
   */
  void mount() {
    Map<String, Set<String>> literal = new LinkedHashMap<>();
    ENDPOINTS.stream().filter(Endpoint::literal)
      .forEach(endpoint -> literal.computeIfAbsent(endpoint.path(), p -> new TreeSet<>()).add(endpoint.method().name()));
    ENDPOINTS.stream().filter(Endpoint::literal).forEach(this::mount);
    literal.forEach((path, methods) -> area(path).route(inArea(path)).handler(rc -> {
      rc.response().putHeader("Allow", String.join(", ", methods));
      Problem.send(rc, 405, rc.request().method() + " is not allowed on " + path + "; use " + String.join(" or ", methods));
    }));
    ENDPOINTS.stream().filter(endpoint -> !endpoint.literal()).forEach(this::mount);
  }

  /** The sub-router of a path's area, mounted on first use. */
  private Router area(String path) {
    return areas.computeIfAbsent(areaOf(path), prefix -> {
      Router area = Router.router(vertx);
      router.route(prefix + "*").subRouter(area);
      return area;
    });
  }

  /** A path's area: {@code /api/v1/products} for {@code /api/v1/products/{id}}. */
  private static String areaOf(String path) {
    int end = path.indexOf('/', AREAS.length());
    return end < 0 ? path : path.substring(0, end);
  }

  /** A path as its area's sub-router sees it: without the area's prefix. */
  private static String inArea(String path) {
    String rest = path.substring(areaOf(path).length());
    return rest.isEmpty() ? "/" : rest;
  }

  private void mount(Endpoint endpoint) {
    String method = endpoint.method().name();
    Handler<RoutingContext> validation = spec.validation(method, endpoint.path());
    Handler<RoutingContext> forward = forward(endpoint);
    switch (endpoint.access()) {
      case ANONYMOUS -> route(endpoint, limiter.perClientIp(endpoint.address(), authPerMinute), validation, forward);
      case PUBLIC -> route(endpoint, limiter.perClientIp("public", publicPerMinute), validation, forward);
      case AUTHENTICATED -> route(endpoint, authentication, limiter.perUser("api", userPerMinute), validation, forward);
      case SELF -> route(endpoint, authentication, limiter.perUser("api", userPerMinute), validation, rc -> {
        rc.put(ApiSpec.PARAMS, new JsonObject().put("id", RequestContext.caller().userId()));
        rc.next();
      }, forward);
    }
  }

  @SafeVarargs
  private void route(Endpoint endpoint, Handler<RoutingContext>... handlers) {
    spec.operation(endpoint.method().name(), endpoint.path());
    Route route = area(endpoint.path()).route(endpoint.method(), inArea(endpoint.path()).replaceAll("\\{(\\w+)}", ":$1"));
    for (Handler<RoutingContext> handler : handlers) {
      route.handler(handler);
    }
  }

  /**
   * The bus message is the validated body merged with the validated parameters; the
   * Idempotency-Key header travels as a delivery header, like the caller. A null reply means 204;
   * bytes (a service's {@code VersionedJson}) go out as they are, with their version's ETag.
   */
  private Handler<RoutingContext> forward(Endpoint endpoint) {
    String address = endpoint.address();
    int status = endpoint.status();
    return rc -> {
      JsonObject message = new JsonObject();
      JsonObject body = rc.get(ApiSpec.BODY);
      if (body != null) {
        message.mergeIn(body);
      }
      JsonObject params = rc.get(ApiSpec.PARAMS);
      DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs);
      Object key = params.remove(IDEMPOTENCY_KEY);
      if (key != null) {
        options.addHeader(BusHeaders.IDEMPOTENCY_KEY, key.toString());
      }
      message.mergeIn(params);
      if (endpoint.versioned() && !Versions.expected(rc, message)) {
        return;
      }
      Bus.request(vertx, address, message, options)
        .onSuccess(reply -> {
          if (Problem.answered(rc)) {
            return;
          }
          Object answer = reply.body();
          if (answer == null) {
            rc.response().setStatusCode(204).end();
          } else if (answer instanceof Buffer json) {  // a VersionedJson, already encoded
            if (!Versions.notModified(rc, reply.headers().get(BusHeaders.VERSION))) {
              rc.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(json);
            }
          } else {
            JsonObject object = answer instanceof JsonObject json ? json : null;  // else an array: nothing to look into
            Object version = object == null ? null : object.getValue("version");
            if (!endpoint.versioned() || !Versions.notModified(rc, version == null ? null : version.toString())) {
              rc.response().setStatusCode(status == 201 && object != null && nothingNew(object) ? 200 : status);
              rc.json(answer);
            }
          }
        })
        .onFailure(error -> Problem.fail(rc, error));
    };
  }

  /**
   * A creating route answers 200 instead of 201 when the service says it made nothing new: the
   * answer is a replay ({@code replayed: true}), or a batch whose every item is.
   */
  static boolean nothingNew(JsonObject reply) {
    if (reply.getBoolean("replayed", false)) {
      return true;
    }
    JsonArray items = reply.getValue("items") instanceof JsonArray array ? array : null;
    return items != null && !items.isEmpty()
      && items.stream().allMatch(item -> item instanceof JsonObject json && json.getBoolean("replayed", false));
  }

  /** Every method and path the router (and its areas' sub-routers) serves, in the document's {id} form. */
  static List<String> served(Router router) {
    List<String> served = new ArrayList<>();
    served(router, "", served);
    return served.stream().sorted(Comparator.naturalOrder()).collect(Collectors.toList());
  }

  private static void served(Router router, String prefix, List<String> served) {
    for (Route route : router.getRoutes()) {
      if (route.getSubRouter() != null && route.getPath().startsWith(AREAS)) {  // (not SockJS's: the bridge is not REST)
        served(route.getSubRouter(), prefix + route.getPath().replaceAll("\\*$", ""), served);
      }
      if (route.getPath() == null || route.methods() == null) {
        continue;
      }
      String path = prefix + route.getPath().replaceAll(":(\\w+)", "{$1}");
      for (HttpMethod method : route.methods()) {
        served.add(method.name() + " " + (path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path));
      }
    }
  }
}
