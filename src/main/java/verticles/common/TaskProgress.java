package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;

/**
 * For task handlers: report progress on the task being handled (any JSON, e.g.
 * {@code {"percent": 40}}). Fire and forget; a report from an attempt that lost its lease is
 * ignored, like its result would be.
 */
public final class TaskProgress {

  private TaskProgress() {
  }

  public static void report(Vertx vertx, Message<?> task, JsonObject progress) {
    String id = task.headers().get(BusHeaders.TASK_ID);
    String attempt = task.headers().get(BusHeaders.ATTEMPT);
    if (id != null && attempt != null) {
      vertx.eventBus().send(Addresses.Tasks.PROGRESS, new JsonObject().put("task_id", Long.parseLong(id))
        .put("attempt", Integer.parseInt(attempt)).put("progress", progress));
    }
  }
}
