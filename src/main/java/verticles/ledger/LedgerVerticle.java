package verticles.ledger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Failure;
import verticles.common.Fields;
import verticles.common.Page;
import verticles.common.RedisStore;
import verticles.common.RequestContext;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;
import verticles.common.TaskTypes;
import verticles.common.UserLookups;
import verticles.ledger.Move.Kind;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.OffsetDateTime;
import java.util.Currency;
import java.util.HexFormat;

/**
 * Owns balances, transactions and entries: credits, debits, transfers and reversals, each one
 * SQL transaction with double entry and an audit row; idempotency keys enforced by the
 * database; history and balances at any instant read from the entries. Publishes balance and
 * transaction events after commit. Bus areas ledger.* and task.ledger.transfer.
 */
public class LedgerVerticle extends VerticleBase {

  /** The largest amount one move may carry (minor units), as the API document says. */
  private static final long MAX_AMOUNT = 1_000_000_000_000_000L;
  /** No authenticated caller (a task acts for its owner, who is checked like anyone else). */
  private static final long NOBODY = -1;

  private Pool pool;
  private String defaultCurrency;
  private MeterRegistry metrics;
  private MoveBatch batch;
  private UserLookups users;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    RedisAPI redis = RedisStore.client(vertx, config());
    defaultCurrency = config().getString(Config.DEFAULT_CURRENCY);
    metrics = BackendRegistries.getNow(config().getString(Config.NODE_NAME));
    batch = new MoveBatch(pool, metrics);
    users = new UserLookups(vertx, config().getInteger(Config.BUS_TIMEOUT_MS), metrics);
    ServiceReplies.serve(vertx, Addresses.Ledger.CREDIT, body -> write(Kind.CREDIT, body));
    ServiceReplies.serve(vertx, Addresses.Ledger.DEBIT, body -> write(Kind.DEBIT, body));
    ServiceReplies.serve(vertx, Addresses.Ledger.TRANSFER, body -> write(Kind.TRANSFER, body));
    ServiceReplies.serve(vertx, Addresses.Ledger.REVERSE, this::reverse);
    ServiceReplies.serve(vertx, Addresses.Ledger.GET, this::get);
    ServiceReplies.serve(vertx, Addresses.Ledger.HISTORY, this::history);
    ServiceReplies.serve(vertx, Addresses.Ledger.BALANCES_CURRENT, this::current);
    ServiceReplies.serve(vertx, Addresses.Ledger.BALANCES_HISTORICAL, this::history);
    ServiceReplies.serve(vertx, Addresses.Ledger.BALANCES_AT_TIME, this::atTime);
    ServiceReplies.serve(vertx, Addresses.Tasks.handler(TaskTypes.LEDGER_TRANSFER), this::taskTransfer);
    vertx.setPeriodic(3_600_000, ignored -> pool.query(LedgerSql.FORGET_OLD_KEYS).execute());
    return new ServiceHealth(vertx, Role.LEDGER, config()).postgres(pool).redis(redis).serve();
  }

  /** credit / debit / transfer from HTTP: who acts for whom, then the move, once per idempotency key. */
  private Future<JsonObject> write(Kind kind, JsonObject body) {
    Caller caller = Caller.required();
    String currency = currency(body);
    long amount = Fields.whole(body, "amount", "amount", 1, MAX_AMOUNT);
    Long forUser = Fields.optionalId(body, "user_id");
    long subject = forUser != null ? forUser : caller.userId();
    if (subject != caller.userId() && !caller.isAdmin()) {
      return Future.failedFuture(Failure.FORBIDDEN.exception("only an admin may act for another user"));
    }
    Move move;
    Future<Void> payer = Future.succeededFuture();
    if (kind == Kind.TRANSFER) {
      long to = Fields.id(body, "to_user_id");
      if (to == caller.userId()) {
        return Future.failedFuture(Failure.invalid("to_user_id", "cannot transfer to yourself"));
      }
      move = new Move(kind, "transfer", caller.userId(), to, amount, currency, body.getString("description"), null);
    } else if (kind == Kind.CREDIT) {
      move = new Move(kind, "credit", 0, subject, amount, currency, body.getString("description"), null);
    } else {
      move = new Move(kind, "debit", subject, 0, amount, currency, body.getString("description"), null);
      payer = subject == caller.userId() ? Future.succeededFuture() : requireActiveUser(subject, "user_id");
    }
    return payer.compose(ignored -> apply(move, caller.userId(), caller.userId(), RequestContext.idempotencyKey(), requestHash(kind, body)));
  }

  /**
   * A scheduled or recurring payment: exactly once per task, refused for good when funds are
   * short. The payer must still be an active user when it runs (the task acts for them), like
   * the recipient on every path.
   */
  private Future<JsonObject> taskTransfer(JsonObject body) {
    long from = Fields.id(body, "from_user_id");
    long to = Fields.id(body, "to_user_id");
    if (from == to) {
      return Future.failedFuture(Failure.invalid("to_user_id", "cannot transfer to the payer"));
    }
    Move move = new Move(Kind.TRANSFER, "transfer", from, to, Fields.whole(body, "amount", "amount", 1, MAX_AMOUNT),
      currency(body), body.getString("description"), null);
    return requireActiveUser(from, "from_user_id")
      .compose(ignored -> apply(move, NOBODY, 0, RequestContext.idempotencyKey(), requestHash(Kind.TRANSFER, body)));
  }

  private Future<JsonObject> reverse(JsonObject body) {
    long id = body.getLong("id");
    return Caller.requireAdmin("reverse a transaction").compose(ignored -> pool.preparedQuery(LedgerSql.FIND).execute(Tuple.of(id))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no transaction " + id));
      }
      Row original = rows.iterator().next();
      if ("reversal".equals(original.getString("type"))) {
        return Future.failedFuture(Failure.WRONG_STATE.exception("a reversal cannot itself be reversed"));
      }
      if (original.getLong("reversed_by") != null) {
        return Future.failedFuture(Failure.WRONG_STATE.exception("already reversed by transaction " + original.getLong("reversed_by")));
      }
      String type = original.getString("type");
      Kind kind = "credit".equals(type) ? Kind.CREDIT : "debit".equals(type) ? Kind.DEBIT : Kind.TRANSFER;
      Move forward = new Move(kind, type, original.getLong("from_user"), original.getLong("to_user"),
        original.getLong("amount"), original.getString("currency").trim(), null, null);
      long admin = Caller.required().userId();
      return apply(forward.reversed(id), admin, admin, RequestContext.idempotencyKey(),
        requestHash(Kind.TRANSFER, new JsonObject().put("reverse", id)));
    });
  }

  /**
   * Every move goes through here, whoever asks: first the recipient must be an active user
   * (unless it is the outside world, or the caller who was just authenticated), so no path can
   * pay a deleted, disabled or unknown account. Then one SQL transaction: claim the idempotency
   * key (a concurrent repeat waits here for the first and then reads its answer), move the
   * money, store the answer. Deadlocks and serialization failures are retried a bounded number
   * of times; they never reach the client.
   */
  private Future<JsonObject> apply(Move move, long authenticated, long scope, String key, String hash) {
    Future<Void> recipient = move.to() == 0 || move.to() == authenticated ? Future.succeededFuture()
      : requireActiveUser(move.to(), move.kind() == Kind.CREDIT ? "user_id" : "to_user_id");
    return recipient.compose(ignored -> applyOnce(move, scope, key, hash));
  }

  /** The move joins the next batch (group commit); metrics and events once it is settled. */
  private Future<JsonObject> applyOnce(Move move, long scope, String key, String hash) {
    Timer.Sample timing = Timer.start(metrics);
    Caller caller = RequestContext.caller();
    return batch.add(move, caller == null ? null : caller.userId(), RequestContext.requestId(), scope, key, hash)
      .andThen(result -> {
        String outcome = result.succeeded() ? (result.result().replayed() ? "replayed" : "ok")
          : Failure.of(result.cause()).name().toLowerCase();
        Counter.builder("pulse.ledger.transactions").tag("type", move.type()).tag("outcome", outcome).register(metrics).increment();
        timing.stop(Timer.builder("pulse.ledger.latency").tag("type", move.type())
          .publishPercentileHistogram().register(metrics));
        if (result.succeeded() && !result.result().replayed()) {
          DistributionSummary.builder("pulse.ledger.amount").tag("currency", move.currency()).baseUnit("minor_units")
            .register(metrics).record(move.amount());
          publish(result.result().transaction(), move);
        }
      })
      .map(MoveBatch.Outcome::transaction);
  }

  /** After commit: each party (not the outside world) hears of its new balance and the transaction. */
  private void publish(JsonObject transaction, Move move) {
    for (long party : new long[] {move.from(), move.to()}) {
      if (party > 0) {
        vertx.eventBus().publish(Addresses.Events.user(party), new JsonObject().put("type", "transaction.created")
          .put("transaction", transaction));
        vertx.eventBus().publish(Addresses.Events.user(party), new JsonObject().put("type", "balance.changed")
          .put("currency", move.currency()).put("transaction_id", transaction.getLong("id")));
      }
    }
  }

  private Future<JsonObject> get(JsonObject body) {
    long id = body.getLong("id");
    Caller caller = Caller.required();
    return pool.preparedQuery(LedgerSql.FIND).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !(caller.isAdmin() || row.getLong("from_user") == caller.userId() || row.getLong("to_user") == caller.userId())) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no transaction " + id));
      }
      return Future.succeededFuture(transactionJson(row));
    });
  }

  /** Newest first: each change to the caller's balances with the transaction behind it and the balance after. */
  private Future<JsonObject> history(JsonObject body) {
    Caller caller = Caller.required();
    int limit = body.getInteger("limit", 50);
    long before = body.getLong("cursor", Long.MAX_VALUE);
    Tuple args = Tuple.of(caller.userId(), before, body.getString("type"))
      .addValue(time(body.getString("from"))).addValue(time(body.getString("to"))).addInteger(limit + 1);
    return pool.preparedQuery(LedgerSql.ENTRIES).execute(args).map(rows -> Page.of(rows, limit,
      row -> transactionJson(row).put("change", row.getLong("change")).put("balance_after", row.getLong("balance_after")),
      "entry_id"));
  }

  private Future<JsonObject> current(JsonObject body) {
    return pool.preparedQuery(LedgerSql.CURRENT).execute(Tuple.of(Caller.required().userId())).map(rows -> {
      JsonArray balances = new JsonArray();
      for (Row row : rows) {
        balances.add(new JsonObject().put("currency", row.getString("currency").trim()).put("amount", row.getLong("amount"))
          .put("updated_at", row.getOffsetDateTime("updated_at").toString()));
      }
      return new JsonObject().put("balances", balances);
    });
  }

  private Future<JsonObject> atTime(JsonObject body) {
    OffsetDateTime at = OffsetDateTime.parse(body.getString("timestamp"));
    return pool.preparedQuery(LedgerSql.AT_TIME).execute(Tuple.of(Caller.required().userId(), at)).map(rows -> {
      JsonArray balances = new JsonArray();
      for (Row row : rows) {
        balances.add(new JsonObject().put("currency", row.getString("currency").trim()).put("amount", row.getLong("amount"))
          .put("as_of", row.getOffsetDateTime("as_of").toString()));
      }
      return new JsonObject().put("timestamp", at.toString()).put("balances", balances);
    });
  }

  /** The user must exist and be active now (asked of identity, many moves' questions in one message). */
  private Future<Void> requireActiveUser(long userId, String field) {
    return users.lookup(userId).compose(user -> user != null && user.active() ? Future.succeededFuture()
      : Future.failedFuture(Failure.NOT_FOUND.exception("no active user " + userId + " (" + field + ")")));
  }

  private String currency(JsonObject body) {
    String code = body.getString("currency", defaultCurrency);
    try {
      Currency.getInstance(code);
      return code;
    } catch (IllegalArgumentException e) {
      throw Failure.invalid("currency", "'" + code + "' is not an ISO-4217 currency code");
    }
  }

  /** Same endpoint and same body give the same hash (the key travels in a header, not in the body). */
  private static String requestHash(Kind kind, JsonObject body) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      String text = kind + " " + new JsonObject(new java.util.TreeMap<>(body.getMap())).encode();
      return HexFormat.of().formatHex(digest.digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static OffsetDateTime time(String text) {
    return text == null ? null : OffsetDateTime.parse(text);
  }

  static JsonObject transactionJson(Row row) {
    long from = row.getLong("from_user");
    long to = row.getLong("to_user");
    JsonObject json = new JsonObject()
      .put("id", row.getLong("id"))
      .put("type", row.getString("type"))
      .put("currency", row.getString("currency").trim())
      .put("amount", row.getLong("amount"))
      .put("from_user_id", from == 0 ? null : from)
      .put("to_user_id", to == 0 ? null : to)
      .put("description", row.getString("description"))
      .put("reverses", row.getLong("reverses"))
      .put("created_at", row.getOffsetDateTime("created_at").toString());
    if (row.getColumnIndex("reversed_by") >= 0) {
      json.put("reversed_by", row.getLong("reversed_by"));
    }
    return json;
  }
}
