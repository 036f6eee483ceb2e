package verticles.tasks;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import verticles.common.Addresses;

/** Publishes each task state change to its owner and to admins (watchers only: a publish can be missed). */
final class TaskEvents {

  private final Vertx vertx;

  TaskEvents(Vertx vertx) {
    this.vertx = vertx;
  }

  void changed(JsonObject task) {
    JsonObject event = new JsonObject().put("type", "task." + task.getString("status")).put("task", task);
    vertx.eventBus().publish(Addresses.Events.user(task.getLong("owner_id")), event);
    vertx.eventBus().publish(Addresses.Events.ADMIN, event);
  }

  void scheduleChanged(JsonObject schedule, String what) {
    JsonObject event = new JsonObject().put("type", "schedule." + what).put("schedule", schedule);
    vertx.eventBus().publish(Addresses.Events.user(schedule.getLong("owner_id")), event);
    vertx.eventBus().publish(Addresses.Events.ADMIN, event);
  }
}
