package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Addresses;
import verticles.common.GroupCommit;
import verticles.common.Tracing;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes tasks: the row in PostgreSQL first (the truth), then, after the commit, the id in the
 * Redis backlog, and a wake-up for the dispatchers. A push that fails loses nothing: the
 * reconciler restores it from PostgreSQL. Used by the task API and by the cron scheduler. Each task
 * keeps the trace context of the request that made it, so that its execution joins that trace.
 */
final class Submissions {

  private final Vertx vertx;
  private final Pool pool;
  private final Backlog backlog;
  private final TaskEvents events;
  private final TaskMeters meters;
  /** Queues already known to have their row in PostgreSQL (rows are never deleted). */
  private final Set<String> knownQueues = new HashSet<>();
  private final Set<String> toWake = new LinkedHashSet<>();
  private boolean wakeWindowOpen;
  private static final int MOST_PER_GROUP = 500;
  private final GroupCommit<Item, Made> singles;

  Submissions(Vertx vertx, Pool pool, Backlog backlog, TaskEvents events, TaskMeters meters) {
    this.vertx = vertx;
    this.pool = pool;
    this.backlog = backlog;
    this.events = events;
    this.meters = meters;
    this.singles = new GroupCommit<>(MOST_PER_GROUP, GroupCommit.sizes(meters.registry(), "pulse.tasks.submit.group",
      "single submits written in one INSERT"), this::writeGroup);
  }

  /** The new task, or null when its idempotency key or cron occurrence already has one. */
  Future<JsonObject> insert(long owner, TaskSpec spec, Long scheduleId, String occurrence) {
    Tuple args = Tuple.of(owner, spec.type(), spec.queue(), spec.priority(), spec.payload(), spec.maxAttempts())
      .addValue(spec.backoff().json())
      .addValue(spec.timeoutMs())
      .addValue(spec.runAt())
      .addValue(spec.idempotencyKey())
      .addValue(scheduleId)
      .addValue(occurrence)
      .addValue(spec.notifyAddress())
      .addValue(Tracing.current());
    return ensureQueues(Set.of(spec.queue()))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT).execute(args))
      .compose(rows -> {
        if (rows.size() == 0) {
          return Future.succeededFuture(null);
        }
        JsonObject task = TaskJson.task(rows.iterator().next());
        meters.submitted(spec.type()).increment();
        events.changed(task);
        List<Backlog.Waiting> one = List.of(new Backlog.Waiting(task.getLong("id"), spec.priority(), spec.runAt().toInstant().toEpochMilli()));
        boolean ready = "queued".equals(task.getString("status"));
        return (ready ? backlog.pushReady(spec.queue(), one) : backlog.pushDelayed(spec.queue(), one)).otherwiseEmpty().map(ignored -> {
          if (ready) {
            wake(spec.queue());
          }
          return task;
        });
      });
  }

  /** A task to make: its owner, what it is, and the trace context of the request that asks. */
  record Item(long owner, TaskSpec spec, String traceContext) {
  }

  /** What became of an item: its task (as the API shows it), and whether its key already had one. */
  record Made(JsonObject task, boolean replayed) {
  }

  /**
   * A single submit, with the others that arrive while a group is being written: one INSERT,
   * one commit and one push per queue for all of them (group commit). A lone submit is written
   * at once; a group holds at most {@value #MOST_PER_GROUP}.
   */
  Future<Made> submit(long owner, TaskSpec spec) {
    return singles.add(new Item(owner, spec, Tracing.current()));
  }

  private Future<?> writeGroup(List<GroupCommit.Pending<Item, Made>> group) {
    return insertMany(group.stream().map(GroupCommit.Pending::item).toList()).onSuccess(made -> {
      for (int i = 0; i < group.size(); i++) {
        group.get(i).answer().complete(made.get(i));
      }
    });
  }

  /**
   * Up to 1,000 tasks of one owner, all or none, in one INSERT (one commit) and one Redis script
   * per queue. Each answer item is {id, status, replayed}, in request order; a replayed item's
   * idempotency key already had a task.
   */
  Future<JsonObject> insertBatch(long owner, List<TaskSpec> specs) {
    String trace = Tracing.current();
    return insertMany(specs.stream().map(spec -> new Item(owner, spec, trace)).toList()).map(made -> {
      JsonArray items = new JsonArray();
      made.forEach(each -> items.add(new JsonObject().put("id", each.task().getLong("id")).put("status", each.task().getString("status"))
        .put("replayed", each.replayed())));
      return new JsonObject().put("items", items);
    });
  }

  /**
   * Items of any owners in one INSERT (one commit); then one Redis script per queue pushes the
   * new ones, and the replays (their key already had a task) are read back. Answers in order.
   */
  private Future<List<Made>> insertMany(List<Item> items) {
    int n = items.size();
    Long[] owners = new Long[n];
    String[] types = new String[n];
    String[] queues = new String[n];
    Short[] priorities = new Short[n];
    String[] payloads = new String[n];
    Integer[] maxAttempts = new Integer[n];
    String[] backoffs = new String[n];
    Integer[] timeouts = new Integer[n];
    OffsetDateTime[] runAts = new OffsetDateTime[n];
    String[] keys = new String[n];
    String[] notify = new String[n];
    String[] traces = new String[n];
    for (int i = 0; i < n; i++) {
      Item item = items.get(i);
      TaskSpec spec = item.spec();
      owners[i] = item.owner();
      types[i] = spec.type();
      queues[i] = spec.queue();
      priorities[i] = (short) spec.priority();
      payloads[i] = spec.payload().encode();
      maxAttempts[i] = spec.maxAttempts();
      backoffs[i] = spec.backoff().json().encode();
      timeouts[i] = spec.timeoutMs();
      runAts[i] = spec.runAt();
      keys[i] = spec.idempotencyKey();
      notify[i] = spec.notifyAddress();
      traces[i] = item.traceContext();
    }
    Tuple args = Tuple.of(owners, types, queues, priorities, payloads, maxAttempts)
      .addValue(backoffs).addValue(timeouts).addValue(runAts).addValue(keys).addValue(notify).addValue(traces);
    return ensureQueues(new HashSet<>(List.of(queues)))
      .compose(ignored -> pool.preparedQuery(TaskSql.INSERT_MANY).execute(args))
      .compose(rows -> {
        List<Made> made = new ArrayList<>(Collections.nCopies(n, null));
        Map<String, List<Backlog.Waiting>> ready = new HashMap<>();
        Map<String, List<Backlog.Waiting>> later = new HashMap<>();
        List<Integer> replays = new ArrayList<>();
        int i = 0;
        for (Row row : rows) {
          if (row.getValue("status") == null) {
            replays.add(i);
          } else {
            JsonObject task = TaskJson.task(row);
            made.set(i, new Made(task, false));
            meters.submitted(task.getString("type")).increment();
            events.changed(task);
            TaskSpec spec = items.get(i).spec();
            Backlog.Waiting waiting = new Backlog.Waiting(task.getLong("id"), spec.priority(), spec.runAt().toInstant().toEpochMilli());
            ("queued".equals(task.getString("status")) ? ready : later).computeIfAbsent(spec.queue(), q -> new ArrayList<>()).add(waiting);
          }
          i++;
        }
        List<Future<?>> pushes = new ArrayList<>();
        ready.forEach((queue, tasks) -> pushes.add(backlog.pushReady(queue, tasks).otherwiseEmpty().onComplete(ignored -> wake(queue))));
        later.forEach((queue, tasks) -> pushes.add(backlog.pushDelayed(queue, tasks).otherwiseEmpty()));
        return Future.join(pushes).transform(ignored -> replayed(items, replays, made)).map(made);
      });
  }

  /** Fills in the replayed items (their indexes) with the task each (owner, key) already had. */
  private Future<Void> replayed(List<Item> items, List<Integer> replays, List<Made> made) {
    if (replays.isEmpty()) {
      return Future.succeededFuture();
    }
    Long[] owners = replays.stream().map(index -> items.get(index).owner()).toArray(Long[]::new);
    String[] keys = replays.stream().map(index -> items.get(index).spec().idempotencyKey()).toArray(String[]::new);
    return pool.preparedQuery(TaskSql.FIND_BY_KEYS).execute(Tuple.of(owners, (Object) keys)).map(rows -> {
      Map<String, JsonObject> byKey = new HashMap<>();
      rows.forEach(row -> byKey.put(row.getLong("owner_id") + "\n" + row.getString("idempotency_key"), TaskJson.task(row)));
      for (int index : replays) {
        Item item = items.get(index);
        made.set(index, new Made(byKey.get(item.owner() + "\n" + item.spec().idempotencyKey()), true));
      }
      return null;
    });
  }

  private Future<Void> ensureQueues(Set<String> names) {
    List<Future<?>> inserts = new ArrayList<>();
    for (String queue : names) {
      if (!knownQueues.contains(queue)) {
        inserts.add(pool.preparedQuery(TaskSql.ENSURE_QUEUE).execute(Tuple.of(queue)).onSuccess(ignored -> knownQueues.add(queue)));
      }
    }
    return Future.all(inserts).mapEmpty();
  }

  /**
   * Tells every dispatcher that a queue has new work: at once for the first task, then at most
   * once per 1 ms window for a burst (the rest wait for the window's end), so a trickle of tasks
   * starts without delay and a flood does not flood the bus. Dispatchers also look every 100 ms.
   */
  void wake(String queue) {
    if (wakeWindowOpen) {
      toWake.add(queue);
      return;
    }
    vertx.eventBus().publish(Addresses.Tasks.WAKEUP, queue);
    wakeWindowOpen = true;
    vertx.setTimer(1, ignored -> {
      wakeWindowOpen = false;
      toWake.forEach(name -> vertx.eventBus().publish(Addresses.Tasks.WAKEUP, name));
      toWake.clear();
    });
  }
}
