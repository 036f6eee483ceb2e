package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.redis.client.RedisAPI;
import io.vertx.redis.client.Response;
import verticles.common.LuaScript;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The Redis backlog, per queue: {@code ready} (sorted by priority, then age), {@code delayed}
 * (by due time; members are "priority|id") and {@code leased} (by lease expiry; its size is
 * what runs now, cluster-wide). Every move between them is one Lua script, so it is atomic
 * whatever the number of dispatchers, and time is Redis's own clock. PostgreSQL stays the
 * truth: anything lost here is pushed again by the reconciler.
 */
final class Backlog {

  static final String QUEUES = "tasks:queues";

  /** A task waiting in a queue: its id, priority (0-9, 9 first) and when it is due (epoch ms). */
  record Waiting(long id, int priority, long dueMs) {
  }

  /** How many tasks of a queue are ready, delayed and running (leased) right now. */
  record Depth(long ready, long delayed, long running) {
  }

  /**
   * Pops up to ARGV[2] ready ids into leased (lease of ARGV[1] ms), within the queue's pause,
   * concurrency and per-second rate limits. KEYS: ready, leased, limits, rate counter prefix.
   */
  private static final LuaScript TAKE = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    local limits = redis.call('HMGET', KEYS[3], 'paused', 'concurrency', 'rate')
    if limits[1] == '1' then return {} end
    local n = tonumber(ARGV[2])
    if limits[2] then
      local free = tonumber(limits[2]) - redis.call('ZCARD', KEYS[2])
      if free < n then n = free end
    end
    local rateKey = KEYS[4] .. ':' .. t[1]
    if limits[3] then
      local left = tonumber(limits[3]) - tonumber(redis.call('GET', rateKey) or '0')
      if left < n then n = left end
    end
    if n <= 0 then return {} end
    local popped = redis.call('ZPOPMIN', KEYS[1], n)
    local ids = {}
    for i = 1, #popped, 2 do
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), popped[i])
      ids[#ids + 1] = popped[i]
    end
    if limits[3] and #ids > 0 then
      redis.call('INCRBY', rateKey, #ids)
      redis.call('PEXPIRE', rateKey, 2000)
    end
    return ids
    """);

  /** Moves up to ARGV[1] due delayed members to ready; returns their ids. KEYS: delayed, ready. */
  private static final LuaScript PROMOTE = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
    local ids = {}
    for i, member in ipairs(due) do
      local bar = string.find(member, '|', 1, true)
      local priority = tonumber(string.sub(member, 1, bar - 1))
      local id = string.sub(member, bar + 1)
      redis.call('ZREM', KEYS[1], member)
      redis.call('ZADD', KEYS[2], (9 - priority) * 1e13 + now, id)
      ids[#ids + 1] = id
    end
    return ids
    """);

  /** Drops leases that ended at least ARGV[1] ms ago (their holder stopped renewing); returns the ids. KEYS: leased. */
  private static final LuaScript EXPIRE = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 1000)
    for i, id in ipairs(gone) do redis.call('ZREM', KEYS[1], id) end
    return gone
    """);

  /**
   * ARGV: triples (id, priority, due ms) that PostgreSQL says wait. Puts back each id found in
   * none of the three sets; returns their ids. KEYS: ready, delayed, leased.
   */
  private static final LuaScript RESTORE = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    local restored = {}
    for i = 1, #ARGV, 3 do
      local id = ARGV[i]
      local priority = tonumber(ARGV[i + 1])
      local due = tonumber(ARGV[i + 2])
      if not redis.call('ZSCORE', KEYS[1], id) and not redis.call('ZSCORE', KEYS[3], id)
         and not redis.call('ZSCORE', KEYS[2], priority .. '|' .. id) then
        if due <= now then
          redis.call('ZADD', KEYS[1], (9 - priority) * 1e13 + now, id)
        else
          redis.call('ZADD', KEYS[2], due, priority .. '|' .. id)
        end
        restored[#restored + 1] = id
      end
    end
    return restored
    """);

  /** Ready now, ordered by priority then age. ARGV: the queue's name, then pairs (id, priority). KEYS: ready, the queue set. */
  private static final LuaScript PUSH_READY = new LuaScript("""
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    for i = 2, #ARGV, 2 do
      redis.call('ZADD', KEYS[1], 'NX', (9 - tonumber(ARGV[i + 1])) * 1e13 + now, ARGV[i])
    end
    redis.call('SADD', KEYS[2], ARGV[1])
    return 1
    """);

  private final RedisAPI redis;

  Backlog(RedisAPI redis) {
    this.redis = redis;
  }

  static String ready(String queue) {
    return "tasks:ready:" + queue;
  }

  static String delayed(String queue) {
    return "tasks:delayed:" + queue;
  }

  static String leased(String queue) {
    return "tasks:leased:" + queue;
  }

  static String limits(String queue) {
    return "tasks:limits:" + queue;
  }

  /** Ready now, one script for all (their due times are ignored). */
  Future<Void> pushReady(String queue, Collection<Waiting> tasks) {
    if (tasks.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> args = new ArrayList<>(List.of(queue));
    for (Waiting task : tasks) {
      args.add(String.valueOf(task.id()));
      args.add(String.valueOf(task.priority()));
    }
    return PUSH_READY.run(redis, List.of(ready(queue), QUEUES), args).mapEmpty();
  }

  /** Due later, by due time. */
  Future<Void> pushDelayed(String queue, Collection<Waiting> tasks) {
    if (tasks.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> args = new ArrayList<>(List.of(delayed(queue)));
    for (Waiting task : tasks) {
      args.add(String.valueOf(task.dueMs()));
      args.add(task.priority() + "|" + task.id());
    }
    return redis.zadd(args).compose(ignored -> redis.sadd(List.of(QUEUES, queue))).mapEmpty();
  }

  Future<List<Long>> take(String queue, int max, long leaseMs) {
    return TAKE.run(redis, List.of(ready(queue), leased(queue), limits(queue), "tasks:rate:" + queue),
      List.of(String.valueOf(leaseMs), String.valueOf(max))).map(Backlog::ids);
  }

  Future<List<Long>> promote(String queue) {
    return PROMOTE.run(redis, List.of(delayed(queue), ready(queue)), List.of("500")).map(Backlog::ids);
  }

  /**
   * The leases of a queue that ended over a second ago, dropped. A lease ends in Redis a moment
   * before it does in PostgreSQL (the take precedes the claim): the second makes sure PostgreSQL
   * sees it ended too when it is asked.
   */
  Future<List<Long>> expireLeases(String queue) {
    return EXPIRE.run(redis, List.of(leased(queue)), List.of("1000")).map(Backlog::ids);
  }

  /** Extends the leases this node still holds (XX: a lease already taken away stays away). */
  Future<Void> renew(String queue, Collection<Long> ids, long leaseMs) {
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    return redis.time().compose(time -> {
      long now = time.get(0).toLong() * 1000 + time.get(1).toLong() / 1000;
      List<String> args = new ArrayList<>(List.of(leased(queue), "XX"));
      for (Long id : ids) {
        args.add(String.valueOf(now + leaseMs));
        args.add(String.valueOf(id));
      }
      return redis.zadd(args).mapEmpty();
    });
  }

  /** Ends these leases (the tasks finished, or were handed back). */
  Future<Void> release(String queue, Collection<Long> ids) {
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> args = new ArrayList<>(List.of(leased(queue)));
    ids.forEach(id -> args.add(String.valueOf(id)));
    return redis.zrem(args).mapEmpty();
  }

  /** Removes a task from ready and delayed (cancel); the claim in PostgreSQL would refuse it anyway. */
  Future<Void> forget(String queue, long id, int priority) {
    return redis.zrem(List.of(ready(queue), String.valueOf(id)))
      .compose(ignored -> redis.zrem(List.of(delayed(queue), priority + "|" + id))).mapEmpty();
  }

  /** Removes many tasks from ready and delayed at once (a bulk cancel): one ZREM per set. */
  Future<Void> forget(String queue, Collection<Waiting> tasks) {
    if (tasks.isEmpty()) {
      return Future.succeededFuture();
    }
    List<String> ready = new ArrayList<>(List.of(ready(queue)));
    List<String> delayed = new ArrayList<>(List.of(delayed(queue)));
    for (Waiting task : tasks) {
      ready.add(String.valueOf(task.id()));
      delayed.add(task.priority() + "|" + task.id());
    }
    return redis.zrem(ready).compose(ignored -> redis.zrem(delayed)).mapEmpty();
  }

  /** Tasks that PostgreSQL says wait in this queue: restores the missing ones, returns their ids. */
  Future<List<Long>> restore(String queue, Collection<Waiting> waiting) {
    if (waiting.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    List<String> args = new ArrayList<>();
    for (Waiting task : waiting) {
      args.add(String.valueOf(task.id()));
      args.add(String.valueOf(task.priority()));
      args.add(String.valueOf(task.dueMs()));
    }
    return RESTORE.run(redis, List.of(ready(queue), delayed(queue), leased(queue)), args).map(Backlog::ids);
  }

  Future<List<String>> queues() {
    return redis.smembers(QUEUES).map(reply -> {
      List<String> names = new ArrayList<>();
      reply.forEach(name -> names.add(name.toString()));
      return names;
    });
  }

  /** Copies a queue's limits from PostgreSQL (the truth) into Redis, where the take script reads them. */
  Future<Void> writeLimits(String queue, boolean paused, Integer concurrency, Integer rate) {
    List<String> set = new ArrayList<>(List.of(limits(queue), "paused", paused ? "1" : "0"));
    List<String> unset = new ArrayList<>(List.of(limits(queue)));
    if (concurrency != null) {
      set.addAll(List.of("concurrency", String.valueOf(concurrency)));
    } else {
      unset.add("concurrency");
    }
    if (rate != null) {
      set.addAll(List.of("rate", String.valueOf(rate)));
    } else {
      unset.add("rate");
    }
    Future<?> removed = unset.size() > 1 ? redis.hdel(unset) : Future.succeededFuture();
    return removed.compose(ignored -> redis.hset(set)).compose(ignored -> redis.sadd(List.of(QUEUES, queue))).mapEmpty();
  }

  Future<Depth> depth(String queue) {
    return redis.zcard(ready(queue)).compose(ready -> redis.zcard(delayed(queue)).compose(delayed ->
      redis.zcard(leased(queue)).map(leased -> new Depth(ready.toLong(), delayed.toLong(), leased.toLong()))));
  }

  private static List<Long> ids(Response reply) {
    List<Long> ids = new ArrayList<>();
    if (reply != null) {
      reply.forEach(id -> ids.add(id.toLong()));
    }
    return ids;
  }
}
