package verticles.catalog;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.Caller;
import verticles.common.Config;
import verticles.common.Database;
import verticles.common.Dependency;
import verticles.common.Failure;
import verticles.common.Fields;
import verticles.common.Page;
import verticles.common.RedisStore;
import verticles.common.Role;
import verticles.common.ServiceHealth;
import verticles.common.ServiceReplies;
import verticles.common.TaskTypes;
import verticles.common.VersionedJson;

import java.util.Currency;

/**
 * Owns products and orders (bus areas catalog.*, orders.*). Products are read through a Redis
 * cache that is never stale after a committed change ({@link ProductCache}); a product's image is
 * measured by the image workers (a product.image task whose outcome comes back through the notify
 * delivery); orders run as a saga across the catalog and the ledger ({@link Orders}).
 */
public class CatalogVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(CatalogVerticle.class);
  static final long MOST_MONEY = 1_000_000_000_000_000L;

  private Pool pool;
  private ProductCache cache;
  private Orders orders;
  private long busTimeoutMs;
  private String defaultCurrency;

  @Override
  public Future<?> start() {
    pool = Database.pool(vertx, config());
    RedisAPI redis = RedisStore.client(vertx, config());
    busTimeoutMs = config().getInteger(Config.BUS_TIMEOUT_MS);
    defaultCurrency = config().getString(Config.DEFAULT_CURRENCY);
    cache = new ProductCache(vertx, redis, Dependency.redis(vertx, config(), redis),
      BackendRegistries.getNow(config().getString(Config.NODE_NAME)), this::load);
    orders = new Orders(vertx, pool, cache, config());
    ServiceReplies.serve(vertx, Addresses.Catalog.CREATE, this::create);
    ServiceReplies.serve(vertx, Addresses.Catalog.GET, this::get);
    ServiceReplies.serve(vertx, Addresses.Catalog.LIST, this::list);
    ServiceReplies.serve(vertx, Addresses.Catalog.UPDATE, this::update);
    ServiceReplies.serve(vertx, Addresses.Catalog.DELETE, this::delete);
    ServiceReplies.serve(vertx, Addresses.Catalog.IMAGE_MEASURED, this::imageMeasured);
    orders.serve();
    return new ServiceHealth(vertx, Role.CATALOG, config()).postgres(pool).redis(redis).serve();
  }

  private Future<JsonObject> load(long id) {
    return pool.preparedQuery(CatalogSql.FIND_PRODUCT).execute(Tuple.of(id))
      .map(rows -> rows.size() == 0 ? null : CatalogJson.product(rows.iterator().next()));
  }

  /** An admin lists a product (and is paid for it); 409 when the sku is taken. */
  private Future<JsonObject> create(JsonObject body) {
    return Caller.requireAdmin("list products").compose(ignored -> {
      Caller admin = Caller.required();
      Tuple args = Tuple.of(body.getString("sku"), body.getString("name"), body.getString("description"),
          Fields.whole(body, "price", "price", 0, MOST_MONEY), currency(body.getString("currency", defaultCurrency)),
          Fields.whole(body, "stock", "stock", 0, Integer.MAX_VALUE))
        .addValue(admin.userId())
        .addValue(body.getString("image_url"));
      return pool.preparedQuery(CatalogSql.INSERT_PRODUCT).execute(args);
    }).compose(rows -> {
      if (rows.size() == 0) {
        return Future.failedFuture(Failure.TAKEN.exception("sku " + body.getString("sku") + " is already listed"));
      }
      JsonObject product = CatalogJson.product(rows.iterator().next());
      return cache.changed(product.getLong("id"), product.getInteger("version")).map(product);
    }).onSuccess(this::measureImage);
  }

  /** A product through the cache; a deleted one is not found. */
  private Future<VersionedJson> get(JsonObject body) {
    long id = body.getLong("id");
    return cache.get(id).compose(product -> product == null || product.deleted()
      ? Future.failedFuture(Failure.NOT_FOUND.exception("no product " + id))
      : Future.succeededFuture(new VersionedJson(product.version(), product.json())));
  }

  private Future<JsonObject> list(JsonObject query) {
    int limit = query.getInteger("limit", Page.DEFAULT_LIMIT);
    Tuple args = Tuple.of(query.getString("q"), query.getLong("price_min"), query.getLong("price_max"),
      query.getBoolean("in_stock", false), query.getLong("cursor", Long.MAX_VALUE), limit + 1);
    return pool.preparedQuery(CatalogSql.PRODUCT_PAGE).execute(args).map(rows -> Page.of(rows, limit, CatalogJson::product, "id"));
  }

  /**
   * An admin changes a product at the version it last read ({@code expected_version}, the HTTP
   * If-Match): 412 when the product moved on meanwhile, 404 when it is gone.
   */
  private Future<JsonObject> update(JsonObject body) {
    long id = body.getLong("id");
    int expected = body.getInteger("expected_version");
    return Caller.requireAdmin("change products").compose(ignored -> {
      Long price = body.containsKey("price") ? Fields.whole(body, "price", "price", 0, MOST_MONEY) : null;
      Integer stock = body.containsKey("stock") ? (int) Fields.whole(body, "stock", "stock", 0, Integer.MAX_VALUE) : null;
      String currency = body.containsKey("currency") ? currency(body.getString("currency")) : null;
      Tuple args = Tuple.of(id, expected, body.getString("name"), body.getString("description"), price, currency)
        .addValue(stock)
        .addValue(body.getString("image_url"))
        .addValue(body.containsKey("image_url"));
      return pool.preparedQuery(CatalogSql.UPDATE_PRODUCT).execute(args);
    }).compose(rows -> {
      if (rows.size() == 1) {
        JsonObject product = CatalogJson.product(rows.iterator().next());
        return cache.changed(id, product.getInteger("version")).map(product).onSuccess(this::measureImage);
      }
      return load(id).compose(now -> now == null || now.getValue("deleted_at") != null
        ? Future.failedFuture(Failure.NOT_FOUND.exception("no product " + id))
        : Future.failedFuture(Failure.VERSION_MOVED.exception("product " + id + " is at version " + now.getInteger("version")
        + ", not " + expected + "; read it again")));
    });
  }

  /** Soft: the product stays for its orders, and is no longer found or listed. */
  private Future<Void> delete(JsonObject body) {
    long id = body.getLong("id");
    return Caller.requireAdmin("delete products")
      .compose(ignored -> pool.preparedQuery(CatalogSql.DELETE_PRODUCT).execute(Tuple.of(id)))
      .compose(rows -> rows.size() == 0
        ? Future.failedFuture(Failure.NOT_FOUND.exception("no product " + id))
        : cache.changed(id, rows.iterator().next().getInteger("version")));
  }

  /** A product whose image is pending gets a product.image task; its outcome comes back to {@link #imageMeasured}. */
  private void measureImage(JsonObject product) {
    if (!"pending".equals(product.getString("image_status"))) {
      return;
    }
    long id = product.getLong("id");
    JsonObject task = new JsonObject().put("type", TaskTypes.PRODUCT_IMAGE).put("queue", "images")
      .put("payload", new JsonObject().put("url", product.getString("image_url")).put("product_id", id))
      .put("max_attempts", 4).put("notify", Addresses.Catalog.IMAGE_MEASURED)
      .put("idempotency_key", "product-image:" + id + ":" + product.getInteger("version"));
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(busTimeoutMs)
      .addHeader(BusHeaders.USER_ID, String.valueOf(product.getLong("merchant_id"))).addHeader(BusHeaders.ROLES, "service");
    Bus.request(vertx, Addresses.Tasks.SUBMIT_BATCH, new JsonObject().put("tasks", new JsonArray().add(task)), options)
      .onFailure(error -> log.warn("measuring the image of product {} could not be asked for: {}", id, error.toString()));
  }

  /** The notify delivery of a product.image task: the dimensions land on the product if it still has that URL. */
  private Future<JsonObject> imageMeasured(JsonObject outcome) {
    JsonObject payload = outcome.getJsonObject("payload", new JsonObject());
    JsonObject result = outcome.getJsonObject("result");
    boolean measured = "succeeded".equals(outcome.getString("status")) && result != null;
    long id = payload.getLong("product_id");
    Tuple args = Tuple.of(id, payload.getString("url"), measured ? "measured" : "failed",
        measured ? result.getInteger("width") : null, measured ? result.getInteger("height") : null,
        measured ? result.getLong("perimeter") : null)
      .addValue(measured ? null : outcome.getString("error"));
    return pool.preparedQuery(CatalogSql.IMAGE_MEASURED).execute(args).compose(rows -> {
      for (Row row : rows) {
        return cache.changed(id, row.getInteger("version")).map(new JsonObject().put("folded", true));
      }
      return Future.succeededFuture(new JsonObject().put("folded", false));
    });
  }

  static String currency(String code) {
    try {
      return Currency.getInstance(code).getCurrencyCode();
    } catch (IllegalArgumentException | NullPointerException e) {
      throw Failure.invalid("currency", "'" + code + "' is not an ISO-4217 currency code");
    }
  }
}
