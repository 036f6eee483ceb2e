package verticles.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.web.RoutingContext;
import verticles.common.Caller;
import verticles.common.UserLookups;
import verticles.common.Failure;
import verticles.common.RequestContext;

/**
 * Bearer tokens: the signature, algorithm, {@code exp}, {@code iss} and {@code aud} are
 * checked here; then the identity service confirms, on every request (many requests' questions
 * share one message: common.UserLookups), that the user is still active and the token not
 * revoked, and gives their current role (so a demotion or a deletion
 * takes effect on the next request, whatever the token says).
 */
final class Authentication implements Handler<RoutingContext> {

  /** Where the verified token's claims wait for later handlers (the bridge's ticket needs its {@code exp} and {@code tv}). */
  static final String CLAIMS = "pulse.token.claims";

  private final JWTAuth jwt;
  private final VerifiedTokens verified;
  private final UserLookups users;

  Authentication(Vertx vertx, JWTAuth jwt, long timeoutMs, MeterRegistry registry) {
    this.jwt = jwt;
    this.verified = new VerifiedTokens(registry);
    this.users = new UserLookups(vertx, timeoutMs, registry);
  }

  @Override
  public void handle(RoutingContext rc) {
    String header = rc.request().getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
      Problem.send(rc, 401, "send Authorization: Bearer <access_token>");
      return;
    }
    String token = header.substring(7).trim();
    verify(token)
      .compose(claims -> {
        rc.put(CLAIMS, claims);
        long userId = Long.parseLong(claims.getString("sub", "0"));
        int tokenVersion = claims.getInteger("tv", -1);
        return users.lookup(userId).compose(now -> now == null || !now.active() || now.tokenVersion() != tokenVersion
          ? Future.failedFuture(Failure.UNAUTHORIZED.exception("the token is no longer valid"))
          : Future.succeededFuture(new Caller(userId, now.role())));
      })
      .onSuccess(caller -> {
        if (Problem.answered(rc)) {
          return;
        }
        RequestContext.bindCaller(caller);
        rc.next();
      })
      .onFailure(error -> Problem.fail(rc, error));
  }

  /** The token's claims, once its signature, algorithm, exp, iss and aud are checked (or were, for this very token). */
  private Future<JsonObject> verify(String token) {
    JsonObject remembered = verified.claims(token, System.currentTimeMillis() / 1000);
    if (remembered != null) {
      return Future.succeededFuture(remembered);
    }
    return jwt.authenticate(new TokenCredentials(token))
      .map(user -> {
        JsonObject claims = user.attributes().getJsonObject("accessToken", user.principal());
        verified.verified(token, claims);
        return claims;
      })
      .recover(error -> Future.failedFuture(Failure.UNAUTHORIZED.exception("the token is invalid or expired")));
  }
}
