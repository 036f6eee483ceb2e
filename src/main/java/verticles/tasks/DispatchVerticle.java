package verticles.tasks;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.RebuildableRedis;
import verticles.common.RedisStore;
import verticles.common.Tracing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Moves tasks from the Redis backlog to their handlers (one instance per core): takes ready ids
 * with a lease, claims them in PostgreSQL (the attempt number is the fencing token), sends each
 * to {@code task.<type>} on the bus, and records the outcome (see {@link Outcomes}). It renews
 * the leases it holds, re-delivers at once what a cluster member that left had taken, and on
 * stop hands back what it still holds. When its takes stop succeeding it has its Redis client
 * replaced (see {@link TakeWatch}); each delivery runs in the trace of the request that
 * submitted the task.
 */
public class DispatchVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(DispatchVerticle.class);
  /** A delivery no node has said it holds after this long, when a member leaves, is presumed to have gone with it. */
  private static final long UNACKNOWLEDGED_MS = 2000;
  /** When a member left, a delivery sent before that and still unacknowledged this much later is presumed lost. */
  private static final long LATE_ACKNOWLEDGEMENT_MS = 10_000;

  /** A task this dispatcher holds the lease of, until its outcome is written. */
  record Lease(String queue, int attempt) {
  }

  /** A task sent to its handler, not answered yet. */
  private record Sent(JsonObject task, long atMs) {
  }

  private Pool pool;
  private Backlog backlog;
  private TaskEvents events;
  private TaskMeters meters;
  private Outcomes outcomes;
  private Dependency postgres;
  private Dependency redis;
  private RebuildableRedis redisClient;
  private TakeWatch takes;
  private String node;
  private long leaseMs;
  private int capacity;
  private final String id = UUID.randomUUID().toString();

  private final Map<Long, Lease> leases = new HashMap<>();
  private final Map<Long, Sent> sent = new HashMap<>();
  /** Task id → the cluster node that said it holds the task. */
  private final Map<Long, String> holders = new HashMap<>();
  private final Set<String> queues = new LinkedHashSet<>(List.of(TaskSpec.DEFAULT_QUEUE));
  /**
   * The queues worth a take on the next poll: woken, given back a slot, or full at the last take.
   * A take that comes back short (empty, paused or limited) leaves its queue out until one of
   * those happens again, or the periodic look (every 100 ms) puts every queue back in.
   */
  private final Set<String> mayHaveWork = new LinkedHashSet<>(queues);
  private final List<Long> timers = new ArrayList<>();
  /** Ids taken from Redis whose claim in PostgreSQL is under way: they hold slots too. */
  private int claiming;
  private boolean polling;
  private boolean pollAgain;
  private boolean pollQueued;
  private boolean stopping;
  /** Apart from the other timers: leases are renewed until the very end of a stop, while tasks finish. */
  private long renewTimer;

  /**
   * A node runs one per core (at most one per slot of TASK_NODE_CONCURRENCY), so that claims and
   * outcomes are spread over the event loops instead of queueing on one.
   */
  public static int instances(JsonObject config) {
    return Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), config.getInteger(Config.TASK_NODE_CONCURRENCY)));
  }

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    redisClient = RedisStore.rebuildable(vertx, config());
    RedisAPI client = RedisAPI.api(redisClient);
    backlog = new Backlog(client);
    takes = TakeWatch.register(redisClient, BackendRegistries.getNow(config().getString(Config.NODE_NAME)));
    events = new TaskEvents(vertx);
    meters = new TaskMeters(BackendRegistries.getNow(config().getString(Config.NODE_NAME)));
    postgres = Dependency.postgres(vertx, config(), pool);
    redis = Dependency.redis(vertx, config(), client);
    outcomes = new Outcomes(vertx, pool, backlog, events, meters, postgres, redis, new Notifier(vertx, pool, postgres),
      leases::remove, freed -> {
        mayHaveWork.addAll(freed);  // a concurrency limit may let the next one in
        poll();
      });
    node = config().getString(Config.NODE_NAME);
    leaseMs = config().getInteger(Config.TASK_LEASE_MS);
    capacity = (int) Math.ceil(config().getInteger(Config.TASK_NODE_CONCURRENCY) / (double) instances(config()));

    vertx.eventBus().<String>consumer(Addresses.Tasks.WAKEUP, message -> pollQueue(message.body()));
    vertx.eventBus().<String>consumer(Addresses.Tasks.LIMITS_CHANGED, message -> pollQueue(message.body()));
    vertx.eventBus().<JsonObject>consumer(Addresses.Tasks.dispatcher(id),
      message -> holders.put(message.body().getLong("task_id"), message.body().getString("node")));
    vertx.eventBus().<String>localConsumer(Addresses.Cluster.NODE_LEFT, message -> memberLeft(message.body()));
    timers.add(vertx.setPeriodic(100, ignored -> pollQueue(null)));
    timers.add(vertx.setPeriodic(2000, ignored -> learnQueues()));
    timers.add(vertx.setPeriodic(1000, ignored -> takes.check()));
    renewTimer = vertx.setPeriodic(Math.max(100, leaseMs / 3), ignored -> renew());
    learnQueues();
    return Future.succeededFuture();
  }

  /** SIGTERM: no lease is left behind (running tasks finish, or go straight back to their queue). */
  @Override
  public Future<?> stop() {
    stopping = true;
    timers.forEach(vertx::cancelTimer);
    takes.unregister();
    long deadline = System.currentTimeMillis() + Math.min(3000, config().getInteger(Config.SHUTDOWN_GRACE_MS));
    return drain(deadline).compose(ignored -> {
      vertx.cancelTimer(renewTimer);
      if (leases.isEmpty()) {
        return Future.succeededFuture();
      }
      Map<Long, Lease> left = new HashMap<>(leases);
      return pool.preparedQuery(TaskSql.RETURN_LEASES).execute(Tuple.of(inLockOrder(left.keySet()), node))
        .compose(rows -> {
          log.info("returned {} running task(s) to their queues", rows.size());
          return Future.all(Outcomes.requeued(backlog, events, rows), outcomes.release(byQueue(left))).mapEmpty();
        });
    });
  }

  private Future<Void> drain(long deadline) {
    if (leases.isEmpty() && claiming == 0 || System.currentTimeMillis() >= deadline) {
      return Future.succeededFuture();
    }
    return vertx.timer(100).compose(ignored -> drain(deadline));
  }

  // ---- take, claim, deliver ----

  /** Polls one queue (a queue this node has not seen yet starts at once), or every queue (null). */
  private void pollQueue(String queue) {
    if (queue == null) {
      mayHaveWork.addAll(queues);
    } else {
      queues.add(queue);
      mayHaveWork.add(queue);
    }
    poll();
  }

  private void poll() {
    if (stopping || !redis.mayTry() || !postgres.mayTry()) {
      return;
    }
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    takeFrom(new ArrayList<>(mayHaveWork), 0, 0).onComplete(taken -> {
      polling = false;
      if (taken.succeeded() && taken.result() > 0 || pollAgain) {
        pollAgain = false;
        vertx.runOnContext(ignored -> poll());
      }
    });
  }

  /** Polls once the answers already queued on this event loop are handled: one take for a burst of them. */
  private void pollSoon() {
    if (!pollQueued) {
      pollQueued = true;
      vertx.runOnContext(ignored -> {
        pollQueued = false;
        poll();
      });
    }
  }

  /**
   * Takes from each queue in turn as many ids as there are free slots (Redis refuses what a
   * queue's pause, concurrency or rate forbids). The claim runs on its own: the next take does
   * not wait for it (its ids hold their slots meanwhile), so one slow commit does not hold up the
   * tasks behind it. A queue is taken out of {@link #mayHaveWork} as its take starts and put back
   * if the take filled every free slot (more may wait) or failed, so a wake-up that arrives during
   * the take is not lost.
   */
  private Future<Integer> takeFrom(List<String> names, int index, int taken) {
    // A slot is free once its handler answered; writing the outcome is bookkeeping, not work.
    // Outcomes not yet written are bounded too, so a slow database slows the taking down.
    int free = Math.min(capacity - sent.size() - claiming, 4 * capacity - leases.size() - claiming);
    if (index >= names.size() || free <= 0) {
      return Future.succeededFuture(taken);
    }
    String queue = names.get(index);
    mayHaveWork.remove(queue);
    takes.attempted();
    return backlog.take(queue, free, leaseMs)
      .map(ids -> {
        redis.answered();
        takes.succeeded();
        meters.take(queue, !ids.isEmpty()).increment();
        if (ids.size() >= free) {
          mayHaveWork.add(queue);
        }
        if (!ids.isEmpty()) {
          claiming += ids.size();
          claim(queue, ids).onComplete(claimed -> {
            claiming -= ids.size();
            if (claimed.failed()) {
              // The ids stay leased in Redis until their lease ends; then the housekeeper puts them back.
              postgres.failed(claimed.cause());
            } else if (claimed.result() < ids.size()) {
              mayHaveWork.add(queue);  // the ids PostgreSQL refused gave their leases back
            }
            poll();
          });
        }
        return ids.size();
      })
      .otherwise(error -> {
        redis.failed(error);
        mayHaveWork.add(queue);
        return 0;
      })
      .compose(count -> redis.isDown() ? Future.succeededFuture(taken) : takeFrom(names, index + 1, taken + count));
  }

  private Future<Integer> claim(String queue, List<Long> ids) {
    return pool.preparedQuery(TaskSql.CLAIM).execute(Tuple.of(inLockOrder(ids), leaseMs, node)).compose(rows -> {
      postgres.answered();
      Set<Long> claimed = new HashSet<>();
      for (Row row : rows) {
        claimed.add(row.getLong("id"));
        meters.waited(row);
        deliver(TaskJson.task(row), row.getString("trace_context"));
      }
      List<Long> unclaimed = new ArrayList<>(ids);
      unclaimed.removeAll(claimed);
      return putBack(queue, unclaimed).map(claimed.size());
    });
  }

  /** Ids Redis handed out that PostgreSQL would not let us run: cancelled or finished ones are dropped, early ones go back. */
  private Future<Void> putBack(String queue, List<Long> ids) {
    if (ids.isEmpty()) {
      return Future.succeededFuture();
    }
    return backlog.release(queue, ids)
      .compose(ignored -> pool.preparedQuery(TaskSql.STILL_WAITING).execute(Tuple.of((Object) ids.toArray(new Long[0]))))
      .compose(rows -> {
        List<Backlog.Waiting> early = new ArrayList<>();
        for (Row row : rows) {
          early.add(new Backlog.Waiting(row.getLong("id"), row.getShort("priority"), row.getOffsetDateTime("run_at").toInstant().toEpochMilli()));
        }
        return backlog.pushDelayed(queue, early);
      });
  }

  /**
   * Sends the task to its handler. The receiving node says it has it (at this dispatcher's own
   * address), so that if that node leaves the cluster the task is re-delivered at once rather
   * than after its timeout. The delivery runs in the trace of the request that submitted the task.
   */
  private void deliver(JsonObject task, String traceContext) {
    long taskId = task.getLong("id");
    int attempt = task.getInteger("attempts");
    leases.put(taskId, new Lease(task.getString("queue"), attempt));
    sent.put(taskId, new Sent(task, System.currentTimeMillis()));
    events.changed(task);
    int timeoutMs = task.getInteger("timeout_ms");
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs)
      .addHeader(BusHeaders.REQUEST_ID, "task-" + taskId + "-" + attempt)
      .addHeader(BusHeaders.USER_ID, String.valueOf(task.getLong("owner_id")))
      .addHeader(BusHeaders.ROLES, "user")
      .addHeader(BusHeaders.IDEMPOTENCY_KEY, "task:" + taskId)
      .addHeader(BusHeaders.TASK_ID, String.valueOf(taskId))
      .addHeader(BusHeaders.ATTEMPT, String.valueOf(attempt))
      .addHeader(BusHeaders.TIMEOUT_MS, String.valueOf(timeoutMs * 9 / 10))
      .addHeader(BusHeaders.DISPATCHER, Addresses.Tasks.dispatcher(id));
    long began = System.nanoTime();
    Tracing.inSpan(vertx, traceContext, "task " + task.getString("type"), Map.of("task.id", String.valueOf(taskId),
        "task.attempt", String.valueOf(attempt), "task.queue", task.getString("queue")),
        () -> vertx.eventBus().<Object>request(Addresses.Tasks.handler(task.getString("type")), task.getJsonObject("payload"), options))
      .onComplete(result -> {
        if (sent.remove(taskId) == null) {
          return;  // already given up on: its node left the cluster
        }
        holders.remove(taskId);
        meters.duration(task.getString("type")).record(Duration.ofNanos(System.nanoTime() - began));
        pollSoon();
        answered(task, attempt, result);
      });
  }

  private void answered(JsonObject task, int attempt, AsyncResult<Message<Object>> result) {
    if (result.succeeded()) {
      Object reply = result.result().body();
      outcomes.succeeded(task, attempt, reply instanceof JsonObject json ? json : new JsonObject().put("value", reply));
    } else {
      outcomes.failed(task, attempt, result.cause(), false);
    }
  }

  /**
   * A cluster member left: what it held (or, unacknowledged, may have held) will never be
   * answered. It is recorded as a retryable failure and queued again at once.
   */
  private void memberLeft(String member) {
    long leftAt = System.currentTimeMillis();
    requeueLost(member, leftAt);
    // A delivery sent just before the member left, to it, will never be acknowledged: still
    // unacknowledged long after, it is presumed lost too (rather than waiting out its timeout).
    // Long, because a busy live node acknowledges late, and each presumption runs a task again.
    vertx.setTimer(LATE_ACKNOWLEDGEMENT_MS, ignored -> requeueLost(member, leftAt));
  }

  /**
   * Re-delivers what {@code member} said it held, and what was sent before {@code leftAt}, or up
   * to {@link #UNACKNOWLEDGED_MS} after, and never acknowledged in time. After too: for a moment
   * after a member leaves, the cluster's map of consumers still lists it, and a delivery routed to
   * it then is lost (seen in PeerCrashTest: a task sent as the member left waited for its whole
   * timeout).
   */
  private void requeueLost(String member, long leftAt) {
    long now = System.currentTimeMillis();
    List<Long> lost = new ArrayList<>();
    sent.forEach((taskId, delivery) -> {
      String holder = holders.get(taskId);
      if (member.equals(holder)
          || holder == null && delivery.atMs() <= leftAt + UNACKNOWLEDGED_MS && now - delivery.atMs() > UNACKNOWLEDGED_MS) {
        lost.add(taskId);
      }
    });
    if (!lost.isEmpty()) {
      log.warn("cluster member {} left holding {} task(s) sent from here; queueing them again", member, lost.size());
    }
    for (long taskId : lost) {
      Sent delivery = sent.remove(taskId);
      holders.remove(taskId);
      outcomes.failed(delivery.task(), delivery.task().getInteger("attempts"),
        Failure.UNAVAILABLE.exception("the node running it left the cluster"), true);
    }
    pollSoon();
  }

  // ---- leases ----

  private void renew() {
    if (!postgres.mayTry()) {
      return;
    }
    byQueue(leases).forEach((queue, ids) -> pool.preparedQuery(TaskSql.RENEW).execute(Tuple.of(inLockOrder(ids), leaseMs, node))
      .onFailure(postgres::failed)
      .compose(ignored -> backlog.renew(queue, ids, leaseMs).onFailure(redis::failed)));
  }

  /** Queue names from PostgreSQL and Redis, so that every queue with work is asked for it. */
  private void learnQueues() {
    if (!postgres.mayTry()) {
      return;
    }
    pool.query(TaskSql.QUEUES).execute()
      .onSuccess(rows -> rows.forEach(row -> queues.add(row.getString("name"))))
      .onFailure(postgres::failed);
  }

  /**
   * Ids sorted ascending. Every statement that updates many tasks (claim, succeed, renew) walks
   * its ids in this order, so two of them never lock the same rows in opposite orders (a
   * renewal and a success batch did deadlock before).
   */
  static Long[] inLockOrder(Collection<Long> ids) {
    return ids.stream().sorted().toArray(Long[]::new);
  }

  /** Held leases as their ids per queue. */
  private static Map<String, List<Long>> byQueue(Map<Long, Lease> leases) {
    Map<String, List<Long>> byQueue = new HashMap<>();
    leases.forEach((taskId, lease) -> byQueue.computeIfAbsent(lease.queue(), q -> new ArrayList<>()).add(taskId));
    return byQueue;
  }
}
