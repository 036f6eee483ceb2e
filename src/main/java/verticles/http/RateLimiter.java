package verticles.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.ext.web.RoutingContext;
import io.vertx.redis.client.RedisAPI;
import verticles.common.Caller;
import verticles.common.Dependency;
import verticles.common.GroupCommit;
import verticles.common.LuaScript;
import verticles.common.RequestContext;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Fixed-window rate limits kept in Redis, so they hold across every HTTP instance of every
 * node. The checks that arrive while one count is on its way to Redis share the next one: one
 * Lua call adds each key's arrivals at once (INCRBY) and sets a new window's expiry, and each
 * request gets its own place in the count, in arrival order, so the limits stay exact while a
 * loaded instance makes one round trip per batch instead of one per request. When Redis cannot
 * answer, the auth limits fail closed (503: no unlimited password guessing) and the per-user
 * limits fail open (the API stays up; the misses are counted, the outage logged once).
 */
final class RateLimiter {

  private static final long WINDOW_MS = 60_000;
  private static final int MOST = 500;
  /** KEYS: the counters; ARGV: the window in ms, then each key's arrivals. Returns each key's count and ms left, in turn. */
  private static final LuaScript COUNT = new LuaScript("""
    local counts = {}
    for i, key in ipairs(KEYS) do
      local arrivals = tonumber(ARGV[i + 1])
      local n = redis.call('INCRBY', key, arrivals)
      if n == arrivals then redis.call('PEXPIRE', key, ARGV[1]) end
      counts[#counts + 1] = n
      counts[#counts + 1] = redis.call('PTTL', key)
    end
    return counts
    """);

  /** A request's place in its key's window, and the ms the window has left. */
  private record Counted(long count, long ttlMs) {
  }

  private final RedisAPI redis;
  private final Dependency dependency;
  private final Counter unavailable;
  private final GroupCommit<String, Counted> counts;

  RateLimiter(RedisAPI redis, Dependency dependency, MeterRegistry registry) {
    this.redis = redis;
    this.dependency = dependency;
    this.unavailable = Counter.builder("pulse.ratelimit.unavailable")
      .description("rate limit checks that Redis could not answer").register(registry);
    this.counts = new GroupCommit<>(MOST, GroupCommit.sizes(registry, "pulse.ratelimit.batch.size",
      "rate limit checks counted in one Redis call"), this::count);
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
    counts.add("ratelimit:" + subject)
      .onSuccess(counted -> {
        if (Problem.answered(rc)) {
          return;
        }
        long resetSeconds = Math.max(1, (counted.ttlMs() + 999) / 1000);
        rc.response()
          .putHeader("RateLimit-Limit", String.valueOf(limit))
          .putHeader("RateLimit-Remaining", String.valueOf(Math.max(0, limit - counted.count())))
          .putHeader("RateLimit-Reset", String.valueOf(resetSeconds));
        if (counted.count() > limit) {
          rc.response().putHeader("Retry-After", String.valueOf(resetSeconds));
          Problem.send(rc, 429, "more than " + limit + " requests a minute; try again in " + resetSeconds + " s");
        } else {
          rc.next();
        }
      })
      .onFailure(error -> unmetered(rc, failClosed));
  }

  /** One batch: each key's arrivals added at once; the k-th arrival of a key that ends at n is counted n - arrivals + k. */
  private Future<?> count(List<GroupCommit.Pending<String, Counted>> batch) {
    Map<String, List<Promise<Counted>>> byKey = new LinkedHashMap<>();
    batch.forEach(each -> byKey.computeIfAbsent(each.item(), key -> new ArrayList<>()).add(each.answer()));
    List<String> args = new ArrayList<>();
    args.add(String.valueOf(WINDOW_MS));
    byKey.values().forEach(arrivals -> args.add(String.valueOf(arrivals.size())));
    return COUNT.run(redis, List.copyOf(byKey.keySet()), args)
      .timeout(1, TimeUnit.SECONDS)
      .onSuccess(reply -> {
        dependency.answered();
        int i = 0;
        for (List<Promise<Counted>> arrivals : byKey.values()) {
          long last = reply.get(i).toLong();
          long ttlMs = reply.get(i + 1).toLong();
          for (int k = 0; k < arrivals.size(); k++) {
            arrivals.get(k).complete(new Counted(last - arrivals.size() + 1 + k, ttlMs));
          }
          i += 2;
        }
      })
      .onFailure(dependency::failed);
  }

  /** Redis cannot count: the auth limits refuse (503), the others let the request through; counted, logged once per outage. */
  private void unmetered(RoutingContext rc, boolean failClosed) {
    unavailable.increment();
    if (failClosed) {
      Problem.send(rc, 503, "try again shortly");
    } else if (!Problem.answered(rc)) {
      rc.next();
    }
  }
}
