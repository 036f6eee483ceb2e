package verticles.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;
import io.vertx.redis.client.RedisAPI;
import verticles.common.Caller;
import verticles.common.Dependency;
import verticles.common.GroupCommit;
import verticles.common.LuaScript;
import verticles.common.RequestContext;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Fixed-window rate limits kept in Redis, so they hold across every HTTP instance of every
 * node. The checks that arrive while one count is on its way to Redis share the next one: one
 * Lua call adds each key's arrivals at once (INCRBY) and sets a new window's expiry, and each
 * request gets its own place in the count, in arrival order.
 *
 * <p>A key far from its limit also takes a few places ahead (a lease): the next requests of that
 * key on this instance take them in turn without asking Redis, each still with its own place in
 * the window's count. So a busy client costs one round trip per lease, not one per batch; a
 * lease doubles each time one is used up (at most {@link #LEASE_MOST} places) and is never more
 * than a {@link #LEASE_SHARE}th of what the window has left, so near the limit every request is
 * counted in Redis and a small limit (under {@link #LEASE_SHARE} + 1) never leases at all. No
 * more than the limit is ever let through; places leased and not used by the window's end are
 * lost (at most a {@link #LEASE_SHARE}th of what was left, per instance holding a lease).
 *
 * <p>When Redis cannot answer, the auth limits fail closed (503: no unlimited password guessing)
 * and the per-user limits fail open (the API stays up; the misses are counted, the outage
 * logged once); a lease still valid is used either way.
 */
final class RateLimiter {

  private static final long WINDOW_MS = 60_000;
  private static final int MOST = 500;
  private static final int LEASE_FIRST = 4;
  private static final int LEASE_MOST = 1024;
  private static final int LEASE_SHARE = 32;
  /**
   * KEYS: the counters; ARGV: the window in ms, the lease share, then for each key its
   * arrivals, its limit and the lease it would like. Returns for each key, in turn: its count
   * after the arrivals, the places leased after them, and the ms the window has left.
   */
  private static final LuaScript COUNT = new LuaScript("""
    local counts = {}
    for i, key in ipairs(KEYS) do
      local arrivals = tonumber(ARGV[3 * i])
      local limit = tonumber(ARGV[3 * i + 1])
      local wanted = tonumber(ARGV[3 * i + 2])
      local n = redis.call('INCRBY', key, arrivals)
      if n == arrivals then redis.call('PEXPIRE', key, ARGV[1]) end
      local leased = math.min(wanted, math.floor((limit - n) / tonumber(ARGV[2])))
      if leased > 0 then redis.call('INCRBY', key, leased) else leased = 0 end
      counts[#counts + 1] = n
      counts[#counts + 1] = leased
      counts[#counts + 1] = redis.call('PTTL', key)
    end
    return counts
    """);

  /** One request to count: its key and the key's limit. */
  private record Check(String key, int limit) {
  }

  /** A batch's requests for one key, in arrival order, and the key's limit. */
  private record Arrivals(int limit, List<Promise<Counted>> answers) {
  }

  /** A request's place in its key's window, and the ms the window has left. */
  private record Counted(long count, long ttlMs) {
  }

  /** Places {@code next..last} of a key's window, taken ahead; good until {@code endsNanos}. */
  private static final class Lease {
    final long last;
    final long endsNanos;
    final int size;
    long next;

    Lease(long first, int size, long endsNanos) {
      this.next = first;
      this.last = first + size - 1;
      this.size = size;
      this.endsNanos = endsNanos;
    }

    boolean open(long now) {
      return next <= last && now - endsNanos < 0;
    }

    /** The lease to ask for after this one: twice as many when this one was used up. */
    int nextSize() {
      return next > last ? Math.min(LEASE_MOST, size * 2) : LEASE_FIRST;
    }
  }

  private final RedisAPI redis;
  private final Dependency dependency;
  private final Counter unavailable;
  private final GroupCommit<Check, Counted> counts;
  private final Map<String, Lease> leases = new HashMap<>();

  RateLimiter(Vertx vertx, RedisAPI redis, Dependency dependency, MeterRegistry registry) {
    this.redis = redis;
    this.dependency = dependency;
    this.unavailable = Counter.builder("pulse.ratelimit.unavailable")
      .description("rate limit checks that Redis could not answer").register(registry);
    this.counts = new GroupCommit<>(MOST, GroupCommit.sizes(registry, "pulse.ratelimit.batch.size",
      "rate limit checks counted in one Redis call"), this::count);
    vertx.setPeriodic(WINDOW_MS, ignored -> {
      long now = System.nanoTime();
      leases.values().removeIf(lease -> now - lease.endsNanos >= 0);
    });
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
    String key = "ratelimit:" + subject;
    Lease lease = leases.get(key);
    long now = System.nanoTime();
    if (lease != null && lease.open(now)) {
      answer(rc, limit, new Counted(lease.next++, TimeUnit.NANOSECONDS.toMillis(lease.endsNanos - now)));
      return;
    }
    counts.add(new Check(key, limit))
      .onSuccess(counted -> answer(rc, limit, counted))
      .onFailure(error -> unmetered(rc, failClosed));
  }

  private static void answer(RoutingContext rc, int limit, Counted counted) {
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
  }

  /**
   * One batch: each key's arrivals added at once; the k-th arrival of a key that ends at n is
   * counted n - arrivals + k. A lease granted after them is good for the window's time left,
   * measured from before the call was sent (so it never outlives the window in Redis). A key
   * whose lease is still open asks for none (one open lease a key, none thrown away unused).
   */
  private Future<?> count(List<GroupCommit.Pending<Check, Counted>> batch) {
    Map<String, Arrivals> byKey = new LinkedHashMap<>();
    batch.forEach(each -> byKey.computeIfAbsent(each.item().key(), key -> new Arrivals(each.item().limit(), new ArrayList<>()))
      .answers().add(each.answer()));
    List<String> args = new ArrayList<>();
    args.add(String.valueOf(WINDOW_MS));
    args.add(String.valueOf(LEASE_SHARE));
    long sent = System.nanoTime();
    byKey.forEach((key, arrivals) -> {
      Lease lease = leases.get(key);
      args.add(String.valueOf(arrivals.answers().size()));
      args.add(String.valueOf(arrivals.limit()));
      args.add(String.valueOf(lease == null ? LEASE_FIRST : lease.open(sent) ? 0 : lease.nextSize()));
    });
    return COUNT.run(redis, List.copyOf(byKey.keySet()), args)
      .timeout(1, TimeUnit.SECONDS)
      .onSuccess(reply -> {
        dependency.answered();
        int i = 0;
        for (Map.Entry<String, Arrivals> entry : byKey.entrySet()) {
          List<Promise<Counted>> answers = entry.getValue().answers();
          long last = reply.get(i).toLong();
          int leased = reply.get(i + 1).toInteger();
          long ttlMs = reply.get(i + 2).toLong();
          if (leased > 0) {
            leases.put(entry.getKey(), new Lease(last + 1, leased, sent + TimeUnit.MILLISECONDS.toNanos(ttlMs)));
          }
          for (int k = 0; k < answers.size(); k++) {
            answers.get(k).complete(new Counted(last - answers.size() + 1 + k, ttlMs));
          }
          i += 3;
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
