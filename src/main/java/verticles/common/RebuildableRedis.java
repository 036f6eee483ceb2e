package verticles.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * A Redis client that is replaced by a fresh one, in place, when it has gone wrong in a way that
 * reconnecting mends. After a failover a pooled connection may still lead to the old master, now
 * a replica (every write answers READONLY), and a connection whose server vanished without a word
 * never answers at all: the library's pool keeps both.
 *
 * <p>A READONLY answer replaces the client at once. Anything else is only a suspicion until a
 * fresh client has been asked: commands waiting while none has been answered for
 * {@link #COMMAND_TIMEOUT_MS} (checked each second, so no command pays for a timer), or a
 * caller's report (the dispatcher's, when its takes stop; see {@link #replaceIfStuck}). The fresh
 * client PINGs the master (with Sentinels, after asking them who it is); only if it answers while
 * this client is still stuck does it take this one's place. So an outage (the fresh client gets
 * nowhere either) or a JVM too busy to read its sockets (the old answers arrive meanwhile) replaces
 * nothing. The old client is closed, which fails whatever still waits on it. At most one
 * replacement per {@link #MIN_INTERVAL_MS}; said once in a while per JVM, counted always
 * ({@code pulse_redis_client_rebuilds_total{reason}}).
 */
public final class RebuildableRedis implements Redis {

  /** Commands waiting this long with no answer to any of them make the client suspect. */
  public static final long COMMAND_TIMEOUT_MS = 5_000;
  static final long MIN_INTERVAL_MS = 2_000;
  private static final long PROBE_TIMEOUT_MS = 3_000;
  private static final long LOG_EVERY_MS = 10_000;
  private static final Logger log = LoggerFactory.getLogger(RebuildableRedis.class);
  /** Many clients of a node see one failover: one line says it for all of them. */
  private static final AtomicLong LAST_LOGGED = new AtomicLong();

  private final Vertx vertx;
  private final RedisOptions options;
  private final MeterRegistry registry;
  private final AtomicInteger waiting = new AtomicInteger();
  private volatile Redis current;
  private volatile long lastAnswerMs = System.currentTimeMillis();
  private volatile boolean closed;
  private volatile boolean probing;
  private long replacedAt;

  public RebuildableRedis(Vertx vertx, RedisOptions options, MeterRegistry registry) {
    this.vertx = vertx;
    this.options = options;
    this.registry = registry;
    this.current = Redis.createClient(vertx, options);
    if (registry != null) {
      for (String reason : List.of("readonly", "unanswered", "stalled")) {
        rebuilds(reason);
      }
    }
    vertx.setPeriodic(1000, timer -> {
      if (closed) {
        vertx.cancelTimer(timer);
        return;
      }
      long answered = lastAnswerMs;
      if (waiting.get() > 0 && System.currentTimeMillis() - answered > COMMAND_TIMEOUT_MS) {
        replaceIfStuck("unanswered", "Redis has answered none of this client's commands for " + COMMAND_TIMEOUT_MS
          + " ms, while a new connection gets answers", () -> waiting.get() > 0 && lastAnswerMs == answered);
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
   * The caller thinks this client is stuck: a fresh client asks the master for a PING, and if it
   * answers while {@code stillStuck} still holds, it takes this one's place. {@code reason} is a
   * short word for the metric, {@code why} the log line's words (null: the caller logs). True
   * when it was replaced.
   */
  public Future<Boolean> replaceIfStuck(String reason, String why, BooleanSupplier stillStuck) {
    if (closed || probing || System.currentTimeMillis() - replacedAt < MIN_INTERVAL_MS) {
      return Future.succeededFuture(false);
    }
    probing = true;
    Redis suspect = current;
    Redis fresh = Redis.createClient(vertx, options);
    return fresh.send(Request.cmd(Command.PING)).timeout(PROBE_TIMEOUT_MS, TimeUnit.MILLISECONDS).transform(ping -> {
      probing = false;
      boolean replaced = ping.succeeded() && stillStuck.getAsBoolean() && replace(suspect, fresh, reason, why);
      if (!replaced) {
        fresh.close();
      }
      return Future.succeededFuture(replaced);
    });
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
        replace(used, null, "readonly", "Redis answered READONLY: this client's connections lead to a replica (the master moved)");
      }
    });
  }

  /** Puts {@code fresh} (a new client when null) in the place of {@code used}, if that is still current. */
  private boolean replace(Redis used, Redis fresh, String reason, String why) {
    Redis old;
    synchronized (this) {
      long now = System.currentTimeMillis();
      if (closed || used != current || now - replacedAt < MIN_INTERVAL_MS) {
        return false;
      }
      replacedAt = now;
      lastAnswerMs = now;
      old = current;
      current = fresh != null ? fresh : Redis.createClient(vertx, options);
    }
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
