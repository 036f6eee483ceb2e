package verticles.tasks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import io.vertx.sqlclient.Row;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The per-task meters, looked up once per type, queue or outcome rather than registered anew for
 * every task (the dispatcher touches three of them per task).
 */
final class TaskMeters {

  private final MeterRegistry registry;
  private final Map<String, Counter> submitted = new ConcurrentHashMap<>();
  private final Map<String, Counter> completed = new ConcurrentHashMap<>();
  private final Map<String, Timer> durations = new ConcurrentHashMap<>();
  private final Map<String, Timer> waits = new ConcurrentHashMap<>();
  private final Map<String, Counter> takes = new ConcurrentHashMap<>();

  TaskMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  MeterRegistry registry() {
    return registry;
  }

  Counter submitted(String type) {
    return submitted.computeIfAbsent(type, t -> Counter.builder("pulse.tasks.submitted").tag("type", t).register(registry));
  }

  /** Outcome: succeeded, retried, failed or dead. */
  Counter completed(String type, String outcome) {
    return completed.computeIfAbsent(type + '\n' + outcome, key -> Counter.builder("pulse.tasks.completed")
      .tag("type", type).tag("outcome", outcome).register(registry));
  }

  /** How long a handler took, per task type. */
  Timer duration(String type) {
    return durations.computeIfAbsent(type, t -> Timer.builder("pulse.tasks.duration").tag("type", t)
      .publishPercentileHistogram().register(registry));
  }

  /** From ready to started, per queue (enqueue-to-start latency). */
  Timer wait(String queue) {
    return waits.computeIfAbsent(queue, q -> Timer.builder("pulse.tasks.wait").description("from ready to started")
      .tag("queue", q).publishPercentileHistogram().register(registry));
  }

  /** A take from a queue's Redis backlog: it handed out tasks, or none (empty, paused or limited). */
  Counter take(String queue, boolean gotTasks) {
    String result = gotTasks ? "tasks" : "none";
    return takes.computeIfAbsent(queue + '\n' + result, key -> Counter.builder("pulse.tasks.takes")
      .description("takes from a queue's Redis backlog").tag("queue", queue).tag("result", result).register(registry));
  }

  /**
   * A first attempt starting (a claimed task's row): how long it waited since it became ready.
   * A delayed task can be claimed before its mark as queued is written (no {@code queued_at}):
   * it became ready at its {@code run_at}.
   */
  void waited(Row task) {
    if (task.getInteger("attempts") != 1) {
      return;
    }
    OffsetDateTime queuedAt = task.getOffsetDateTime("queued_at");
    Duration wait = Duration.between(queuedAt != null ? queuedAt : task.getOffsetDateTime("run_at"), task.getOffsetDateTime("started_at"));
    wait(task.getString("queue")).record(wait.isNegative() ? Duration.ZERO : wait);
  }
}
