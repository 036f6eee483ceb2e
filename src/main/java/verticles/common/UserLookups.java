package verticles.common;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who users are right now (role, status, token version), asked of the identity service for many
 * at once: the lookups that arrive while one question is on its way share the next one (one
 * message, one query). Nothing is cached: every answer is read after the request that needs it
 * arrived, so a deleted, disabled, demoted or re-passworded user is seen as such at once. One
 * per verticle instance (not thread-safe).
 */
public final class UserLookups {

  private static final int MOST = 500;

  /** A user as identity knows them now. */
  public record User(long id, String role, String status, int tokenVersion) {
    public boolean active() {
      return "active".equals(status);
    }
  }

  private final Vertx vertx;
  private final long timeoutMs;
  private final Map<Long, List<Promise<User>>> waiting = new LinkedHashMap<>();
  private boolean asking;

  public UserLookups(Vertx vertx, long timeoutMs) {
    this.vertx = vertx;
    this.timeoutMs = timeoutMs;
  }

  /** The user, or null when there is no such user. */
  public Future<User> lookup(long id) {
    Promise<User> answer = Promise.promise();
    waiting.computeIfAbsent(id, key -> new ArrayList<>()).add(answer);
    if (!asking) {
      ask();
    }
    return RequestContext.here(answer.future());
  }

  private void ask() {
    if (waiting.isEmpty()) {
      asking = false;
      return;
    }
    asking = true;
    Map<Long, List<Promise<User>>> batch = new LinkedHashMap<>();
    for (Long id : List.copyOf(waiting.keySet())) {
      if (batch.size() == MOST) {
        break;
      }
      batch.put(id, waiting.remove(id));
    }
    vertx.eventBus().<JsonObject>request(Addresses.Identity.LOOKUP, new JsonObject().put("ids", new JsonArray(List.copyOf(batch.keySet()))),
        new DeliveryOptions().setSendTimeout(timeoutMs))
      .onComplete(reply -> {
        if (reply.succeeded()) {
          Map<Long, User> found = new LinkedHashMap<>();
          reply.result().body().getJsonArray("users").forEach(item -> {
            JsonObject user = (JsonObject) item;
            found.put(user.getLong("id"), new User(user.getLong("id"), user.getString("role"), user.getString("status"),
              user.getInteger("token_version")));
          });
          batch.forEach((id, answers) -> answers.forEach(answer -> answer.complete(found.get(id))));
        } else {
          batch.values().forEach(answers -> answers.forEach(answer -> answer.fail(reply.cause())));
        }
        ask();
      });
  }
}
