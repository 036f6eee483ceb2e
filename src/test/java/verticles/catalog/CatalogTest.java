package verticles.catalog;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.Node;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Products and orders on real PostgreSQL and Redis: no overselling under a rush, no money
 * drift, compensation on short funds, refunds once, conditional requests, and a cache that
 * never answers an old version after a change, on either of two nodes.
 */
class CatalogTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("shop", "shop-password-1");

  private static final AtomicInteger USERS = new AtomicInteger();

  private static JsonObject product(int stock, long price) {
    String sku = "sku-" + System.nanoTime();
    Api.Reply created = node.api().post("/api/v1/products", new JsonObject().put("sku", sku).put("name", "Widget " + sku)
      .put("price", price).put("stock", stock), node.adminToken());
    assertEquals(201, created.status, created.toString());
    return created.json();
  }

  /** A user with {@code funds} cents; returns {id, token}. */
  private static JsonObject buyer(long funds) {
    String name = "buyer_" + USERS.incrementAndGet();
    Api.Reply registered = node.api().post("/api/v1/auth/register", new JsonObject().put("username", name)
      .put("email", name + "@example.com").put("password", "password-" + name), null);
    assertEquals(201, registered.status, registered.toString());
    long id = registered.json().getLong("id");
    if (funds > 0) {
      assertEquals(201, node.api().post("/api/v1/transactions/credit", new JsonObject().put("amount", funds).put("user_id", id),
        node.adminToken()).status);
    }
    return new JsonObject().put("id", id).put("token", node.api().login(name, "password-" + name));
  }

  private static long balance(long userId) {
    return TestServers.scalar(node.databaseUrl(), "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = " + userId);
  }

  private static Api.Reply order(JsonObject buyer, long product, int quantity, String key) {
    return node.api().raw("POST", "/api/v1/orders", new JsonObject().put("product_id", product).put("quantity", quantity).encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + buyer.getString("token"), "Idempotency-Key", key);
  }

  @Test
  void fiftyBuyersRushTheLastTenUnitsAndExactlyTenArePaidFor() throws Exception {
    JsonObject product = product(10, 250);
    long merchant = product.getLong("merchant_id");
    long merchantBefore = balance(merchant);
    List<JsonObject> buyers = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      buyers.add(buyer(1_000));
    }
    List<CompletableFuture<Api.Reply>> replies = new ArrayList<>();
    for (JsonObject buyer : buyers) {
      replies.add(CompletableFuture.supplyAsync(() -> order(buyer, product.getLong("id"), 1, "rush")));
    }
    int confirmed = 0;
    int outOfStock = 0;
    for (CompletableFuture<Api.Reply> reply : replies) {
      Api.Reply answer = reply.get(60, TimeUnit.SECONDS);
      if (answer.status == 201) {
        confirmed++;
        assertEquals("confirmed", answer.json().getString("status"));
      } else {
        assertEquals(409, answer.status, answer.toString());
        assertEquals("/problems/out-of-stock", answer.json().getString("type"));
        outOfStock++;
      }
    }
    assertEquals(10, confirmed);
    assertEquals(40, outOfStock);
    long id = product.getLong("id");
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT stock FROM products WHERE id = " + id));
    long charged = buyers.stream().mapToLong(buyer -> 1_000 - balance(buyer.getLong("id"))).sum();
    assertEquals(10 * 250, charged, "buyers were charged exactly for the confirmed orders");
    assertEquals(10 * 250, balance(merchant) - merchantBefore, "and the merchant got the same sum");
    assertEquals(0, node.api().get("/api/v1/products/" + id, null).json().getInteger("stock"), "the cache says so too");
    assertEquals(0, TestServers.scalar(node.databaseUrl(), "SELECT coalesce(sum(amount), 0) FROM entries"), "money is conserved");
  }

  @Test
  void shortFundsFailTheOrderGiveTheStockBackAndMoveNoMoney() {
    JsonObject product = product(3, 500);
    JsonObject poor = buyer(120);
    Api.Reply refused = order(poor, product.getLong("id"), 1, "poor-1");
    assertEquals(422, refused.status, refused.toString());
    assertEquals("/problems/insufficient-funds", refused.json().getString("type"));
    assertEquals(3, node.api().get("/api/v1/products/" + product.getLong("id"), null).json().getInteger("stock"), "stock given back");
    assertEquals(120, balance(poor.getLong("id")));
    JsonObject failed = node.api().get("/api/v1/orders", poor.getString("token")).json().getJsonArray("items").getJsonObject(0);
    assertEquals("failed", failed.getString("status"));
    assertEquals("insufficient funds", failed.getString("reason"));
  }

  @Test
  void anOrderIsMadeOncePerKeyAndRefundedOnce() {
    JsonObject product = product(5, 100);
    JsonObject buyer = buyer(1_000);
    Api.Reply first = order(buyer, product.getLong("id"), 2, "once");
    assertEquals(201, first.status, first.toString());
    Api.Reply again = order(buyer, product.getLong("id"), 2, "once");
    assertEquals(200, again.status, again.toString());
    assertEquals(first.json().getLong("id"), again.json().getLong("id"));
    assertEquals(409, order(buyer, product.getLong("id"), 3, "once").status, "the same key for another order");
    assertEquals(800, balance(buyer.getLong("id")), "paid once");

    long id = first.json().getLong("id");
    assertEquals(403, node.api().post("/api/v1/orders/" + id + "/refund", new JsonObject(), buyer.getString("token")).status);
    Api.Reply refunded = node.api().post("/api/v1/orders/" + id + "/refund", new JsonObject(), node.adminToken());
    assertEquals(200, refunded.status, refunded.toString());
    assertEquals("refunded", refunded.json().getString("status"));
    assertEquals(1_000, balance(buyer.getLong("id")), "the money came back");
    assertEquals(5, node.api().get("/api/v1/products/" + product.getLong("id"), null).json().getInteger("stock"), "and the stock");
    assertEquals(409, node.api().post("/api/v1/orders/" + id + "/refund", new JsonObject(), node.adminToken()).status, "once");
    assertEquals(404, node.api().get("/api/v1/orders/" + id, buyer(0).getString("token")).status, "another user's order");
  }

  @Test
  void conditionalRequestsAndTheCacheNeverShowAnOldVersion() throws Exception {
    JsonObject product = product(7, 900);
    String path = "/api/v1/products/" + product.getLong("id");
    Api.Reply read = node.api().get(path, null);
    assertEquals("\"1\"", read.header("ETag"));
    assertEquals("application/json", read.header("Content-Type"));
    assertEquals(product, read.json(), "the cached JSON is the product as created");
    assertEquals(304, node.api().raw("GET", path, null, "If-None-Match", "\"1\"").status);
    String admin = "Bearer " + node.adminToken();
    String change = new JsonObject().put("price", 950).encode();
    assertEquals(428, node.api().raw("PUT", path, change, "Content-Type", "application/json", "Authorization", admin).status);
    Api.Reply changed = node.api().raw("PUT", path, change, "Content-Type", "application/json", "Authorization", admin, "If-Match", "\"1\"");
    assertEquals(200, changed.status, changed.toString());
    assertEquals(2, changed.json().getInteger("version"));
    Api.Reply stale = node.api().raw("PUT", path, change, "Content-Type", "application/json", "Authorization", admin, "If-Match", "\"1\"");
    assertEquals(412, stale.status, stale.toString());
    assertEquals("/problems/version-moved", stale.json().getString("type"));

    // Every read after the change, on this node and on a second one, sees the new price.
    var secondConfig = TestServers.config(Map.of("DATABASE_URL", node.databaseUrl(), "ROLES", "http,catalog,identity"));
    Node second = Node.start(secondConfig).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    try {
      Api other = new Api(secondConfig.integer("HTTP_PORT"));
      for (int i = 0; i < 20; i++) {
        assertEquals(950, node.api().get(path, null).json().getLong("price"));
        assertEquals(950, other.get(path, null).json().getLong("price"));
        String price = new JsonObject().put("price", 1000 + i).encode();
        String etag = node.api().get(path, null).header("ETag");
        assertEquals(200, other.raw("PUT", path, price, "Content-Type", "application/json", "Authorization", admin, "If-Match", etag).status);
        assertEquals(1000 + i, node.api().get(path, null).json().getLong("price"), "changed on one node, read on the other");
        assertEquals(200, node.api().raw("PUT", path, change, "Content-Type", "application/json", "Authorization", admin,
          "If-Match", node.api().get(path, null).header("ETag")).status);
      }
    } finally {
      second.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    String metrics = node.api().get("/metrics", null).raw.body();
    assertTrue(metrics.contains("pulse_cache_requests_total{cache=\"products\",result=\"hit\""), "hits are counted");
  }

  @Test
  void deletedProductsAreGoneAndBadInputIsRefused() {
    JsonObject product = product(1, 10);
    String path = "/api/v1/products/" + product.getLong("id");
    JsonObject user = buyer(0);
    assertEquals(403, node.api().post("/api/v1/products", new JsonObject().put("sku", "x1").put("name", "X").put("price", 1).put("stock", 1),
      user.getString("token")).status);
    assertEquals(409, node.api().post("/api/v1/products", new JsonObject().put("sku", product.getString("sku")).put("name", "Again")
      .put("price", 1).put("stock", 1), node.adminToken()).status, "the sku is taken");
    assertEquals(400, node.api().post("/api/v1/products", new JsonObject().put("sku", "x2").put("name", "X").put("price", -1).put("stock", 1),
      node.adminToken()).status);
    assertEquals(400, node.api().post("/api/v1/products", new JsonObject().put("sku", "x3").put("name", "X").put("price", 1).put("stock", 1)
      .put("currency", "ZZZ"), node.adminToken()).status);
    assertEquals(404, order(user, 999_999_999L, 1, "nothing").status, "no such product");
    assertEquals(204, node.api().delete(path, node.adminToken()).status);
    assertEquals(404, node.api().get(path, null).status, "gone, at once, through the cache");
    assertEquals(404, node.api().get(path, null).status, "and still gone when the cache has the deletion");
    assertEquals(404, node.api().delete(path, node.adminToken()).status);
  }
}
