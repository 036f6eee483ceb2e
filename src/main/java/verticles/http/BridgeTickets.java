package verticles.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.redis.client.RedisAPI;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Caller;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.RequestContext;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The tickets that open a bridge socket (see EventBusBridge): issued to an authenticated caller
 * at {@code POST /api/v1/bridge/ticket}, random, kept in Redis only as their SHA-256, good once
 * (GETDEL) within {@link #TTL_MS}; and the identity service's word on who a ticket's user is now.
 */
final class BridgeTickets {

  static final String PATH = "/api/v1/bridge/ticket";
  /** The register frame's header that carries the ticket. */
  static final String HEADER = "ticket";
  static final long TTL_MS = 30_000;
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Who a socket is, once its ticket is redeemed. */
  record Identity(long userId, String role, int tokenVersion, long expiresAtMs) {
    boolean admin() {
      return Caller.ADMIN.equals(role);
    }
  }

  private final Vertx vertx;
  private final RedisAPI redis;
  private final Dependency redisState;
  private final long timeoutMs;

  BridgeTickets(Vertx vertx, RedisAPI redis, Dependency redisState, long timeoutMs) {
    this.vertx = vertx;
    this.redis = redis;
    this.redisState = redisState;
    this.timeoutMs = timeoutMs;
  }

  /**
   * A ticket for the caller, good once within {@link #TTL_MS}; the socket it opens lives
   * until the token used here expires. The answer says which addresses the socket may register.
   */
  void issue(RoutingContext rc) {
    Caller caller = RequestContext.caller();
    JsonObject claims = rc.get(Authentication.CLAIMS);
    byte[] random = new byte[32];
    RANDOM.nextBytes(random);
    String ticket = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    long expiresAtMs = claims.getLong("exp", 0L) * 1000;
    JsonObject stored = new JsonObject().put("user_id", caller.userId()).put("token_version", claims.getInteger("tv", -1))
      .put("expires_at_ms", expiresAtMs);
    redis.set(List.of(key(ticket), stored.encode(), "PX", String.valueOf(TTL_MS), "NX"))
      .timeout(timeoutMs, TimeUnit.MILLISECONDS)
      .onSuccess(ignored -> {
        redisState.answered();
        if (Problem.answered(rc)) {
          return;
        }
        List<String> addresses = new ArrayList<>(List.of(Addresses.Events.user(caller.userId())));
        if (caller.isAdmin()) {
          addresses.add(Addresses.Events.ADMIN);
        }
        rc.response().setStatusCode(201).putHeader("Cache-Control", "no-store");
        rc.json(new JsonObject().put("ticket", ticket).put("expires_in_ms", TTL_MS).put("header", HEADER)
          .put("user_id", caller.userId()).put("addresses", addresses).put("socket_expires_at", java.time.Instant.ofEpochMilli(expiresAtMs).toString()));
      })
      .onFailure(error -> {
        redisState.failed(error);
        Problem.fail(rc, Failure.UNAVAILABLE.exception("tickets cannot be issued now"));
      });
  }

  /** The Redis key of a ticket: its SHA-256, so what Redis holds cannot be used as a ticket. */
  private static String key(String ticket) {
    try {
      return "bridge:ticket:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(ticket.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The ticket's user, once (GETDEL), confirmed active with the same token version by the identity service. */
  Future<Identity> redeem(String ticket) {
    if (ticket == null || ticket.length() > 100) {
      return Future.failedFuture(Failure.UNAUTHORIZED.exception("no_ticket"));
    }
    return redis.getdel(key(ticket)).timeout(timeoutMs, TimeUnit.MILLISECONDS)
      .recover(error -> {
        redisState.failed(error);
        return Future.failedFuture(Failure.UNAVAILABLE.exception("unavailable"));
      })
      .compose(found -> {
        if (found == null) {
          return Future.failedFuture(Failure.UNAUTHORIZED.exception("bad_ticket"));
        }
        JsonObject stored = new JsonObject(found.toString());
        if (stored.getLong("expires_at_ms") <= System.currentTimeMillis()) {
          return Future.failedFuture(Failure.UNAUTHORIZED.exception("token_expired"));
        }
        return principal(stored.getLong("user_id"), stored.getInteger("token_version"))
          .map(role -> new Identity(stored.getLong("user_id"), role, stored.getInteger("token_version"), stored.getLong("expires_at_ms")));
      });
  }

  /** The user's current role if they are active and the token version still holds; fails as unauthorized otherwise. */
  Future<String> principal(long userId, int tokenVersion) {
    return Bus.<JsonObject>request(vertx, Addresses.Identity.PRINCIPAL,
        new JsonObject().put("user_id", userId).put("token_version", tokenVersion), timeoutMs)
      .map(reply -> reply.body().getString("role"))
      .recover(error -> Future.failedFuture(Failure.of(error) == Failure.UNAVAILABLE ? Failure.UNAVAILABLE.exception("unavailable")
        : Failure.UNAUTHORIZED.exception("revoked")));
  }
}
