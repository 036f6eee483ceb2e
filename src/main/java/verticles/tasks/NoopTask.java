package verticles.tasks;

import io.vertx.core.VerticleBase;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.TaskProgress;
import verticles.common.TaskTypes;

/**
 * The {@code noop} task: does nothing, for benchmarks and smoke tests. Its payload may ask it to
 * take time ({@code sleep_ms}, reporting 50 % progress half way) or to fail ({@code fail}:
 * "retryable" or "permanent"), which is how tests exercise retries, leases and crashes.
 */
public class NoopTask extends VerticleBase {

  @Override
  public Future<?> start() {
    String node = config().getString(Config.NODE_NAME);
    return Bus.<JsonObject>consume(vertx, Addresses.Tasks.handler(TaskTypes.NOOP), message -> {
      JsonObject payload = message.body() == null ? new JsonObject() : message.body();
      long sleep = payload.getLong("sleep_ms", 0L);
      Runnable answer = () -> {
        String fail = payload.getString("fail");
        if ("retryable".equals(fail)) {
          message.fail(Failure.UNAVAILABLE.code, "asked to fail (retryable)");
        } else if ("permanent".equals(fail)) {
          message.fail(Failure.VALIDATION.code, "asked to fail (permanent)");
        } else {
          message.reply(new JsonObject().put("ok", true).put("node", node).put("echo", payload.getValue("echo")));
        }
      };
      if (sleep > 0) {
        vertx.setTimer(Math.max(1, sleep / 2), ignored -> TaskProgress.report(vertx, message, new JsonObject().put("percent", 50)));
        vertx.setTimer(sleep, ignored -> answer.run());
      } else {
        answer.run();
      }
    }).completion();
  }
}
