package verticles.common;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
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

import java.io.IOException;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A Redis client that is replaced by a fresh one, in place, when it has gone wrong in a way that
 * reconnecting mends. After a failover a pooled connection may still lead to the old master, now
 * a replica (every write answers READONLY), and a connection whose server vanished without a word
 * never answers at all: the library's pool keeps both.
 *
 * <p>A READONLY answer replaces the client at once. Anything else is only a suspicion until a
 * fresh client has been asked: a command waiting for its answer longer than
 * {@link #COMMAND_TIMEOUT_MS} (checked each second, so no command pays for a timer; after a
 * failover the pool may hold live connections to the new master beside dead ones to the old, so
 * answers on the others prove nothing), or a caller's report (the dispatcher's, when its takes
 * stop; see {@link #replaceIfStuck}). The fresh client PINGs the master (with Sentinels, after
 * asking them who it is); only if it answers while this client is still stuck does it take this
 * one's place. So an outage (the fresh client gets nowhere either) or a JVM too busy to read its
 * sockets (the old answers arrive meanwhile) replaces nothing. Whatever still waits on the old client fails at once (closing it does not always
 * fail it: a connection to a frozen server keeps its commands), and the old client is closed. At
 * most one replacement per {@link #MIN_INTERVAL_MS}; said once in a while per JVM, counted always
 * ({@code pulse_redis_client_rebuilds_total{reason}}). No command waits longer than
 * {@link #COMMAND_DEADLINE_MS}: a server that neither answers nor fails over gets its callers a
 * failure, not an endless wait.
 */
public final class RebuildableRedis implements Redis {

  /** A command waiting this long for its answer makes the client suspect. */
  public static final long COMMAND_TIMEOUT_MS = 3_000;
  /** A command unanswered this long fails (checked each second with the rest). */
  public static final long COMMAND_DEADLINE_MS = 10_000;
  static final long MIN_INTERVAL_MS = 2_000;
  private static final long PROBE_TIMEOUT_MS = 3_000;
  private static final long LOG_EVERY_MS = 10_000;
  private static final Logger log = LoggerFactory.getLogger(RebuildableRedis.class);
  /** Many clients of a node see one failover: one line says it for all of them. */
  private static final AtomicLong LAST_LOGGED = new AtomicLong();

  private final Vertx vertx;
  private final RedisOptions options;
  private final MeterRegistry registry;
  /** Commands sent and not answered yet, each with the client it went to. */
  private final Set<Waiting<?>> waiting = ConcurrentHashMap.newKeySet();
  private volatile Redis current;
  private volatile boolean closed;
  private volatile boolean probing;
  private long replacedAt;

  private record Waiting<T>(Redis client, Promise<T> answer, long sentMs) {
  }

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
      long now = System.currentTimeMillis();
      Waiting<?> oldest = waiting.stream().min(Comparator.comparingLong(Waiting::sentMs)).orElse(null);
      if (oldest != null && now - oldest.sentMs() > COMMAND_TIMEOUT_MS) {
        replaceIfStuck("unanswered", "a Redis command has waited over " + COMMAND_TIMEOUT_MS
          + " ms for its answer, while a new connection gets answers", () -> waiting.contains(oldest));
      }
      giveUp(command -> now - command.sentMs() > COMMAND_DEADLINE_MS,
        () -> new TimeoutException("Redis did not answer within " + COMMAND_DEADLINE_MS + " ms"));
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
    Waiting<T> command = new Waiting<>(used, Promise.promise(), System.currentTimeMillis());
    waiting.add(command);
    answer.onComplete(result -> {
      waiting.remove(command);
      if (result.failed() && String.valueOf(result.cause().getMessage()).startsWith("READONLY")) {
        replace(used, null, "readonly", "Redis answered READONLY: this client's connections lead to a replica (the master moved)");
      }
      if (result.succeeded()) {
        command.answer().tryComplete(result.result());
      } else {
        command.answer().tryFail(result.cause());
      }
    });
    return command.answer().future();
  }

  /** Fails the commands still waiting that {@code which} picks (an outage to callers: see {@code Failure.isOutage}). */
  private void giveUp(Predicate<Waiting<?>> which, Supplier<Exception> why) {
    for (Waiting<?> command : waiting) {
      if (which.test(command) && waiting.remove(command)) {
        command.answer().tryFail(why.get());
      }
    }
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
      old = current;
      current = fresh != null ? fresh : Redis.createClient(vertx, options);
    }
    giveUp(command -> command.client() == old,
      () -> new IOException("the Redis connection was replaced (the master moved or stopped answering); try again"));
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
