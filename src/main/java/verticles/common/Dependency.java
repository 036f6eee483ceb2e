package verticles.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.micrometer.backends.BackendRegistries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.WeakHashMap;
import java.util.function.Supplier;

/**
 * A server this node depends on (PostgreSQL, Redis), as the node sees it: up or down. One
 * state per node and server, shared by all its verticles, so an outage is said once: WARN when
 * it starts, INFO when it ends (with how long it lasted and how many calls failed meanwhile), a
 * counter in between. A watch asks it every second, so an outage (and its end) is seen even
 * when nothing else calls; while it is down, loops that poll it ({@link #mayTry}) back off
 * exponentially (100 ms doubling to 5 s) instead of spinning.
 */
public final class Dependency {

  public static final String POSTGRES = "postgres";
  public static final String REDIS = "redis";

  private static final Logger log = LoggerFactory.getLogger(Dependency.class);
  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MOST_BACKOFF_MS = 5_000;
  private static final long WATCH_MS = 1_000;
  private static final Map<Vertx, Map<String, Dependency>> NODES = new WeakHashMap<>();

  private final Vertx vertx;
  private final String name;
  /** ":port" of the server, to recognise its connection errors. */
  private final String address;
  private final Counter failures;
  private Supplier<Future<?>> probe;
  private boolean down;
  private long downSince;
  private long failedCalls;
  private long backoffMs;
  private long nextTryAt;
  private boolean probing;

  private Dependency(Vertx vertx, String name, String address, MeterRegistry registry) {
    this.vertx = vertx;
    this.name = name;
    this.address = address;
    this.failures = Counter.builder("pulse.dependency.failures").description("calls that failed because the server was unavailable")
      .tag("dependency", name).register(registry);
    Gauge.builder("pulse.dependency.up", this, d -> d.isDown() ? 0 : 1).tag("dependency", name).register(registry);
  }

  /** This node's PostgreSQL, probed with a trivial query while it is down. */
  public static Dependency postgres(Vertx vertx, io.vertx.core.json.JsonObject config, io.vertx.sqlclient.Pool pool) {
    return of(vertx, config.getString(Config.NODE_NAME), POSTGRES, address(config.getString(Config.DATABASE_URL)),
      () -> pool.query("SELECT 1").execute());
  }

  /** This node's Redis, probed with PING while it is down. */
  public static Dependency redis(Vertx vertx, io.vertx.core.json.JsonObject config, io.vertx.redis.client.RedisAPI redis) {
    return of(vertx, config.getString(Config.NODE_NAME), REDIS, address(config.getString(Config.REDIS_URL)),
      () -> redis.ping(java.util.List.of()));
  }

  /**
   * This node's view of {@code name} at {@code address} (host:port); {@code probe} is how to ask
   * it whether it is back (the first verticle to register one supplies it).
   */
  static Dependency of(Vertx vertx, String nodeName, String name, String address, Supplier<Future<?>> probe) {
    Dependency dependency;
    synchronized (NODES) {
      dependency = NODES.computeIfAbsent(vertx, v -> new java.util.HashMap<>())
        .computeIfAbsent(name, n -> {
          MeterRegistry registry = BackendRegistries.getNow(nodeName);
          Dependency created = new Dependency(vertx, n, address, registry != null ? registry : new SimpleMeterRegistry());
          created.watch();
          return created;
        });
    }
    synchronized (dependency) {
      if (dependency.probe == null) {
        dependency.probe = probe;
      }
    }
    return dependency;
  }

  /**
   * The dependency {@code error} came from, among those this node knows, or null: by the client
   * library in its causes and stack, or by the server's address in its message.
   */
  public static Dependency blamedFor(Vertx vertx, Throwable error) {
    Map<String, Dependency> known;
    synchronized (NODES) {
      known = NODES.get(vertx);
    }
    if (known == null) {
      return null;
    }
    StringBuilder trail = new StringBuilder();
    for (Throwable cause = error; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
      trail.append(' ').append(cause.getClass().getName()).append(' ').append(cause.getMessage());
      for (StackTraceElement frame : cause.getStackTrace()) {
        trail.append(' ').append(frame.getClassName());
      }
    }
    String text = trail.toString();
    for (Dependency dependency : known.values()) {
      if (dependency.address != null && text.contains(dependency.address)) {
        return dependency;
      }
    }
    String name = text.contains("pgclient") || text.contains("sqlclient") ? POSTGRES : text.contains(".redis.") ? REDIS : null;
    return name == null ? null : known.get(name);
  }

  private static String address(String url) {
    try {
      java.net.URI uri = java.net.URI.create(url);
      return uri.getHost() == null ? null : uri.getPort() > 0 ? ":" + uri.getPort() : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  public synchronized boolean isDown() {
    return down;
  }

  /** Whether a polling loop should call it now: always while it is up; once per backoff step while it is down. */
  public synchronized boolean mayTry() {
    return !down || System.currentTimeMillis() >= nextTryAt;
  }

  /**
   * A call to the server failed. When the server did not answer (an outage), the first failure
   * of the outage is logged and the rest counted; any other failure (a bug, a refused statement)
   * is logged as it is.
   */
  public void failed(Throwable error) {
    if (!Failure.isOutage(error)) {
      log.warn("a call to {} failed: {}", name, error.toString());
      return;
    }
    failures.increment();
    boolean first;
    synchronized (this) {
      failedCalls++;
      first = !down;
      if (first) {
        down = true;
        downSince = System.currentTimeMillis();
        failedCalls = 1;
        backoffMs = FIRST_BACKOFF_MS;
      } else {
        backoffMs = Math.min(MOST_BACKOFF_MS, backoffMs * 2);
      }
      nextTryAt = System.currentTimeMillis() + backoffMs;
    }
    if (first) {
      log.warn("{} is unavailable: {}; retrying with backoff, quietly until it is back", name, error.toString());
    }
  }

  /** A call succeeded: if the server was down, the outage is over. */
  public void answered() {
    long lasted;
    long calls;
    synchronized (this) {
      if (!down) {
        return;
      }
      down = false;
      lasted = System.currentTimeMillis() - downSince;
      calls = failedCalls;
    }
    log.info("{} is available again after {} ms ({} call(s) failed meanwhile)", name, lasted, calls);
  }

  /** Asks the server every second (a watch per node and server) whether it answers, so an outage is seen, and its end, even when no call is made. */
  private void watch() {
    vertx.setPeriodic(WATCH_MS, ignored -> {
      Supplier<Future<?>> ask;
      synchronized (this) {
        if (probing || probe == null) {
          return;
        }
        probing = true;
        ask = probe;
      }
      Future<?> answer;
      try {
        answer = ask.get();
      } catch (RuntimeException e) {
        answer = Future.failedFuture(e);
      }
      answer.timeout(WATCH_MS, TimeUnit.MILLISECONDS).onComplete(result -> {
        synchronized (this) {
          probing = false;
        }
        if (result.succeeded()) {
          answered();
        } else {
          failed(result.cause());
        }
      });
    });
  }

}
