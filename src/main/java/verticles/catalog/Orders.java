package verticles.catalog;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.BusHeaders;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.Fields;
import verticles.common.Page;
import verticles.common.RequestContext;
import verticles.common.ServiceReplies;

/**
 * Orders as a saga across the catalog and the ledger, persisted step by step in the orders
 * table: reserve the stock (a guarded decrement, never below zero) → pay (a ledger transfer from
 * the buyer to the product's merchant, idempotency key {@code order:<id>}) → confirm. When the
 * payment is refused (short funds, an inactive party) the stock is given back and the order
 * fails with the reason. A step that cannot finish now (a timeout, a dependency down) leaves the
 * order where it is: a sweep, on any node, drives it on with the same keys, so a node that dies
 * mid-saga leaves no order stuck and no payment made twice.
 */
final class Orders {

  private static final Logger log = LoggerFactory.getLogger(Orders.class);
  private static final long SWEEP_MS = 2000;
  private static final int MOST_QUANTITY = 1_000_000;

  private final Vertx vertx;
  private final Pool pool;
  private final ProductCache cache;
  private final Dependency postgres;
  private final long busTimeoutMs;

  Orders(Vertx vertx, Pool pool, ProductCache cache, JsonObject config) {
    this.vertx = vertx;
    this.pool = pool;
    this.cache = cache;
    this.postgres = Dependency.postgres(vertx, config, pool);
    this.busTimeoutMs = config.getInteger(Config.BUS_TIMEOUT_MS);
  }

  void serve() {
    ServiceReplies.serve(vertx, Addresses.Catalog.ORDER, this::create);
    ServiceReplies.serve(vertx, Addresses.Catalog.ORDER_GET, this::get);
    ServiceReplies.serve(vertx, Addresses.Catalog.ORDER_LIST, this::list);
    ServiceReplies.serve(vertx, Addresses.Catalog.ORDER_REFUND, this::refund);
    vertx.setPeriodic(SWEEP_MS, ignored -> {
      if (postgres.mayTry()) {
        sweep();
      }
    });
  }

  /**
   * An order, driven as far as it goes now: 201 confirmed; 409 out of stock and 422 short funds
   * (both failed, nothing kept); 503 when a step must wait (the sweep finishes it). A repeated
   * Idempotency-Key answers the order it made ({@code replayed: true}); another body is 409.
   */
  private Future<JsonObject> create(JsonObject body) {
    Caller buyer = Caller.required();
    long product = Fields.id(body, "product_id");
    int quantity = (int) Fields.whole(body, "quantity", "quantity", 1, MOST_QUANTITY);
    String key = RequestContext.idempotencyKey();
    return pool.preparedQuery(CatalogSql.INSERT_ORDER).execute(Tuple.of(buyer.userId(), product, quantity, key)).compose(rows -> {
      if (rows.size() == 0) {
        return pool.preparedQuery(CatalogSql.FIND_ORDER_BY_KEY).execute(Tuple.of(buyer.userId(), key)).compose(found -> {
          JsonObject first = CatalogJson.order(found.iterator().next());
          return first.getLong("product_id") == product && first.getInteger("quantity") == quantity
            ? Future.succeededFuture(first.put("replayed", true))
            : Future.failedFuture(Failure.IDEMPOTENCY_KEY_REUSED.exception("this Idempotency-Key made another order"));
        });
      }
      return drive(CatalogJson.order(rows.iterator().next())).compose(Orders::answer);
    }).recover(error -> error instanceof PgException pg && "23503".equals(pg.getSqlState())
      ? Future.failedFuture(Failure.NOT_FOUND.exception("no product " + product))
      : Future.failedFuture(error));
  }

  /** How the caller hears of an order that went as far as it could. */
  private static Future<JsonObject> answer(JsonObject order) {
    String reason = order.getString("reason", "");
    return switch (order.getString("status")) {
      case "confirmed" -> Future.succeededFuture(order.put("replayed", false));
      case "failed" -> Future.failedFuture(reason.startsWith("out of stock")
        ? Failure.OUT_OF_STOCK.exception("order " + order.getLong("id") + " failed: " + reason)
        : reason.startsWith("insufficient funds") ? Failure.INSUFFICIENT_FUNDS.exception("order " + order.getLong("id") + " failed: " + reason)
        : Failure.WRONG_STATE.exception("order " + order.getLong("id") + " failed: " + reason));
      default -> Future.failedFuture(Failure.UNAVAILABLE.exception("order " + order.getLong("id") + " is " + order.getString("status")
        + "; it will be finished shortly (read it with GET /api/v1/orders/" + order.getLong("id") + ")"));
    };
  }

  /** The saga from wherever the order stands; completes with the order as it then is. */
  private Future<JsonObject> drive(JsonObject order) {
    return switch (order.getString("status")) {
      case "pending" -> reserve(order).compose(this::drive);
      case "reserved" -> pay(order);
      default -> Future.succeededFuture(order);
    };
  }

  /** Step 1: stock taken and the order priced, or the order failed (out of stock, product gone). */
  private Future<JsonObject> reserve(JsonObject order) {
    long id = order.getLong("id");
    return pool.preparedQuery(CatalogSql.RESERVE).execute(Tuple.of(id)).compose(rows -> rows.size() == 1
      ? settled(rows)
      : fail(id, "pending", "out of stock (or the product is gone)"));
  }

  /**
   * Step 2: the buyer pays the merchant through the ledger, as the buyer, with the key
   * {@code order:<id>} (a retry after a timeout or a crash never pays twice). A refusal fails the
   * order and gives the stock back; a failure that may pass leaves it reserved for the sweep.
   */
  private Future<JsonObject> pay(JsonObject order) {
    long id = order.getLong("id");
    if (order.getLong("amount") == 0) {
      return confirm(id, null);
    }
    JsonObject transfer = new JsonObject().put("to_user_id", order.getLong("merchant_id")).put("amount", order.getLong("amount"))
      .put("currency", order.getString("currency")).put("description", "order " + id);
    return vertx.eventBus().<JsonObject>request(Addresses.Ledger.TRANSFER, transfer, asBuyer(order, "order:" + id))
      .map(Message::body)
      .transform(paid -> {
        if (paid.succeeded()) {
          return confirm(id, paid.result().getLong("id"));
        }
        Failure failure = Failure.of(paid.cause());
        if (failure.retryable) {
          log.info("order {}: the payment must wait ({}); the sweep will try again", id, paid.cause().getMessage());
          return Future.succeededFuture(order);
        }
        String reason = failure == Failure.INSUFFICIENT_FUNDS ? "insufficient funds" : "payment refused: " + paid.cause().getMessage();
        return fail(id, "reserved", reason);
      });
  }

  private Future<JsonObject> confirm(long id, Long transaction) {
    return pool.preparedQuery(CatalogSql.CONFIRM).execute(Tuple.of(id, transaction)).compose(rows -> {
      if (rows.size() == 1) {
        return settled(rows);
      }
      return current(id).onSuccess(order -> {
        if ("failed".equals(order.getString("status")) && transaction != null) {
          // Only a driver that outlived the sweep's 10 s could get here: said loudly, to be refunded by hand.
          log.error("order {} was paid (transaction {}) after it had failed; refund the transaction", id, transaction);
        }
      });
    });
  }

  /** Compensation: failed with its reason if still {@code from}, the reserved stock (if any) given back. */
  private Future<JsonObject> fail(long id, String from, String reason) {
    return pool.preparedQuery(CatalogSql.FAIL_ORDER).execute(Tuple.of(id, reason, from)).compose(rows -> rows.size() == 1
      ? settled(rows)
      : current(id).compose(this::drive));
  }

  /** A step committed: the product's cached copy replaced (when its stock moved), the buyer told. */
  private Future<JsonObject> settled(RowSet<Row> rows) {
    Row row = rows.iterator().next();
    JsonObject order = CatalogJson.order(row);
    Integer productVersion = row.getInteger("product_version");
    Future<Void> cached = productVersion == null ? Future.succeededFuture() : cache.changed(order.getLong("product_id"), productVersion);
    return cached.map(ignored -> {
      vertx.eventBus().publish(Addresses.Events.user(order.getLong("buyer_id")),
        new JsonObject().put("type", "order." + order.getString("status")).put("order", order));
      return order;
    });
  }

  private Future<JsonObject> current(long id) {
    return pool.preparedQuery(CatalogSql.FIND_ORDER).execute(Tuple.of(id)).map(rows -> CatalogJson.order(rows.iterator().next()));
  }

  /** The ledger sees the buyer as the caller (the HTTP request's, or the sweep's stand-in for it). */
  private DeliveryOptions asBuyer(JsonObject order, String key) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(busTimeoutMs)
      .addHeader(BusHeaders.USER_ID, String.valueOf(order.getLong("buyer_id"))).addHeader(BusHeaders.ROLES, Caller.USER)
      .addHeader(BusHeaders.IDEMPOTENCY_KEY, key);
    String requestId = RequestContext.requestId();
    return requestId == null ? options : options.addHeader(BusHeaders.REQUEST_ID, requestId);
  }

  /** Orders a node left half way, driven on (claimed for 10 s each, so no two sweeps drive the same). */
  private void sweep() {
    pool.query(CatalogSql.UNSETTLED).execute().onFailure(postgres::failed).onSuccess(rows -> {
      for (Row row : rows) {
        JsonObject order = CatalogJson.order(row);
        drive(order).onFailure(error -> log.warn("order {}: the sweep could not drive it on: {}", order.getLong("id"), error.toString()));
      }
    });
  }

  private Future<JsonObject> get(JsonObject body) {
    long id = body.getLong("id");
    Caller caller = Caller.required();
    return pool.preparedQuery(CatalogSql.FIND_ORDER).execute(Tuple.of(id)).compose(rows -> {
      Row row = rows.size() == 0 ? null : rows.iterator().next();
      if (row == null || !caller.mayActFor(row.getLong("buyer_id"))) {
        return Future.failedFuture(Failure.NOT_FOUND.exception("no order " + id));
      }
      return Future.succeededFuture(CatalogJson.order(row));
    });
  }

  private Future<JsonObject> list(JsonObject query) {
    Caller caller = Caller.required();
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    return pool.preparedQuery(CatalogSql.ORDER_PAGE).execute(Tuple.of(caller.isAdmin() ? null : caller.userId(), query.getString("status"),
        query.getLong("cursor", Long.MAX_VALUE), limit + 1))
      .map(rows -> Page.of(rows, limit, CatalogJson::order, "id"));
  }

  /**
   * An admin refunds a confirmed order, once: the payment is reversed in the ledger (key
   * {@code refund:<id>}), then the order is refunded and its stock given back in one statement.
   */
  private Future<JsonObject> refund(JsonObject body) {
    long id = body.getLong("id");
    return Caller.requireAdmin("refund orders").compose(ignored -> current(id)).compose(order -> {
      if (!"confirmed".equals(order.getString("status"))) {
        return Future.failedFuture(Failure.WRONG_STATE.exception("only a confirmed order can be refunded; order " + id + " is "
          + order.getString("status")));
      }
      Future<Long> reversal = order.getLong("transaction_id") == null ? Future.succeededFuture(null)
        : reverse(order.getLong("transaction_id"), id);
      return reversal.compose(transaction -> pool.preparedQuery(CatalogSql.REFUND).execute(Tuple.of(id, transaction)))
        .compose(rows -> rows.size() == 1 ? settled(rows)
          : Future.failedFuture(Failure.WRONG_STATE.exception("order " + id + " was refunded meanwhile")));
    });
  }

  /** The ledger's reversal of the payment; when it was already reversed (a retried refund), that reversal. */
  private Future<Long> reverse(long transaction, long order) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(busTimeoutMs).addHeader(BusHeaders.IDEMPOTENCY_KEY, "refund:" + order);
    Caller admin = RequestContext.caller();
    options.addHeader(BusHeaders.USER_ID, String.valueOf(admin.userId())).addHeader(BusHeaders.ROLES, admin.role());
    return vertx.eventBus().<JsonObject>request(Addresses.Ledger.REVERSE, new JsonObject().put("id", transaction), options)
      .map(reply -> reply.body().getLong("id"))
      .recover(error -> Failure.of(error) != Failure.WRONG_STATE ? Future.failedFuture(error)
        : vertx.eventBus().<JsonObject>request(Addresses.Ledger.GET, new JsonObject().put("id", transaction), options)
          .map(reply -> reply.body().getLong("reversed_by")));
  }
}
