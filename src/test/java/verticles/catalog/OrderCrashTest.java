package verticles.catalog;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A node killed between an order's reserve and its payment (its JVM SIGKILLed while the ledger
 * could not be reached): after a node comes back, the recovery sweep drives each such order to
 * confirmed (paid once) or failed (stock given back), never leaving one stuck.
 */
class OrderCrashTest {

  @TempDir
  Path work;

  private Map<String, String> env(String databaseUrl, String roles) {
    Map<String, String> env = new HashMap<>();
    env.put("DATABASE_URL", databaseUrl);
    env.put("REDIS_URL", TestServers.redisUrl());
    env.put("JWT_SECRET", TestServers.JWT_SECRET);
    env.put("ADMIN_USERNAME", "shop");
    env.put("ADMIN_PASSWORD", "shop-password-1");
    env.put("ROLES", roles);
    env.put("LOG_FORMAT", "text");
    env.put("BUS_TIMEOUT_MS", "2000");
    return env;
  }

  private static long register(Api api, String name, String admin, long funds) {
    long id = api.post("/api/v1/auth/register", new JsonObject().put("username", name).put("email", name + "@example.com")
      .put("password", "password-" + name), null).json().getLong("id");
    if (funds > 0) {
      assertEquals(201, api.post("/api/v1/transactions/credit", new JsonObject().put("amount", funds).put("user_id", id), admin).status);
    }
    return id;
  }

  @Test
  void ordersLeftBetweenReserveAndPayAreFinishedAfterTheNodeDies() throws Exception {
    String databaseUrl = TestServers.freshDatabase();
    long product;
    long rich;
    long poor;
    long paidOrder;
    long unpaidOrder;
    // First the whole platform, to set things up; then a node without the ledger, killed mid-saga.
    try (NodeProcess all = NodeProcess.start(work.resolve("setup"), env(databaseUrl, "all"))) {
      all.awaitReady(Duration.ofSeconds(90));
      Api api = new Api(all.httpPort());
      String admin = api.login("shop", "shop-password-1");
      product = api.post("/api/v1/products", new JsonObject().put("sku", "crash-1").put("name", "Crash").put("price", 300)
        .put("stock", 5), admin).json().getLong("id");
      rich = register(api, "rich", admin, 1_000);
      poor = register(api, "poor", admin, 100);
      all.assertStopsCleanly(Duration.ofSeconds(20));
    }
    try (NodeProcess doomed = NodeProcess.start(work.resolve("doomed"), env(databaseUrl, "http,identity,catalog"))) {
      TestServers.await("the node without a ledger", Duration.ofSeconds(90), () -> doomed.output().contains("ready in"));
      Api api = new Api(doomed.httpPort());
      Api.Reply paid = api.raw("POST", "/api/v1/orders", new JsonObject().put("product_id", product).put("quantity", 2).encode(),
        "Content-Type", "application/json", "Authorization", "Bearer " + api.login("rich", "password-rich"), "Idempotency-Key", "k1");
      Api.Reply unpaid = api.raw("POST", "/api/v1/orders", new JsonObject().put("product_id", product).put("quantity", 1).encode(),
        "Content-Type", "application/json", "Authorization", "Bearer " + api.login("poor", "password-poor"), "Idempotency-Key", "k2");
      assertEquals(503, paid.status, "the payment must wait: " + paid);
      assertEquals(503, unpaid.status, unpaid.toString());
      assertEquals(2, TestServers.scalar(databaseUrl, "SELECT count(*) FROM orders WHERE status = 'reserved'"));
      assertEquals(2, TestServers.scalar(databaseUrl, "SELECT stock FROM products WHERE id = " + product), "3 units reserved");
      paidOrder = TestServers.scalar(databaseUrl, "SELECT id FROM orders WHERE buyer_id = " + rich);
      unpaidOrder = TestServers.scalar(databaseUrl, "SELECT id FROM orders WHERE buyer_id = " + poor);
      doomed.process().destroyForcibly().waitFor();
    }
    try (NodeProcess survivor = NodeProcess.start(work.resolve("survivor"), env(databaseUrl, "all"))) {
      survivor.awaitReady(Duration.ofSeconds(90));
      String settled = "SELECT count(*) FROM orders WHERE status IN ('confirmed', 'failed')";
      TestServers.await("the sweep to settle both orders", Duration.ofSeconds(60), () -> TestServers.scalar(databaseUrl, settled) == 2);
      assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM orders WHERE id = " + paidOrder + " AND status = 'confirmed'"));
      assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM orders WHERE id = " + unpaidOrder
        + " AND status = 'failed' AND reason = 'insufficient funds'"));
      assertEquals(400, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + rich), "paid once: 1000 - 2 x 300");
      assertEquals(100, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + poor), "nothing taken");
      assertEquals(3, TestServers.scalar(databaseUrl, "SELECT stock FROM products WHERE id = " + product), "the failed order's unit is back");
      assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE type = 'transfer'"));
      survivor.assertStopsCleanly(Duration.ofSeconds(20));
    }
  }
}
