package verticles.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.bridge.BridgeEventType;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.sockjs.BridgeEvent;
import io.vertx.ext.web.handler.sockjs.SockJSBridgeOptions;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;
import io.vertx.ext.web.handler.sockjs.SockJSHandlerOptions;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;
import io.vertx.redis.client.RedisAPI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.common.Failure;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static net.logstash.logback.argument.StructuredArguments.kv;

/**
 * The SockJS event-bus bridge at {@code /eventbus}: browsers (and any SockJS client, such as the
 * official vertx-eventbus.js) receive their own pushes, and send nothing.
 *
 * <p><b>Who a socket is.</b> Tokens never travel in URLs (a query string lands in access logs and
 * trace attributes), and a browser cannot put headers on a WebSocket handshake. So an
 * authenticated {@code POST /api/v1/bridge/ticket} gives a one-time ticket ({@link BridgeTickets}:
 * random, 30 s, kept in Redis only as its SHA-256, redeemed with GETDEL), and the socket's first {@code register} frame
 * carries it in the frame's headers ({@code {"ticket": "..."}}). The socket then is that user,
 * with the role and token version the identity service confirms, until the token the ticket was
 * issued for expires: then the socket is told and closed.
 *
 * <p><b>What it may do.</b> Outbound, a socket may register only {@code events.user.<its own id>},
 * and admins {@code events.admin} too (the bridge's static permits allow the address patterns; the
 * REGISTER event checks the id and role). Inbound (send, publish): nothing; no client address is
 * needed yet, so there is no identity to stamp on anything. Once a registration is in place the
 * socket hears {@code {"type": "bridge.registered"}} on that address (the protocol has no
 * acknowledgement of its own), so a client knows from when on it misses nothing. Every refusal is logged and counted
 * ({@code pulse_bridge_refused_total{event,reason}}); a register refusal also comes back as an
 * error addressed to that address, so the client's handler hears why.
 *
 * <p><b>Revocation.</b> When a user is changed or deleted the identity service says so on
 * {@code identity.changed}; the sockets of that user ask it again at once, and a user no longer
 * active, a changed token version (password, status) or a changed role closes the socket. The
 * same check runs every 30 s for every socket, for a change whose notice was missed.
 *
 * <p><b>Load.</b> A socket is sent at most {@link #MOST_PER_SECOND} messages a second; beyond that
 * they are dropped (counted), and once a second the socket hears how many, so a page re-reads
 * what it shows instead of drowning (pushes are for watchers: a publish can be missed anyway).
 */
final class EventBusBridge {

  private static final Logger log = LoggerFactory.getLogger(EventBusBridge.class);

  static final String PATH = "/eventbus";
  static final int MOST_PER_SECOND = 200;
  private static final long RECHECK_MS = 30_000;
  private static final String USER_ADDRESS = "events\\.user\\.[0-9]{1,19}";
  private static final Map<MeterRegistry, AtomicInteger> OPEN = new ConcurrentHashMap<>();

  /** One socket's state. */
  private static final class Session {
    final SockJSSocket socket;
    Future<BridgeTickets.Identity> identity;
    final Set<String> registered = new HashSet<>();
    long expiryTimer = -1;
    long second;
    int sentThisSecond;
    long dropped;
    boolean closing;

    Session(SockJSSocket socket) {
      this.socket = socket;
    }
  }

  private final Vertx vertx;
  private final BridgeTickets tickets;
  private final MeterRegistry registry;
  private final String publicOrigin;
  private final Set<String> corsOrigins;
  private final Map<SockJSSocket, Session> sessions = new ConcurrentHashMap<>();
  private final AtomicInteger open;

  EventBusBridge(Vertx vertx, JsonObject config, RedisAPI redis, Dependency redisState, MeterRegistry registry) {
    this.vertx = vertx;
    this.tickets = new BridgeTickets(vertx, redis, redisState, config.getInteger(Config.BUS_TIMEOUT_MS));
    this.registry = registry;
    this.publicOrigin = config.getString(Config.PUBLIC_ORIGIN, "");
    this.corsOrigins = new HashSet<>(Config.list(config.getString(Config.CORS_ORIGINS)));
    this.open = OPEN.computeIfAbsent(registry, r -> {
      AtomicInteger count = new AtomicInteger();
      Gauge.builder("pulse.bridge.sockets", count, AtomicInteger::get).description("open event-bus bridge sockets").register(r);
      return count;
    });
  }

  /**
   * The ticket route (authenticated and limited like the API, described in the document) and the
   * bridge itself: an origin check, a body handler (the XHR fallbacks post their frames), SockJS.
   */
  void mount(Router router, ApiSpec spec, Handler<RoutingContext> authentication, Handler<RoutingContext> userLimit) {
    String ticketPath = BridgeTickets.PATH;
    spec.operation("POST", ticketPath);
    router.post(ticketPath).handler(authentication).handler(userLimit).handler(spec.validation("POST", ticketPath))
      .handler(tickets::issue);
    router.route(ticketPath).handler(rc -> {
      rc.response().putHeader("Allow", "POST");
      Problem.send(rc, 405, rc.request().method() + " is not allowed on " + ticketPath + "; use POST");
    });

    SockJSHandlerOptions options = new SockJSHandlerOptions().setRegisterWriteHandler(false).setInsertJSESSIONID(false);
    if (!publicOrigin.isEmpty()) {
      options.setOrigin(publicOrigin);
    }
    SockJSBridgeOptions bridge = new SockJSBridgeOptions()
      .addOutboundPermitted(new PermittedOptions().setAddressRegex(USER_ADDRESS))
      .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.Events.ADMIN))
      .setMaxHandlersPerSocket(4)
      .setMaxAddressLength(64);
    router.route(PATH + "/*").handler(this::checkOrigin);
    router.route(PATH + "/*").handler(BodyHandler.create(false).setBodyLimit(64 * 1024));
    router.route(PATH + "/*").subRouter(SockJSHandler.create(vertx, options).bridge(bridge, this::handle));

    vertx.eventBus().<JsonObject>consumer(Addresses.Identity.CHANGED, message -> recheck(message.body().getLong("user_id")));
    vertx.setPeriodic(RECHECK_MS, ignored -> recheckAll());
    vertx.setPeriodic(1000, ignored -> tellDropped());
  }

  // ---- bridge events ----

  private void handle(BridgeEvent event) {
    SockJSSocket socket = event.socket();
    BridgeEventType type = event.type();
    switch (type) {
      case SOCKET_CREATED -> {
        sessions.put(socket, new Session(socket));
        open.incrementAndGet();
        event.complete(true);
      }
      case SOCKET_CLOSED -> {
        Session session = sessions.remove(socket);
        if (session != null) {
          open.decrementAndGet();
          if (session.expiryTimer >= 0) {
            vertx.cancelTimer(session.expiryTimer);
          }
        }
        event.complete(true);
      }
      case REGISTER -> register(event, sessions.computeIfAbsent(socket, Session::new));
      case REGISTERED -> {
        // The registration is in place (cluster-wide): the client may rely on it from now on.
        String address = address(event);
        socket.write(Buffer.buffer(new JsonObject().put("type", "rec").put("address", address)
          .put("body", new JsonObject().put("type", "bridge.registered").put("address", address)).encode()));
        event.complete(true);
      }
      case RECEIVE -> {
        Session session = sessions.get(socket);
        event.complete(session != null && mayDeliver(session));
      }
      case SEND, PUBLISH -> refuse(event, sessions.computeIfAbsent(socket, Session::new), address(event), "inbound_not_allowed");
      default -> event.complete(true);  // ping, idle, unregister, socket error: the bridge's own handling
    }
  }

  private static String address(BridgeEvent event) {
    JsonObject raw = event.getRawMessage();
    return raw == null ? null : raw.getString("address");
  }

  /** A register is allowed for the socket's own user address, or events.admin for an admin; the first one redeems the ticket. */
  private void register(BridgeEvent event, Session session) {
    String address = address(event);
    JsonObject raw = event.getRawMessage();
    if (session.identity == null) {
      JsonObject headers = raw.getValue("headers") instanceof JsonObject given ? given : new JsonObject();
      Object ticket = headers.getValue(BridgeTickets.HEADER);
      session.identity = tickets.redeem(ticket instanceof String text ? text : null).onSuccess(identity -> expireAt(session, identity));
    }
    session.identity.onComplete(result -> {
      if (result.failed()) {
        String reason = result.cause().getMessage();
        refuse(event, session, address, reason);
        closeSoon(session, reason);
        return;
      }
      BridgeTickets.Identity identity = result.result();
      boolean own = Addresses.Events.user(identity.userId()).equals(address);
      boolean admin = Addresses.Events.ADMIN.equals(address) && identity.admin();
      if (own || admin) {
        session.registered.add(address);
        event.complete(true);
      } else {
        refuse(event, session, address, identity.admin() || !Addresses.Events.ADMIN.equals(address) ? "not_your_address" : "admins_only");
      }
    });
  }

  /** The socket closes when the token its ticket came from expires. */
  private void expireAt(Session session, BridgeTickets.Identity identity) {
    long delay = identity.expiresAtMs() - System.currentTimeMillis();
    session.expiryTimer = vertx.setTimer(Math.max(1, delay), ignored -> close(session, "token_expired"));
  }

  private boolean mayDeliver(Session session) {
    if (session.closing || session.identity == null || !session.identity.succeeded()) {
      return false;
    }
    long second = System.currentTimeMillis() / 1000;
    if (second != session.second) {
      session.second = second;
      session.sentThisSecond = 0;
    }
    if (++session.sentThisSecond > MOST_PER_SECOND) {
      session.dropped++;
      Counter.builder("pulse.bridge.dropped").description("pushes not sent: a socket's per-second budget was spent")
        .register(registry).increment();
      return false;
    }
    return true;
  }

  /** Tells each socket that missed pushes in the last second how many, so its page re-reads. */
  private void tellDropped() {
    for (Session session : sessions.values()) {
      if (session.dropped > 0 && session.identity != null && session.identity.succeeded()) {
        long dropped = session.dropped;
        session.dropped = 0;
        write(session, new JsonObject().put("type", "events.dropped").put("count", dropped));
      }
    }
  }

  /** Writes a push of our own to the socket's user address (if it registered it). */
  private void write(Session session, JsonObject body) {
    BridgeTickets.Identity identity = session.identity.result();
    String address = Addresses.Events.user(identity.userId());
    if (session.registered.contains(address)) {
      session.socket.write(Buffer.buffer(new JsonObject().put("type", "rec").put("address", address).put("body", body).encode()));
    }
  }

  private void refuse(BridgeEvent event, Session session, String address, String reason) {
    BridgeTickets.Identity identity = session.identity != null && session.identity.succeeded() ? session.identity.result() : null;
    String kind = event.type().name().toLowerCase();
    log.warn("bridge refused {} {} {} {} {}", kv("event", kind), kv("address", address), kv("reason", reason),
      kv("user_id", identity == null ? null : identity.userId()), kv("remote", String.valueOf(session.socket.remoteAddress())));
    Counter.builder("pulse.bridge.refused").description("bridge frames and requests refused").tag("event", kind).tag("reason", reason)
      .register(registry).increment();
    if (address != null && event.type() == BridgeEventType.REGISTER) {
      int code = reason.equals("not_your_address") || reason.equals("admins_only") ? 403 : reason.equals("unavailable") ? 503 : 401;
      session.socket.write(Buffer.buffer(new JsonObject().put("type", "err").put("address", address).put("failureCode", code)
        .put("failureType", "RECIPIENT_FAILURE").put("message", reason).encode()));
    }
    event.complete(false);
  }

  // ---- revocation ----

  private void recheck(Long userId) {
    if (userId == null) {
      return;
    }
    for (Session session : sessions.values()) {
      if (session.identity != null && session.identity.succeeded() && session.identity.result().userId() == userId) {
        recheck(session);
      }
    }
  }

  private void recheckAll() {
    sessions.values().forEach(this::recheck);
  }

  /** Asks the identity service again; a user no longer active, another token version or another role ends the socket. */
  private void recheck(Session session) {
    if (session.closing || session.identity == null || !session.identity.succeeded()) {
      return;
    }
    BridgeTickets.Identity identity = session.identity.result();
    tickets.principal(identity.userId(), identity.tokenVersion()).onComplete(result -> {
      if (result.succeeded() && !result.result().equals(identity.role())) {
        close(session, "role_changed");
      } else if (result.failed() && Failure.of(result.cause()) == Failure.UNAUTHORIZED) {
        close(session, "revoked");
      }
      // Unavailable: the identity service cannot say now; the next check will.
    });
  }

  private void closeSoon(Session session, String reason) {
    if (!session.closing) {
      session.closing = true;
      vertx.setTimer(100, ignored -> session.socket.close());
      log.info("bridge socket closed {} {}", kv("reason", reason), kv("remote", String.valueOf(session.socket.remoteAddress())));
    }
  }

  /** Tells the socket why (on its user address), then closes it: its registrations end, nothing more is delivered. */
  private void close(Session session, String reason) {
    if (session.closing) {
      return;
    }
    write(session, new JsonObject().put("type", "session.closed").put("reason", reason));
    Counter.builder("pulse.bridge.closed").description("bridge sockets closed by the server").tag("reason", reason)
      .register(registry).increment();
    closeSoon(session, reason);
  }

  // ---- origin ----

  /**
   * A browser's request (it carries Origin) must come from PUBLIC_ORIGIN when that is set, or else
   * from the origin it addresses (its Host) or one of CORS_ORIGINS. Other clients send no Origin
   * and cannot carry a browser's ambient credentials; they still need a ticket.
   */
  private void checkOrigin(RoutingContext rc) {
    String origin = rc.request().getHeader("Origin");
    boolean allowed;
    if (!publicOrigin.isEmpty()) {
      allowed = origin == null || publicOrigin.equals(origin);
    } else {
      String scheme = rc.request().isSSL() || "https".equalsIgnoreCase(rc.request().getHeader("X-Forwarded-Proto")) ? "https" : "http";
      String host = rc.request().getHeader("Host");
      allowed = origin == null || (scheme + "://" + host).equalsIgnoreCase(origin) || corsOrigins.contains(origin);
    }
    if (allowed) {
      rc.next();
      return;
    }
    log.warn("bridge refused {} {} {}", kv("event", "connect"), kv("reason", "origin"), kv("origin", origin));
    Counter.builder("pulse.bridge.refused").description("bridge frames and requests refused").tag("event", "connect").tag("reason", "origin")
      .register(registry).increment();
    Problem.send(rc, 403, "the event bus takes connections from this site's own pages only");
  }
}
