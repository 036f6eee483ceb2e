package verticles.common;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.HashMap;
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
  private final GroupCommit<Long, User> lookups;

  public UserLookups(Vertx vertx, long timeoutMs, MeterRegistry registry) {
    this.vertx = vertx;
    this.timeoutMs = timeoutMs;
    this.lookups = new GroupCommit<>(MOST, GroupCommit.sizes(registry, "pulse.identity.lookup.batch.size",
      "users asked of identity in one message"), this::ask);
  }

  /** The user, or null when there is no such user. */
  public Future<User> lookup(long id) {
    return lookups.add(id);
  }

  private Future<?> ask(List<GroupCommit.Pending<Long, User>> batch) {
    JsonArray ids = new JsonArray(batch.stream().map(GroupCommit.Pending::item).distinct().toList());
    return vertx.eventBus().<JsonObject>request(Addresses.Identity.LOOKUP, new JsonObject().put("ids", ids),
        new DeliveryOptions().setSendTimeout(timeoutMs))
      .onSuccess(reply -> {
        Map<Long, User> found = new HashMap<>();
        reply.body().getJsonArray("users").forEach(item -> {
          JsonObject user = (JsonObject) item;
          found.put(user.getLong("id"), new User(user.getLong("id"), user.getString("role"), user.getString("status"),
            user.getInteger("token_version")));
        });
        batch.forEach(each -> each.answer().complete(found.get(each.item())));
      });
  }
}
