package verticles.catalog;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.RedisAPI;
import verticles.common.RequestContext;
import verticles.common.Dependency;
import verticles.common.GroupCommit;
import verticles.common.LuaScript;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.function.Function;

/**
 * Products read through Redis. Each cached product is a hash {@code catalog:product:<id>}
 * holding its version and its JSON. A committed change first marks the key with the product's
 * new version and no JSON (the next read loads it again); a loader may store only a version at
 * least as new as the one marked, so a slow loader that read before a change can never put the
 * older product back. Reads that arrive while one is on its way share the next one, and there is
 * one load per key at a time in this verticle (concurrent misses wait for it). When Redis is
 * down, reads go to PostgreSQL and stay correct; marks that could not be written are retried
 * until they are.
 */
final class ProductCache {

  private static final long TTL_MS = 300_000;

  /** Stores a loaded product unless a newer version is known. KEYS: the product; ARGV: version, JSON, TTL ms. */
  private static final LuaScript STORE = new LuaScript("""
    local known = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
    local loaded = tonumber(ARGV[1])
    if loaded < known then return 0 end
    redis.call('HSET', KEYS[1], 'v', ARGV[1], 'json', ARGV[2])
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
    """);

  /** Marks a product changed: its new version, no JSON. KEYS: the product; ARGV: version, TTL ms. */
  private static final LuaScript MARK = new LuaScript("""
    local known = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
    if tonumber(ARGV[1]) <= known then return 0 end
    redis.call('HDEL', KEYS[1], 'json')
    redis.call('HSET', KEYS[1], 'v', ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
    """);

  private final RedisAPI redis;
  private final Dependency dependency;
  private final Function<Long, Future<JsonObject>> loader;
  private final GroupCommit<Long, JsonObject> reads;
  private final Map<Long, Future<JsonObject>> loading = new HashMap<>();
  /** Marks Redis did not take: product id → version, written again until they are. */
  private final Map<Long, Integer> unmarked = new HashMap<>();
  private final Counter hits;
  private final Counter misses;
  private final Counter bypassed;
  private final Counter invalidations;

  ProductCache(Vertx vertx, RedisAPI redis, Dependency dependency, MeterRegistry registry, Function<Long, Future<JsonObject>> loader) {
    this.redis = redis;
    this.dependency = dependency;
    this.loader = loader;
    this.reads = new GroupCommit<>(500, GroupCommit.sizes(registry, "pulse.cache.read.batch.size", "product reads sent to Redis together"),
      this::read);
    this.hits = Counter.builder("pulse.cache.requests").tag("cache", "products").tag("result", "hit").register(registry);
    this.misses = Counter.builder("pulse.cache.requests").tag("cache", "products").tag("result", "miss").register(registry);
    this.bypassed = Counter.builder("pulse.cache.requests").tag("cache", "products").tag("result", "bypass")
      .description("reads that went to PostgreSQL because Redis was down").register(registry);
    this.invalidations = Counter.builder("pulse.cache.evictions").tag("cache", "products")
      .description("cached products replaced after a change").register(registry);
    vertx.setPeriodic(1000, ignored -> markAgain());
  }

  static String key(long id) {
    return "catalog:product:" + id;
  }

  /** The product (deleted ones too: the caller decides), or null when there is none. */
  Future<JsonObject> get(long id) {
    if (!dependency.mayTry()) {
      bypassed.increment();
      return loader.apply(id);
    }
    return reads.add(id)
      .transform(cached -> {
        if (cached.succeeded()) {
          dependency.answered();
          if (cached.result() != null) {
            hits.increment();
            return Future.succeededFuture(cached.result());
          }
          misses.increment();
          return loadOnce(id, true);
        }
        dependency.failed(cached.cause());
        bypassed.increment();
        return loader.apply(id);
      });
  }

  /**
   * The reads that arrived while one was on its way to Redis go together: one HGET per product
   * (pipelined), its JSON parsed once for all who asked. Every read is still sent after its
   * request arrived, so it sees every change committed before.
   */
  private Future<?> read(List<GroupCommit.Pending<Long, JsonObject>> batch) {
    Map<Long, List<Promise<JsonObject>>> byId = new LinkedHashMap<>();
    batch.forEach(each -> byId.computeIfAbsent(each.item(), id -> new ArrayList<>()).add(each.answer()));
    List<Future<?>> sent = new ArrayList<>();
    byId.forEach((id, askers) -> sent.add(redis.hget(key(id), "json").onSuccess(json -> {
      JsonObject product = json == null ? null : new JsonObject(json.toString());
      askers.forEach(asker -> asker.complete(product));
    })));
    return Future.join(sent);
  }

  /** Concurrent misses of one key share one load; the loaded product is stored unless a newer one is known. */
  private Future<JsonObject> loadOnce(long id, boolean store) {
    Future<JsonObject> pending = loading.get(id);
    if (pending != null) {
      return RequestContext.here(pending);
    }
    Future<JsonObject> load = loader.apply(id).compose(product -> product == null || !store ? Future.succeededFuture(product)
      : STORE.run(redis, List.of(key(id)), List.of(String.valueOf(product.getInteger("version")), product.encode(), String.valueOf(TTL_MS)))
        .otherwiseEmpty().map(product));
    loading.put(id, load);
    return load.onComplete(done -> loading.remove(id));
  }

  /** After a committed change: the product's cached copy is replaced (marked with its new version). */
  Future<Void> changed(long id, int version) {
    invalidations.increment();
    return MARK.run(redis, List.of(key(id)), List.of(String.valueOf(version), String.valueOf(TTL_MS)))
      .<Void>mapEmpty()
      .onFailure(error -> {
        dependency.failed(error);
        unmarked.merge(id, version, Math::max);
      })
      .otherwiseEmpty();
  }

  private void markAgain() {
    if (unmarked.isEmpty() || !dependency.mayTry()) {
      return;
    }
    Queue<Map.Entry<Long, Integer>> due = new ArrayDeque<>(unmarked.entrySet());
    unmarked.clear();
    due.forEach(entry -> changed(entry.getKey(), entry.getValue()));
  }
}
