package verticles.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Redis client that is replaced by a fresh one, in place, when it has gone wrong in a way
 * that reconnecting mends. After a failover a pooled connection may still lead to the old
 * master, now a replica (every write answers READONLY), and a connection whose peer vanished
 * without a word never answers at all: the library's pool keeps both. So a READONLY answer, or
 * commands waiting while none has been answered for {@link #COMMAND_TIMEOUT_MS} (checked each
 * second, so no command pays for a timer), or a caller's {@link #rebuild} (the dispatcher's, when
 * its takes stop) closes the client and makes a new one: new connections, and with Sentinels, a
 * fresh answer on who the master is. Closing the old client fails what still waits on it. At
 * most one rebuild per {@link #MIN_INTERVAL_MS}; said once in a while per JVM, counted always.
 */
public final class RebuildableRedis implements Redis {

  /** Commands waiting this long with no answer to any of them: the client is rebuilt. */
  public static final long COMMAND_TIMEOUT_MS = 5_000;
  static final long MIN_INTERVAL_MS = 2_000;
  private static final long LOG_EVERY_MS = 10_000;
  private static final Logger log = LoggerFactory.getLogger(RebuildableRedis.class);
  /** Many clients of a node see one failover: one line says it for all of them. */
  private static final AtomicLong LAST_LOGGED = new AtomicLong();

  private final Vertx vertx;
  private final RedisOptions options;
  private final MeterRegistry registry;
  private volatile Redis current;
  private final AtomicInteger waiting = new AtomicInteger();
  private volatile long lastAnswerMs = System.currentTimeMillis();
  private long rebuiltAt;
  private volatile boolean closed;

  public RebuildableRedis(Vertx vertx, RedisOptions options, MeterRegistry registry) {
    this.vertx = vertx;
    this.options = options;
    this.registry = registry;
    this.current = Redis.createClient(vertx, options);
    if (registry != null) {
      for (String reason : List.of("readonly", "timeout", "stalled")) {
        rebuilds(reason);
      }
    }
    vertx.setPeriodic(1000, timer -> {
      if (closed) {
        vertx.cancelTimer(timer);
      } else if (waiting.get() > 0 && System.currentTimeMillis() - lastAnswerMs > COMMAND_TIMEOUT_MS) {
        rebuild(current, "timeout", "Redis has answered nothing for " + COMMAND_TIMEOUT_MS + " ms while commands wait");
      }
    });
  }

  @Override
  public Future<RedisConnection> connect() {
    return current.connect();
  }

  @Override
  public synchronized Future<Void> close() {
    closed = true;
    return current.close();
  }

  @Override
  public Future<Response> send(Request command) {
    Redis used = current;
    return watched(used, used.send(command));
  }

  @Override
  public Future<List<Response>> batch(List<Request> commands) {
    Redis used = current;
    return watched(used, used.batch(commands));
  }

  /**
   * Replaces the client now (unless it was replaced a moment ago, or is closed); {@code reason}
   * is a short word for the metric. True when it was replaced.
   */
  public boolean rebuild(String reason) {
    return rebuild(current, reason, null);
  }

  private Counter rebuilds(String reason) {
    return Counter.builder("pulse.redis.client.rebuilds").description("Redis clients replaced by a fresh one (failover, hung connection)")
      .tag("reason", reason).register(registry);
  }

  private <T> Future<T> watched(Redis used, Future<T> answer) {
    waiting.incrementAndGet();
    return answer.onComplete(result -> {
      waiting.decrementAndGet();
      lastAnswerMs = System.currentTimeMillis();
      if (result.failed() && String.valueOf(result.cause().getMessage()).startsWith("READONLY")) {
        rebuild(used, "readonly", "Redis answered READONLY: this client's connections lead to a replica (the master moved)");
      }
    });
  }

  private boolean rebuild(Redis used, String reason, String why) {
    Redis old;
    synchronized (this) {
      long now = System.currentTimeMillis();
      if (closed || used != current || now - rebuiltAt < MIN_INTERVAL_MS) {
        return false;
      }
      rebuiltAt = now;
      lastAnswerMs = now;
      old = current;
      current = Redis.createClient(vertx, options);
    }
    // Closing the old client fails whatever still waits on it, so no caller waits on a dead connection.
    old.close();
    if (registry != null) {
      rebuilds(reason).increment();
    }
    long now = System.currentTimeMillis();
    long last = LAST_LOGGED.get();
    if (why != null && now - last >= LOG_EVERY_MS && LAST_LOGGED.compareAndSet(last, now)) {
      log.warn("{}; reconnecting{} (said at most every {} s; pulse_redis_client_rebuilds_total counts them)", why,
        options.getType() == RedisClientType.SENTINEL ? " through the Sentinels" : "", LOG_EVERY_MS / 1000);
    }
    return true;
  }
}
