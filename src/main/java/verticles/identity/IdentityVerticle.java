package verticles.identity;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Audit;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Failure;
import verticles.common.Jwt;
import verticles.common.Page;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;


/**
 * Owns users: registration, login (issues access tokens), user records, password hashes, and
 * the check every authenticated request makes that its token's user is still allowed in.
 * Also serves reads of the shared audit trail (bus areas identity.*, audit.*).
 */
public class IdentityVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(IdentityVerticle.class);

  private Pool pool;
  private Passwords passwords;
  private JWTAuth jwt;
  private AuditReader audit;

  @Override
  public Future<?> start() {
    int threads = config().getInteger(Config.PASSWORD_HASH_THREADS);
    pool = Database.pool(vertx, config());
    jwt = Jwt.auth(vertx, config());
    audit = new AuditReader(pool);
    return Passwords.create(vertx, threads > 0 ? threads : Runtime.getRuntime().availableProcessors())
      .compose(created -> {
        passwords = created;
        return bootstrapAdmin();
      })
      .compose(ignored -> {
        serveAll();
        return new ServiceHealth(vertx, Role.IDENTITY, config()).postgres(pool).serve();
      });
  }

  private void serveAll() {
    ServiceReplies.serve(vertx, Addresses.Identity.REGISTER, this::register);
    ServiceReplies.serve(vertx, Addresses.Identity.LOGIN, this::login);
    ServiceReplies.serve(vertx, Addresses.Identity.PRINCIPAL, this::principal);
    ServiceReplies.serve(vertx, Addresses.Identity.STATUS, this::status);
    ServiceReplies.serve(vertx, Addresses.Identity.LOOKUP, this::lookup);
    ServiceReplies.serve(vertx, Addresses.Identity.GET, this::get);
    ServiceReplies.serve(vertx, Addresses.Identity.LIST, this::list);
    ServiceReplies.serve(vertx, Addresses.Identity.UPDATE, this::update);
    ServiceReplies.serve(vertx, Addresses.Identity.DELETE, this::delete);
    ServiceReplies.serve(vertx, Addresses.Audit.LIST, body -> Caller.requireAdmin("read the audit trail").compose(ignored -> audit.page(body)));
  }

  @Override
  public Future<?> stop() {
    return passwords == null ? Future.succeededFuture() : passwords.close();
  }

  private Future<JsonObject> register(JsonObject body) {
    return passwords.hash(body.getString("password")).compose(hash -> pool.withTransaction(tx -> tx
      .preparedQuery(UserSql.INSERT)
      .execute(Tuple.of(body.getString("username"), body.getString("email"), hash))
      .compose(rows -> {
        JsonObject user = toJson(rows.iterator().next());
        return Audit.append(tx, "user", user.getLong("id"), "registered", user.getLong("id"),
            new JsonObject().put("username", user.getString("username")).put("email", user.getString("email")))
          .map(user);
      })))
      .recover(IdentityVerticle::conflictIfTaken);
  }

  /** Same answer, same cost, for an unknown user and a wrong password. */
  private Future<JsonObject> login(JsonObject body) {
    return pool.preparedQuery(UserSql.FIND_FOR_LOGIN).execute(Tuple.of(body.getString("username")))
      .compose(rows -> {
        Row row = rows.size() == 0 ? null : rows.iterator().next();
        return passwords.matches(body.getString("password"), row == null ? null : row.getString("password_hash"))
          .compose(matches -> {
            if (!matches) {
              return Future.failedFuture(Failure.UNAUTHORIZED.exception("invalid username or password"));
            }
            String token = Jwt.issue(jwt, config(), row.getLong("id"), row.getString("role"), row.getInteger("token_version"));
            return Future.succeededFuture(new JsonObject()
              .put("access_token", token)
              .put("token_type", "Bearer")
              .put("expires_in", config().getInteger(Config.JWT_TTL_SECONDS)));
          });
      });
  }

  /** Is the token's user still active, with the same token version? Replies with their current role. */
  private Future<JsonObject> principal(JsonObject body) {
    return pool.preparedQuery(UserSql.PRINCIPAL).execute(Tuple.of(body.getLong("user_id")))
      .compose(rows -> {
        Row row = rows.size() == 0 ? null : rows.iterator().next();
        if (row == null || !"active".equals(row.getString("status"))
          || row.getInteger("token_version") != body.getInteger("token_version", -1).intValue()) {
          return Future.failedFuture(Failure.UNAUTHORIZED.exception("the token is no longer valid"));
        }
        return Future.succeededFuture(new JsonObject().put("role", row.getString("role")));
      });
  }

  /** Many users at once (for common.UserLookups): each that exists, with its role, status and token version. */
  private Future<JsonObject> lookup(JsonObject body) {
    Long[] ids = body.getJsonArray("ids").stream().map(id -> ((Number) id).longValue()).toArray(Long[]::new);
    return pool.preparedQuery(UserSql.LOOKUP).execute(Tuple.of((Object) ids)).map(rows -> {
      JsonArray users = new JsonArray();
      rows.forEach(row -> users.add(new JsonObject().put("id", row.getLong("id")).put("role", row.getString("role"))
        .put("status", row.getString("status")).put("token_version", row.getInteger("token_version"))));
      return new JsonObject().put("users", users);
    });
  }

  /** Whether a user exists and may take part in things (for other services, e.g. a transfer's recipient). */
  private Future<JsonObject> status(JsonObject body) {
    long id = body.getLong("id");
    return pool.preparedQuery(UserSql.PRINCIPAL).execute(Tuple.of(id)).compose(rows -> rows.size() == 0
      ? Future.failedFuture(notFound(id))
      : Future.succeededFuture(new JsonObject().put("status", rows.iterator().next().getString("status"))));
  }

  /** Self or admin; anyone else is told the user does not exist. */
  private Future<JsonObject> get(JsonObject body) {
    long id = body.getLong("id");
    if (!Caller.required().mayActFor(id)) {
      return Future.failedFuture(notFound(id));
    }
    return pool.preparedQuery(UserSql.FIND).execute(Tuple.of(id)).compose(rows -> rows.size() == 0
      ? Future.failedFuture(notFound(id))
      : Future.succeededFuture(toJson(rows.iterator().next())));
  }

  private Future<JsonObject> list(JsonObject body) {
    int limit = body.getInteger("limit", 50);
    long after = body.getLong("cursor", 0L);
    return Caller.requireAdmin("list users")
      .compose(ignored -> pool.preparedQuery(UserSql.PAGE).execute(Tuple.of(after, limit + 1)))
      .map(rows -> Page.of(rows, limit, IdentityVerticle::toJson, "id"));
  }

  private Future<JsonObject> update(JsonObject body) {
    long id = body.getLong("id");
    Caller caller = Caller.required();
    if (!caller.mayActFor(id)) {
      return Future.failedFuture(notFound(id));
    }
    if (!caller.isAdmin() && (body.containsKey("role") || body.containsKey("status"))) {
      return Future.failedFuture(Failure.FORBIDDEN.exception("only an admin may change role or status"));
    }
    String newPassword = body.getString("password");
    boolean ownPassword = newPassword != null && caller.userId() == id;
    if (ownPassword && body.getString("current_password") == null) {
      return Future.failedFuture(Failure.invalid("current_password", "is required to change your password"));
    }
    // The slow parts (checking the current password, hashing the new one) run before the
    // transaction, so no connection is held while a hash waits its turn; the transaction then
    // makes sure the password it checked is still the stored one.
    Future<String> checked = ownPassword
      ? pool.preparedQuery(UserSql.FIND_WITH_HASH).execute(Tuple.of(id)).compose(rows -> {
        String stored = rows.size() == 0 ? null : rows.iterator().next().getString("password_hash");
        return passwords.matches(body.getString("current_password"), stored).compose(ok -> ok ? Future.succeededFuture(stored)
          : Future.failedFuture(Failure.invalid("current_password", "does not match")));
      })
      : Future.succeededFuture(null);
    return checked.compose(verifiedHash -> (newPassword == null ? Future.<String>succeededFuture(null) : passwords.hash(newPassword))
      .compose(hash -> pool.withTransaction(tx -> tx.preparedQuery(UserSql.FIND_FOR_UPDATE).execute(Tuple.of(id))
        .compose(rows -> {
          Row row = rows.size() == 0 ? null : rows.iterator().next();
          if (row == null || "deleted".equals(row.getString("status"))) {
            return Future.failedFuture(notFound(id));
          }
          if (verifiedHash != null && !verifiedHash.equals(row.getString("password_hash"))) {
            return Future.failedFuture(Failure.CONFLICT.exception("the password changed meanwhile; try again"));
          }
          return apply(tx, row, body, hash);
        }))))
      .recover(IdentityVerticle::conflictIfTaken)
      .onSuccess(ignored -> changed(id));
  }

  /** After the commit: whoever holds a session of this user (the event-bus bridge) looks again at who they are now. */
  private void changed(long id) {
    vertx.eventBus().publish(Addresses.Identity.CHANGED, new JsonObject().put("user_id", id));
  }

  private Future<JsonObject> apply(io.vertx.sqlclient.SqlConnection tx, Row row, JsonObject body, String newHash) {
    String status = body.getString("status", row.getString("status"));
    boolean revokes = newHash != null || !status.equals(row.getString("status"));
    JsonArray changed = new JsonArray();
    for (String field : new String[] {"email", "password", "role", "status"}) {
      if (body.containsKey(field)) {
        changed.add(field);
      }
    }
    JsonObject details = new JsonObject().put("changed", changed);
    if (body.containsKey("role")) {
      details.put("role", new JsonObject().put("from", row.getString("role")).put("to", body.getString("role")));
    }
    if (body.containsKey("status")) {
      details.put("status", new JsonObject().put("from", row.getString("status")).put("to", status));
    }
    return tx.preparedQuery(UserSql.UPDATE).execute(Tuple.of(row.getLong("id"),
        body.getString("email", row.getString("email")),
        newHash != null ? newHash : row.getString("password_hash"),
        body.getString("role", row.getString("role")),
        status,
        row.getInteger("token_version") + (revokes ? 1 : 0)))
      .compose(rows -> Audit.append(tx, "user", row.getLong("id"), "updated", Caller.required().userId(), details)
        .map(toJson(rows.iterator().next())));
  }

  private Future<Void> delete(JsonObject body) {
    long id = body.getLong("id");
    return Caller.requireAdmin("delete users").compose(ignored -> pool.withTransaction(tx -> tx.preparedQuery(UserSql.DELETE).execute(Tuple.of(id))
      .compose(rows -> rows.size() == 0
        ? Future.failedFuture(notFound(id))
        : Audit.append(tx, "user", id, "deleted", Caller.required().userId(), new JsonObject()))))
      .onSuccess(ignored -> changed(id));
  }

  /** ADMIN_USERNAME / ADMIN_PASSWORD: make sure that admin exists with that password. */
  private Future<Void> bootstrapAdmin() {
    String username = config().getString(Config.ADMIN_USERNAME);
    String password = config().getString(Config.ADMIN_PASSWORD);
    if (username.isEmpty() || password.isEmpty()) {
      return Future.succeededFuture();
    }
    String email = config().getString(Config.ADMIN_EMAIL).isEmpty() ? username + "@localhost" : config().getString(Config.ADMIN_EMAIL);
    return passwords.hash(password).compose(hash -> pool.withTransaction(tx -> tx.preparedQuery(UserSql.UPSERT_ADMIN)
      .execute(Tuple.of(username, email, hash))
      .compose(rows -> Audit.append(tx, "user", rows.iterator().next().getLong("id"), "admin_configured", null,
        new JsonObject().put("username", username)))))
      .onSuccess(ignored -> log.info("admin '{}' is configured from ADMIN_USERNAME", username));
  }

  private static <T> Future<T> conflictIfTaken(Throwable error) {
    if (error instanceof PgException && "23505".equals(((PgException) error).getSqlState())) {
      String constraint = ((PgException) error).getConstraint();
      String field = constraint != null && constraint.contains("email") ? "email" : "username";
      return Future.failedFuture(Failure.TAKEN.exception(field + " is already taken"));
    }
    return Future.failedFuture(error);
  }

  private static io.vertx.core.eventbus.ReplyException notFound(long id) {
    return Failure.NOT_FOUND.exception("no user " + id);
  }

  static JsonObject toJson(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("username", row.getString("username"))
      .put("email", row.getString("email"))
      .put("role", row.getString("role"))
      .put("status", row.getString("status"))
      .put("created_at", row.getOffsetDateTime("created_at").toString())
      .put("updated_at", row.getOffsetDateTime("updated_at").toString());
  }
}
