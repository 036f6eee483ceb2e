package verticles.nodes;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.Response;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.common.LuaScript;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceReplies;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster's nodes as the dashboard shows them (one per node): this node's entry in Redis
 * (roles, start time, HTTP port), renewed every 2 s, and its task completions per minute, sampled
 * from its own meters and added to a cluster-wide count. Any node answers {@code nodes.list}
 * (every node whose entry is fresh, with its running tasks and heartbeat age) and
 * {@code nodes.stats} (completions per minute over the last hour, and the task room's recent
 * latency per queue). It owns the Redis keys {@code nodes}, {@code nodes:heartbeat} and
 * {@code stats:tasks:completed}.
 */
public class NodesVerticle extends VerticleBase {

  static final String NODES = "nodes";
  static final String HEARTBEATS = "nodes:heartbeat";
  static final String COMPLETED = "stats:tasks:completed";
  private static final long HEARTBEAT_MS = 2000;
  /** A node whose entry is this old has stopped (or lost Redis): it is dropped from the list. */
  static final long GONE_AFTER_MS = 15_000;
  private static final long SAMPLE_MS = 5000;
  private static final int MINUTES_SHOWN = 60;
  private static final int MINUTES_KEPT = 120;
  private static final List<String> OUTCOMES = List.of("succeeded", "retried", "failed", "dead");

  /** KEYS: nodes, heartbeats. ARGV: name, entry JSON. The heartbeat is Redis's own clock, so ages compare across nodes. */
  private static final LuaScript BEAT = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    redis.call('ZADD', KEYS[2], now, ARGV[1])
    return now
    """);

  /** KEYS: nodes, heartbeats. ARGV: gone-after ms. Drops stale entries; returns now, then (name, heartbeat, entry) per node. */
  private static final LuaScript LIST = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[1]))
    for i, name in ipairs(stale) do
      redis.call('ZREM', KEYS[2], name)
      redis.call('HDEL', KEYS[1], name)
    end
    local out = {tostring(now)}
    local live = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = 1, #live, 2 do
      out[#out + 1] = live[i]
      out[#out + 1] = live[i + 1]
      out[#out + 1] = redis.call('HGET', KEYS[1], live[i]) or '{}'
    end
    return out
    """);

  private RedisAPI redis;
  private Dependency redisState;
  private MeterRegistry registry;
  private String name;
  private JsonObject entry;
  private long timeoutMs;
  private final Map<String, Double> lastCounts = new HashMap<>();
  private boolean sampledOnce;

  @Override
  public Future<?> start() {
    JsonObject config = config();
    name = config.getString(Config.NODE_NAME);
    timeoutMs = config.getInteger(Config.BUS_TIMEOUT_MS);
    registry = BackendRegistries.getNow(name);
    ServiceReplies.serve(vertx, Addresses.Nodes.LIST, this::list);
    ServiceReplies.serve(vertx, Addresses.Nodes.STATS, this::stats);
    if (config.getString(Config.REDIS_URL, "").isEmpty()) {
      return Future.succeededFuture();  // no Redis on this node: it is not listed (a node of a cluster has one)
    }
    redis = RedisStore.client(vertx, config);
    redisState = Dependency.redis(vertx, config, redis);
    JsonArray roles = new JsonArray();
    Role.parse(config.getString(Config.ROLES)).forEach(role -> roles.add(role.id));
    entry = new JsonObject().put("name", name).put("roles", roles)
      .put("started_at", Instant.now().toString()).put("http_port", config.getInteger(Config.HTTP_PORT))
      .put("clustered", vertx.isClustered());
    beat();
    vertx.setPeriodic(HEARTBEAT_MS, ignored -> beat());
    vertx.setPeriodic(SAMPLE_MS, ignored -> sample());
    return Future.succeededFuture();
  }

  /** Leaves the list at once on an orderly stop (a crashed node drops out after {@link #GONE_AFTER_MS}). */
  @Override
  public Future<?> stop() {
    if (redis == null) {
      return Future.succeededFuture();
    }
    return redis.zrem(List.of(HEARTBEATS, name)).compose(ignored -> redis.hdel(List.of(NODES, name)))
      .timeout(1, java.util.concurrent.TimeUnit.SECONDS).otherwiseEmpty();
  }

  private void beat() {
    if (!redisState.mayTry()) {
      return;
    }
    BEAT.run(redis, List.of(NODES, HEARTBEATS), List.of(name, entry.encode())).onFailure(redisState::failed);
  }

  /**
   * Adds what this node completed since the last sample to the current minute's cluster-wide
   * count (per outcome). The first sample only sets the baseline: counts made before this
   * verticle started are not the last hour's.
   */
  private void sample() {
    Map<String, Double> counts = new HashMap<>();
    for (Counter counter : registry.find("pulse.tasks.completed").counters()) {
      counts.merge(counter.getId().getTag("outcome"), counter.count(), Double::sum);
    }
    long minute = System.currentTimeMillis() / 60_000;
    boolean baseline = !sampledOnce;
    sampledOnce = true;
    for (String outcome : OUTCOMES) {
      double now = counts.getOrDefault(outcome, 0.0);
      double before = lastCounts.getOrDefault(outcome, baseline ? now : 0.0);
      lastCounts.put(outcome, now);
      long delta = Math.round(now - before);
      if (delta > 0 && redisState.mayTry()) {
        redis.hincrby(COMPLETED, minute + ":" + outcome, String.valueOf(delta)).onFailure(redisState::failed);
      }
    }
    if (minute % 10 == 0) {
      forgetOld(minute);
    }
  }

  private void forgetOld(long minute) {
    redis.hkeys(COMPLETED).onSuccess(keys -> {
      List<String> old = new java.util.ArrayList<>(List.of(COMPLETED));
      for (Response key : keys) {
        String field = key.toString();
        int colon = field.indexOf(':');
        if (colon > 0 && Long.parseLong(field.substring(0, colon)) < minute - MINUTES_KEPT) {
          old.add(field);
        }
      }
      if (old.size() > 1) {
        redis.hdel(old);
      }
    });
  }

  /** nodes.list (admins): every live node with its roles, uptime, heartbeat age and running tasks. */
  private Future<JsonObject> list(JsonObject ignored) {
    return Caller.requireAdmin("see the nodes").compose(admin -> requireRedis())
      .compose(admin -> LIST.run(redis, List.of(NODES, HEARTBEATS), List.of(String.valueOf(GONE_AFTER_MS))))
      .compose(reply -> running().map(byNode -> {
        long now = reply.get(0).toLong();
        JsonArray items = new JsonArray();
        for (int i = 1; i + 2 < reply.size(); i += 3) {
          String node = reply.get(i).toString();
          long heartbeat = reply.get(i + 1).toLong();
          JsonObject item = new JsonObject(reply.get(i + 2).toString()).put("name", node)
            .put("heartbeat_age_ms", Math.max(0, now - heartbeat))
            .put("running_tasks", byNode == null ? null : byNode.getLong(node, 0L));
          String started = item.getString("started_at");
          item.put("uptime_ms", started == null ? null : Math.max(0, now - Instant.parse(started).toEpochMilli()));
          item.put("this_node", node.equals(name));
          items.add(item);
        }
        return new JsonObject().put("items", items).put("running_unknown", byNode == null);
      }));
  }

  /** nodes.stats (admins): task completions per minute over the last hour, cluster-wide, and latency per queue. */
  private Future<JsonObject> stats(JsonObject ignored) {
    long current = System.currentTimeMillis() / 60_000;
    List<String> fields = new java.util.ArrayList<>(List.of(COMPLETED));
    for (long minute = current - MINUTES_SHOWN + 1; minute <= current; minute++) {
      for (String outcome : OUTCOMES) {
        fields.add(minute + ":" + outcome);
      }
    }
    return Caller.requireAdmin("see the statistics").compose(admin -> requireRedis())
      .compose(admin -> redis.hmget(fields))
      .compose(values -> {
        JsonArray minutes = new JsonArray();
        JsonObject totals = new JsonObject();
        int index = 0;
        for (long minute = current - MINUTES_SHOWN + 1; minute <= current; minute++) {
          JsonObject item = new JsonObject().put("minute", Instant.ofEpochSecond(minute * 60).atOffset(ZoneOffset.UTC).toString());
          for (String outcome : OUTCOMES) {
            Response value = values.get(index++);
            long count = value == null ? 0 : value.toLong();
            item.put(outcome, count);
            totals.put(outcome, totals.getLong(outcome, 0L) + count);
          }
          minutes.add(item);
        }
        return Bus.<JsonObject>request(vertx, Addresses.Tasks.LATENCY, new JsonObject(), timeoutMs)
          .map(reply -> reply.body().getJsonArray("items"))
          .otherwise((JsonArray) null)
          .map(latency -> new JsonObject().put("throughput", minutes).put("last_hour", totals).put("latency", latency));
      });
  }

  /** Running tasks per node from the task room, or null when no node serves it now (the list still answers). */
  private Future<JsonObject> running() {
    return Bus.<JsonObject>request(vertx, Addresses.Tasks.RUNNING_BY_NODE, new JsonObject(), timeoutMs)
      .map(reply -> reply.body())
      .otherwise((JsonObject) null);
  }

  private Future<Void> requireRedis() {
    return redis != null ? Future.succeededFuture()
      : Future.failedFuture(verticles.common.Failure.UNAVAILABLE.exception("this node has no Redis to read the cluster's nodes from"));
  }
}
