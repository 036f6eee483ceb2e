package verticles.catalog;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.RedisOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.support.TestServers;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The product cache against a real Redis, with a loader the test controls. */
class ProductCacheTest {

  private Vertx vertx;
  private RedisAPI redis;
  private final AtomicInteger loads = new AtomicInteger();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  /** What the "database" holds now, and a load the test may hold back. */
  private final AtomicReference<JsonObject> stored = new AtomicReference<>();
  private final AtomicReference<Promise<Void>> gate = new AtomicReference<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    redis = RedisAPI.api(Redis.createClient(vertx, new RedisOptions().setConnectionString(TestServers.redisUrl())));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private ProductCache cache() {
    return cache(redis, TestServers.redisUrl());
  }

  private ProductCache cache(RedisAPI redis, String redisUrl) {
    JsonObject config = new JsonObject().put(Config.NODE_NAME, "cache-test").put(Config.REDIS_URL, redisUrl);
    return new ProductCache(vertx, redis, Dependency.redis(vertx, config, redis), meters, id -> {
      loads.incrementAndGet();
      JsonObject snapshot = stored.get().copy();  // read now, returned when the gate opens: a slow loader
      Promise<Void> held = gate.get();
      return held == null ? Future.succeededFuture(snapshot) : held.future().map(snapshot);
    });
  }

  private static JsonObject product(long id, int version, long price) {
    return new JsonObject().put("id", id).put("version", version).put("price", price);
  }

  private <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private <T> T onContext(java.util.function.Supplier<Future<T>> call) throws Exception {
    Promise<T> result = Promise.promise();
    vertx.runOnContext(ignored -> call.get().onComplete(result));
    return await(result.future());
  }

  @Test
  void aSlowLoadThatReadBeforeAChangeCannotPutTheOldVersionBack() throws Exception {
    long id = System.nanoTime();
    ProductCache cache = onContext(() -> Future.succeededFuture(cache()));
    stored.set(product(id, 1, 100));
    gate.set(Promise.promise());
    Future<ProductCache.CachedProduct> slow = onContext(() -> Future.succeededFuture(cache.get(id)));
    TestServers.await("the loader to read version 1 (then it waits)", Duration.ofSeconds(10), () -> loads.get() == 1);

    stored.set(product(id, 2, 200));  // the change commits...
    onContext(() -> cache.changed(id, 2));  // ...and marks the cache
    Promise<Void> held = gate.getAndSet(null);
    vertx.runOnContext(ignored -> held.complete());
    assertEquals(1, await(slow).version(), "the slow reader itself saw what it read");

    ProductCache.CachedProduct after = onContext(() -> cache.get(id));
    assertEquals(2, after.version(), "the next read is the new version, not the slow loader's");
    assertEquals(product(id, 2, 200), new JsonObject(after.json()), "with that version's JSON");
    assertEquals(2, onContext(() -> cache.get(id)).version(), "and it is cached");
    assertEquals(2, loads.get(), "the slow load, then one load of the new version");
  }

  @Test
  void concurrentMissesOfOneKeyLoadOnce() throws Exception {
    long id = System.nanoTime();
    ProductCache cache = onContext(() -> Future.succeededFuture(cache()));
    stored.set(product(id, 5, 1));
    gate.set(Promise.promise());
    List<Future<ProductCache.CachedProduct>> readers = onContext(() -> Future.succeededFuture(List.of(cache.get(id), cache.get(id), cache.get(id))));
    TestServers.await("all three readers to miss while the first load is held", Duration.ofSeconds(10),
      () -> meters.counter("pulse.cache.requests", "cache", "products", "result", "miss").count() == 3);
    Promise<Void> held = gate.getAndSet(null);
    vertx.runOnContext(ignored -> held.complete());
    for (Future<ProductCache.CachedProduct> reader : readers) {
      assertEquals(5, await(reader).version());
    }
    assertEquals(1, loads.get(), "one loader for the stampede");
  }

  @Test
  void aDeletedProductIsCachedAsDeletedWithoutItsJson() throws Exception {
    long id = System.nanoTime();
    ProductCache cache = onContext(() -> Future.succeededFuture(cache()));
    stored.set(product(id, 1, 100));
    assertEquals(product(id, 1, 100), new JsonObject(onContext(() -> cache.get(id)).json()));

    stored.set(product(id, 2, 100).put("deleted_at", "2026-11-30T00:00:00Z"));
    onContext(() -> cache.changed(id, 2));
    for (int read = 0; read < 2; read++) {
      ProductCache.CachedProduct deleted = onContext(() -> cache.get(id));
      assertEquals(2, deleted.version());
      assertTrue(deleted.deleted(), "read " + read + " sees the product deleted");
    }
    assertEquals(2, loads.get(), "the deletion was loaded once, then read from the cache");
    assertEquals(1, meters.counter("pulse.cache.requests", "cache", "products", "result", "hit").count());
  }

  @Test
  void whileRedisIsDownReadsGoToTheDatabaseAndStayCorrect() throws Exception {
    String nowhere = "redis://127.0.0.1:" + TestServers.freePort();  // nothing listens there
    RedisAPI down = RedisAPI.api(Redis.createClient(vertx, new RedisOptions().setConnectionString(nowhere)));
    long id = System.nanoTime();
    ProductCache cache = onContext(() -> Future.succeededFuture(cache(down, nowhere)));
    stored.set(product(id, 1, 100));
    assertEquals(product(id, 1, 100), new JsonObject(onContext(() -> cache.get(id)).json()));

    stored.set(product(id, 2, 200));
    onContext(() -> cache.changed(id, 2));  // Redis cannot take the mark; the change is seen all the same
    ProductCache.CachedProduct after = onContext(() -> cache.get(id));
    assertEquals(2, after.version());
    assertEquals(product(id, 2, 200), new JsonObject(after.json()));
    stored.set(product(id, 3, 200).put("deleted_at", "2026-11-30T00:00:00Z"));
    assertTrue(onContext(() -> cache.get(id)).deleted());

    assertEquals(3, loads.get(), "every read went to the database");
    assertEquals(3, meters.counter("pulse.cache.requests", "cache", "products", "result", "bypass").count());
    assertEquals(0, meters.counter("pulse.cache.requests", "cache", "products", "result", "hit").count());
  }
}
