package verticles.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Config;
import verticles.common.Role;

import java.util.ArrayList;
import java.util.List;

/**
 * Is Pulse ready to serve through this node? Each service role is asked over the bus for its
 * own checks (wherever in the cluster it runs), and this node adds its own cluster membership.
 * A role nobody serves counts as a failure: requests for it would fail.
 */
final class Readiness {

  private final Vertx vertx;
  private final long timeoutMs;

  Readiness(Vertx vertx, JsonObject config) {
    this.vertx = vertx;
    this.timeoutMs = config.getInteger(Config.HEALTH_TIMEOUT_MS) + 500L;
  }

  /** Never fails: {@code status} is "up" only when every check passed; {@code failed} names the rest. */
  Future<JsonObject> check() {
    JsonObject checks = new JsonObject();
    JsonArray failed = new JsonArray();
    if (vertx.isClustered()) {
      boolean member = ((VertxInternal) vertx).clusterManager().isActive();
      checks.put("http", new JsonObject().put("status", member ? "up" : "down")
        .put("checks", new JsonObject().put("cluster", member ? "ok" : "not a cluster member")));
      if (!member) {
        failed.add("http.cluster");
      }
    }
    List<Future<?>> answers = new ArrayList<>();
    for (Role role : Role.services()) {
      answers.add(Bus.<JsonObject>request(vertx, Addresses.Health.of(role), new JsonObject(), timeoutMs)
        .map(Message::body)
        .otherwise(error -> new JsonObject().put("status", "down").put("error", "no answer: " + error.getMessage()))
        .onSuccess(answer -> {
          checks.put(role.id, answer);
          if (!"up".equals(answer.getString("status"))) {
            failed.addAll(failures(role, answer));
          }
        }));
    }
    return Future.join(answers).transform(ignored -> Future.succeededFuture(new JsonObject()
      .put("status", failed.isEmpty() ? "up" : "down")
      .put("failed", failed)
      .put("checks", checks)));
  }

  private static JsonArray failures(Role role, JsonObject answer) {
    JsonArray names = new JsonArray();
    JsonObject checks = answer.getJsonObject("checks");
    if (checks == null) {
      names.add(role.id);
      return names;
    }
    checks.forEach(entry -> {
      if (!"ok".equals(entry.getValue())) {
        names.add(role.id + "." + entry.getKey());
      }
    });
    return names;
  }
}
