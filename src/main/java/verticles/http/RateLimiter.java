package verticles.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.Response;
import verticles.common.Caller;
import verticles.common.Dependency;
import verticles.common.LuaScript;
import verticles.common.RequestContext;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Fixed-window rate limits kept in Redis, so they hold across every HTTP instance of every
 * node. The count and the window's expiry are set in one Lua call (atomic). When Redis cannot
 * answer, the auth limits fail closed (503: no unlimited password guessing) and the per-user
 * limits fail open (the API stays up; the misses are counted, the outage logged once).
 */
final class RateLimiter {

  private static final long WINDOW_MS = 60_000;
  private static final LuaScript SCRIPT = new LuaScript(
    "local n = redis.call('INCR', KEYS[1]) "
      + "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
      + "return {n, redis.call('PTTL', KEYS[1])}");

  private final RedisAPI redis;
  private final Dependency dependency;
  private final Counter unavailable;

  RateLimiter(RedisAPI redis, Dependency dependency, MeterRegistry registry) {
    this.redis = redis;
    this.dependency = dependency;
    this.unavailable = Counter.builder("pulse.ratelimit.unavailable")
      .description("rate limit checks that Redis could not answer").register(registry);
  }

  /** Per client IP: for the auth endpoints. */
  Handler<RoutingContext> perClientIp(String bucket, int perMinute) {
    return rc -> check(rc, bucket + ":" + rc.request().remoteAddress().hostAddress(), perMinute, true);
  }

  /** Per authenticated user: for everything else (run after authentication). */
  Handler<RoutingContext> perUser(String bucket, int perMinute) {
    return rc -> {
      Caller caller = RequestContext.caller();
      check(rc, bucket + ":" + (caller == null ? "anonymous" : caller.userId()), perMinute, false);
    };
  }

  private void check(RoutingContext rc, String subject, int limit, boolean failClosed) {
    SCRIPT.run(redis, List.of("ratelimit:" + subject), List.of(String.valueOf(WINDOW_MS)))
      .timeout(1, TimeUnit.SECONDS)
      .onSuccess(reply -> {
        dependency.answered();
        long count = reply.get(0).toLong();
        Response ttlReply = reply.get(1);
        long resetSeconds = Math.max(1, (ttlReply.toLong() + 999) / 1000);
        rc.response()
          .putHeader("RateLimit-Limit", String.valueOf(limit))
          .putHeader("RateLimit-Remaining", String.valueOf(Math.max(0, limit - count)))
          .putHeader("RateLimit-Reset", String.valueOf(resetSeconds));
        if (count > limit) {
          rc.response().putHeader("Retry-After", String.valueOf(resetSeconds));
          Problem.send(rc, 429, "more than " + limit + " requests a minute; try again in " + resetSeconds + " s");
        } else {
          rc.next();
        }
      })
      .onFailure(error -> {
        dependency.failed(error);
        unmetered(rc, failClosed);
      });
  }

  /** Redis cannot count: the auth limits refuse (503), the others let the request through; counted, logged once per outage. */
  private void unmetered(RoutingContext rc, boolean failClosed) {
    unavailable.increment();
    if (failClosed) {
      Problem.send(rc, 503, "try again shortly");
    } else {
      rc.next();
    }
  }
}
