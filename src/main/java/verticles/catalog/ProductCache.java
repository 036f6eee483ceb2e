package verticles.catalog;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.Response;
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
 * Products read through Redis. Each cached product is a hash {@code catalog:product-json:<id>}
 * holding its version and its JSON as the API shows it (the word {@code deleted} for a deleted
 * one), handed on as those bytes: a hit is never parsed or encoded again. A committed change
 * first marks the key with the product's new version and no JSON (the next read loads it again);
 * a loader may store only a version at least as new as the one marked, so a slow loader that read
 * before a change can never put the older product back. Reads that arrive while one is on its way
 * share the next one, and there is one load per key at a time in this verticle (concurrent misses
 * wait for it). When Redis is down, reads go to PostgreSQL and stay correct; marks that could not
 * be written are retried until they are.
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
  private final GroupCommit<Long, CachedProduct> reads;
  private final Map<Long, Future<CachedProduct>> loading = new HashMap<>();
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

  /** A product as cached: its version and the JSON the API shows, already encoded; no JSON when it is deleted. */
  record CachedProduct(int version, Buffer json) {

    private static final String DELETED = "deleted";

    static CachedProduct of(JsonObject product) {
      return product == null ? null
        : new CachedProduct(product.getInteger("version"), product.getValue("deleted_at") == null ? product.toBuffer() : null);
    }

    /** What Redis reads back: the JSON of a product starts with '{', anything else marks it deleted. */
    static CachedProduct read(Response version, Response json) {
      Buffer text = json.toBuffer();
      return new CachedProduct(version.toInteger(), text.length() > 0 && text.getByte(0) == '{' ? text : null);
    }

    boolean deleted() {
      return json == null;
    }

    String stored() {
      return deleted() ? DELETED : json.toString();
    }
  }

  static String key(long id) {
    return "catalog:product-json:" + id;
  }

  /** The product (deleted ones too: the caller decides), or null when there is none. */
  Future<CachedProduct> get(long id) {
    if (!dependency.mayTry()) {
      bypassed.increment();
      return loader.apply(id).map(CachedProduct::of);
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
          return loadOnce(id);
        }
        dependency.failed(cached.cause());
        bypassed.increment();
        return loader.apply(id).map(CachedProduct::of);
      });
  }

  /**
   * The reads that arrived while one was on its way to Redis go together: one HMGET per product
   * (pipelined), its answer shared by all who asked. Every read is still sent after its request
   * arrived, so it sees every change committed before.
   */
  private Future<?> read(List<GroupCommit.Pending<Long, CachedProduct>> batch) {
    Map<Long, List<Promise<CachedProduct>>> byId = new LinkedHashMap<>();
    batch.forEach(each -> byId.computeIfAbsent(each.item(), id -> new ArrayList<>()).add(each.answer()));
    List<Future<?>> sent = new ArrayList<>();
    byId.forEach((id, askers) -> sent.add(redis.hmget(List.of(key(id), "v", "json")).onSuccess(fields -> {
      CachedProduct product = fields.get(1) == null ? null : CachedProduct.read(fields.get(0), fields.get(1));
      askers.forEach(asker -> asker.complete(product));
    })));
    return Future.join(sent);
  }

  /** Concurrent misses of one key share one load; the loaded product is stored unless a newer one is known. */
  private Future<CachedProduct> loadOnce(long id) {
    Future<CachedProduct> pending = loading.get(id);
    if (pending != null) {
      return RequestContext.here(pending);
    }
    Future<CachedProduct> load = loader.apply(id).map(CachedProduct::of).compose(product -> product == null ? Future.succeededFuture(null)
      : STORE.run(redis, List.of(key(id)), List.of(String.valueOf(product.version()), product.stored(), String.valueOf(TTL_MS)))
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
