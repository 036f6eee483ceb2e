package verticles.ledger;

import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.common.BusHeaders;
import verticles.common.Failure;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ledger over HTTP against real PostgreSQL: money is conserved, writes are idempotent, history is exact. */
class LedgerApiTest {

  private static final String ADMIN = "bank";
  private static final String ADMIN_PASSWORD = "bank-password-1";

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin(ADMIN, ADMIN_PASSWORD).with("DB_POOL_SIZE", "24");

  private static Api api;
  private static int port;
  private static String databaseUrl;
  private static String admin;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() {
    databaseUrl = node.databaseUrl();
    port = node.port();
    api = node.api();
    admin = node.adminToken();
  }

  private static final AtomicInteger USERS = new AtomicInteger();

  /** A new user with {@code funds} credited; returns {id, token}. */
  private static JsonObject account(long funds) {
    String name = "acct_" + USERS.incrementAndGet();
    Api.Reply created = api.post("/api/v1/auth/register", new JsonObject().put("username", name)
      .put("email", name + "@example.com").put("password", "password-" + name), null);
    assertEquals(201, created.status, created.toString());
    String token = api.login(name, "password-" + name);
    if (funds > 0) {
      assertEquals(201, api.post("/api/v1/transactions/credit", new JsonObject().put("amount", funds), token).status);
    }
    return new JsonObject().put("id", created.json().getLong("id")).put("token", token);
  }

  private static JsonObject transfer(long to, long amount) {
    return new JsonObject().put("to_user_id", to).put("amount", amount);
  }


  private static CompletableFuture<HttpResponse<String>> postAsync(String path, JsonObject body, String token, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
      .timeout(Duration.ofSeconds(60))
      .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
      .POST(HttpRequest.BodyPublishers.ofString(body.encode()));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return HTTP.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void moneyIsConservedUnder2000ConcurrentTransfersWithRingsAndOppositePairs() throws Exception {
    int n = 50;
    long funds = 10_000;
    List<JsonObject> accounts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      accounts.add(account(funds));
    }
    Set<Long> ids = accounts.stream().map(a -> a.getLong("id")).collect(Collectors.toSet());
    String idList = ids.stream().map(String::valueOf).collect(Collectors.joining(","));
    long before = TestServers.scalar(databaseUrl, "SELECT sum(amount) FROM balances WHERE user_id IN (" + idList + ")");
    assertEquals(n * funds, before);

    Random random = new Random(7);
    List<long[]> plan = new ArrayList<>();  // {from index, to index, amount}
    while (plan.size() < 2000) {
      int a = random.nextInt(n);
      int b = random.nextInt(n);
      int c = random.nextInt(n);
      if (a == b || b == c || a == c) {
        continue;
      }
      switch (plan.size() % 3) {
        case 0: // a ring: a→b→c→a
          plan.add(new long[] {a, b, 1 + random.nextInt(4000)});
          plan.add(new long[] {b, c, 1 + random.nextInt(4000)});
          plan.add(new long[] {c, a, 1 + random.nextInt(4000)});
          break;
        case 1: // an opposite pair
          plan.add(new long[] {a, b, 1 + random.nextInt(4000)});
          plan.add(new long[] {b, a, 1 + random.nextInt(4000)});
          break;
        default:
          plan.add(new long[] {a, b, 1 + random.nextInt(4000)});
      }
    }
    plan = plan.subList(0, 2000);

    Semaphore inFlight = new Semaphore(48);
    List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
    for (long[] step : plan) {
      inFlight.acquire();
      JsonObject from = accounts.get((int) step[0]);
      JsonObject to = accounts.get((int) step[1]);
      replies.add(postAsync("/api/v1/transactions/transfer", transfer(to.getLong("id"), step[2]), from.getString("token"))
        .whenComplete((r, e) -> inFlight.release()));
    }
    int ok = 0;
    int refused = 0;
    List<String> unexpected = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> reply : replies) {
      HttpResponse<String> response = reply.get(120, TimeUnit.SECONDS);
      if (response.statusCode() == 201) {
        ok++;
      } else if (response.statusCode() == 422) {
        refused++;
      } else {
        unexpected.add(response.statusCode() + " " + response.body());
      }
    }
    assertTrue(unexpected.isEmpty(), "only 201 and 422: " + unexpected.subList(0, Math.min(5, unexpected.size())));
    assertTrue(ok > 1000 && refused > 0, "both outcomes happened: ok " + ok + ", refused " + refused);
    System.out.println("conservation run: " + ok + " transfers applied, " + refused + " refused for funds");

    assertEquals(before, TestServers.scalar(databaseUrl, "SELECT sum(amount) FROM balances WHERE user_id IN (" + idList + ")"), "money is conserved");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM balances WHERE amount < 0"), "no negative balance");
    assertEquals(2L * ok, TestServers.scalar(databaseUrl, "SELECT count(*) FROM entries e JOIN transactions t ON t.id = e.transaction_id "
      + "WHERE t.type = 'transfer' AND e.account_id IN (" + idList + ")"), "two entries per applied transfer");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM balances b WHERE b.amount <> "
      + "(SELECT coalesce(sum(e.amount), 0) FROM entries e WHERE e.account_id = b.user_id AND e.currency = b.currency)"),
      "every balance equals the sum of its entries");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM (SELECT currency FROM entries GROUP BY currency HAVING sum(amount) <> 0) x"),
      "all entries of a currency sum to zero");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM entries e WHERE e.account_id > 0 AND e.balance_after <> "
      + "(SELECT sum(p.amount) FROM entries p WHERE p.account_id = e.account_id AND p.currency = e.currency AND p.id <= e.id)"),
      "each entry's balance_after is the running sum");
  }

  @Test
  void aStormOfRepeatsWithOneKeyAppliesOnceAndAnswersIdentically() throws Exception {
    JsonObject payer = account(5_000);
    JsonObject payee = account(0);
    JsonObject body = transfer(payee.getLong("id"), 1_234).put("description", "rent");
    List<CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      replies.add(postAsync("/api/v1/transactions/transfer", body, payer.getString("token"), "Idempotency-Key", "rent-2026-11"));
    }
    Set<String> bodies = ConcurrentHashMap.newKeySet();
    for (CompletableFuture<HttpResponse<String>> reply : replies) {
      HttpResponse<String> response = reply.get(60, TimeUnit.SECONDS);
      assertEquals(201, response.statusCode(), response.body());
      bodies.add(response.body());
    }
    assertEquals(1, bodies.size(), "100 identical responses: " + bodies);
    assertEquals(1, TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE to_user = " + payee.getLong("id")), "one transaction");
    assertEquals(1_234, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payee.getLong("id")));

    Api.Reply other = new Api(port).raw("POST", "/api/v1/transactions/transfer",
      transfer(payee.getLong("id"), 999).encode(), "Content-Type", "application/json",
      "Authorization", "Bearer " + payer.getString("token"), "Idempotency-Key", "rent-2026-11");
    assertEquals(409, other.status, other.toString());
    assertEquals(1_234, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payee.getLong("id")), "nothing more moved");

    JsonObject stranger = account(5_000);
    Api.Reply sameKeyOtherCaller = new Api(port).raw("POST", "/api/v1/transactions/transfer", body.encode(),
      "Content-Type", "application/json", "Authorization", "Bearer " + stranger.getString("token"), "Idempotency-Key", "rent-2026-11");
    assertEquals(201, sameKeyOtherCaller.status, "keys are per caller");
  }

  @Test
  void theBalanceAtAnInstantMatchesASequentialModel() {
    JsonObject me = account(0);
    JsonObject other = account(0);
    String token = me.getString("token");
    long[] changes = {500, -120, 300, -680, 45};
    List<OffsetDateTime> times = new ArrayList<>();
    List<Long> model = new ArrayList<>();
    long balance = 0;
    for (long change : changes) {
      Api.Reply reply = change > 0
        ? api.post("/api/v1/transactions/credit", new JsonObject().put("amount", change), token)
        : api.post("/api/v1/transactions/transfer", transfer(other.getLong("id"), -change), token);
      assertEquals(201, reply.status, reply.toString());
      balance += change;
      times.add(OffsetDateTime.parse(reply.json().getString("created_at")));
      model.add(balance);
    }
    assertTrue(atTime(token, times.get(0).minusNanos(1000)).isEmpty(), "before the first write: nothing");
    for (int i = 0; i < times.size(); i++) {
      assertEquals(model.get(i), atTime(token, times.get(i)).getJsonObject(0).getLong("amount"), "at write " + i);
      if (i + 1 < times.size()) {
        OffsetDateTime between = times.get(i).plus(Duration.between(times.get(i), times.get(i + 1)).dividedBy(2));
        assertEquals(model.get(i), atTime(token, between).getJsonObject(0).getLong("amount"), "between " + i + " and " + (i + 1));
      }
    }
    assertEquals(model.get(model.size() - 1), atTime(token, times.get(times.size() - 1).plusSeconds(3600))
      .getJsonObject(0).getLong("amount"), "after the last");

    JsonObject page = api.get("/api/v1/balances/historical?limit=3", token).json();
    assertEquals(List.of(model.get(4), model.get(3), model.get(2)), page.getJsonArray("items").stream()
      .map(o -> ((JsonObject) o).getLong("balance_after")).collect(Collectors.toList()), "running balance, newest first");
    JsonObject rest = api.get("/api/v1/balances/historical?limit=3&cursor=" + page.getString("next_cursor"), token).json();
    assertEquals(List.of(model.get(1), model.get(0)), rest.getJsonArray("items").stream()
      .map(o -> ((JsonObject) o).getLong("balance_after")).collect(Collectors.toList()));
    assertNull(rest.getString("next_cursor"));
  }

  private static JsonArray atTime(String token, OffsetDateTime at) {
    Api.Reply reply = api.get("/api/v1/balances/at-time?timestamp=" + at.toString().replace("+", "%2B"), token);
    assertEquals(200, reply.status, reply.toString());
    return reply.json().getJsonArray("balances");
  }

  @Test
  void aTransactionIsReversedOnceAndAReversalThatWouldOverdrawIsRefused() throws Exception {
    JsonObject alice = account(1_000);
    JsonObject bob = account(0);
    long paid = api.post("/api/v1/transactions/transfer", transfer(bob.getLong("id"), 400), alice.getString("token")).json().getLong("id");

    Api.Reply notAdmin = api.post("/api/v1/transactions/" + paid + "/reverse", new JsonObject(), alice.getString("token"));
    assertEquals(403, notAdmin.status);

    Api.Reply reversal = new Api(port).raw("POST", "/api/v1/transactions/" + paid + "/reverse", null, "Authorization", "Bearer " + admin);
    assertEquals(201, reversal.status, reversal.toString());
    assertEquals(paid, reversal.json().getLong("reverses"));
    assertEquals(1_000, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + alice.getLong("id")));
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + bob.getLong("id")));

    assertEquals(409, new Api(port).raw("POST", "/api/v1/transactions/" + paid + "/reverse", null, "Authorization", "Bearer " + admin).status);
    assertEquals(409, new Api(port).raw("POST", "/api/v1/transactions/" + reversal.json().getLong("id") + "/reverse", null,
      "Authorization", "Bearer " + admin).status, "a reversal is not reversed");

    JsonObject original = api.get("/api/v1/transactions/" + paid, alice.getString("token")).json();
    assertEquals(reversal.json().getLong("id"), original.getLong("reversed_by"), "the original stays, linked to its reversal");
    List<Long> history = api.get("/api/v1/transactions/history", alice.getString("token")).json().getJsonArray("items").stream()
      .map(o -> ((JsonObject) o).getLong("id")).collect(Collectors.toList());
    assertTrue(history.contains(paid) && history.contains(reversal.json().getLong("id")), history.toString());

    // bob spends what he received; reversing the payment would overdraw him
    JsonObject carol = account(0);
    long second = api.post("/api/v1/transactions/transfer", transfer(bob.getLong("id"), 300), alice.getString("token")).json().getLong("id");
    assertEquals(201, api.post("/api/v1/transactions/transfer", transfer(carol.getLong("id"), 250), bob.getString("token")).status);
    Api.Reply overdraw = new Api(port).raw("POST", "/api/v1/transactions/" + second + "/reverse", null, "Authorization", "Bearer " + admin);
    assertEquals(422, overdraw.status, overdraw.toString());
    assertEquals(50, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + bob.getLong("id")), "nothing changed");
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions WHERE reverses = " + second));
  }

  @Test
  void badInputIsRefusedFieldByFieldAndChangesNothing() throws Exception {
    JsonObject me = account(100);
    JsonObject other = account(0);
    String token = me.getString("token");
    String credit = "/api/v1/transactions/credit";
    long transactionsBefore = TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions");

    for (Object amount : new Object[] {0, -5, 1.5, "10", 10_000_000_000_000_000L, null}) {
      Api.Reply reply = api.post(credit, new JsonObject().put("amount", amount), token);
      assertEquals(400, reply.status, "amount " + amount + ": " + reply);
      assertTrue(reply.raw.body().contains("\"field\":\"amount\""), reply.toString());
    }
    for (String currency : new String[] {"usd", "US", "ABC"}) {
      Api.Reply reply = api.post(credit, new JsonObject().put("amount", 1).put("currency", currency), token);
      assertEquals(400, reply.status, currency + ": " + reply);
      assertTrue(reply.raw.body().contains("\"field\":\"currency\""), reply.toString());
    }
    assertEquals(400, api.post(credit, new JsonObject().put("amount", 1).put("bonus", true), token).status);
    assertEquals(400, api.post(credit, new JsonObject().put("amount", 1).put("description", "x".repeat(501)), token).status);
    assertEquals(400, api.post("/api/v1/transactions/transfer", transfer(me.getLong("id"), 1), token).status, "to self");
    assertEquals(400, api.post("/api/v1/transactions/transfer", new JsonObject().put("amount", 1), token).status, "no recipient");
    assertEquals(404, api.post("/api/v1/transactions/transfer", transfer(987_654_321, 1), token).status, "unknown recipient");
    assertEquals(403, api.post(credit, new JsonObject().put("amount", 1).put("user_id", other.getLong("id")), token).status,
      "only admins act for others");
    assertEquals(400, new Api(port).raw("POST", credit, new JsonObject().put("amount", 1).encode(), "Content-Type", "application/json",
      "Authorization", "Bearer " + token, "Idempotency-Key", "k".repeat(129)).status, "key too long");
    assertEquals(422, api.post("/api/v1/transactions/debit", new JsonObject().put("amount", 101), token).status);
    assertEquals(400, api.get("/api/v1/balances/at-time?timestamp=yesterday", token).status);
    assertEquals(400, api.get("/api/v1/balances/at-time", token).status);
    assertEquals(400, api.get("/api/v1/transactions/history?type=gift", token).status);
    assertEquals(transactionsBefore, TestServers.scalar(databaseUrl, "SELECT count(*) FROM transactions"), "nothing was written");

    long mine = api.post(credit, new JsonObject().put("amount", 5), token).json().getLong("id");
    assertEquals(404, api.get("/api/v1/transactions/" + mine, other.getString("token")).status, "another user's transaction");
    assertEquals(200, api.get("/api/v1/transactions/" + mine, admin).status);
    assertEquals(201, api.post(credit, new JsonObject().put("amount", 7).put("user_id", other.getLong("id")), admin).status,
      "an admin credits another user");
  }

  @Test
  void theTaskHandlerMovesMoneyOncePerKeyAndRefusesShortFundsForGood() throws Exception {
    JsonObject payer = account(1_000);
    JsonObject payee = account(0);
    JsonObject task = new JsonObject().put("from_user_id", payer.getLong("id")).put("to_user_id", payee.getLong("id"))
      .put("amount", 250).put("currency", "USD");
    var bus = node.vertx().eventBus();
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(10_000).addHeader(BusHeaders.IDEMPOTENCY_KEY, "task:42");
    JsonObject first = (JsonObject) bus.request("task.ledger.transfer", task, options).toCompletionStage().toCompletableFuture()
      .get(20, TimeUnit.SECONDS).body();
    JsonObject redelivered = (JsonObject) bus.request("task.ledger.transfer", task, options).toCompletionStage().toCompletableFuture()
      .get(20, TimeUnit.SECONDS).body();
    assertEquals(first, redelivered, "a redelivery answers like the first");
    assertEquals(250, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payee.getLong("id")), "moved once");

    CopyOnWriteArrayList<Throwable> failures = new CopyOnWriteArrayList<>();
    bus.request("task.ledger.transfer", task.copy().put("amount", 5_000),
        new DeliveryOptions().setSendTimeout(10_000).addHeader(BusHeaders.IDEMPOTENCY_KEY, "task:43"))
      .onFailure(failures::add).toCompletionStage().toCompletableFuture().exceptionally(e -> null).get(20, TimeUnit.SECONDS);
    assertEquals(1, failures.size());
    Failure failure = Failure.of(failures.get(0));
    assertEquals(Failure.INSUFFICIENT_FUNDS, failure);
    assertTrue(!failure.retryable && failures.get(0) instanceof ReplyException, "refused for good, not retried");
  }

  @Test
  void bothPartiesHearOfTheTransferOnTheirEventAddresses() throws Exception {
    JsonObject payer = account(100);
    JsonObject payee = account(0);
    CompletableFuture<JsonObject> heard = new CompletableFuture<>();
    node.vertx().eventBus().<JsonObject>consumer("events.user." + payee.getLong("id"), message -> {
      if ("balance.changed".equals(message.body().getString("type"))) {
        heard.complete(message.body());
      }
    }).completion().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    long id = api.post("/api/v1/transactions/transfer", transfer(payee.getLong("id"), 60), payer.getString("token")).json().getLong("id");
    JsonObject event = heard.get(10, TimeUnit.SECONDS);
    assertEquals(id, event.getLong("transaction_id"));
    assertNotNull(event.getString("currency"));
  }

  /** Submits a ledger.transfer task as {@code token}'s user and waits until it is finished; returns the task. */
  private static JsonObject runTransferTask(String token, long from, long to, long amount) {
    Api.Reply submitted = api.post("/api/v1/tasks", new JsonObject().put("type", "ledger.transfer").put("max_attempts", 1)
      .put("payload", new JsonObject().put("from_user_id", from).put("to_user_id", to).put("amount", amount).put("currency", "USD")), token);
    assertEquals(201, submitted.status, submitted.toString());
    long id = submitted.json().getLong("id");
    JsonObject[] task = new JsonObject[1];
    TestServers.await("task " + id + " finished", Duration.ofSeconds(20), () -> {
      task[0] = api.get("/api/v1/tasks/" + id, token).json();
      return Set.of("succeeded", "failed", "dead").contains(task[0].getString("status"));
    });
    return task[0];
  }

  @Test
  void aTransferTaskNeverPaysADeletedDisabledOrUnknownUser() {
    JsonObject payer = account(1_000);
    JsonObject deleted = account(0);
    JsonObject disabled = account(0);
    JsonObject active = account(0);
    assertEquals(204, api.delete("/api/v1/users/" + deleted.getLong("id"), admin).status);
    assertEquals(200, api.put("/api/v1/users/" + disabled.getLong("id"), new JsonObject().put("status", "disabled"), admin).status);
    String token = payer.getString("token");

    for (long recipient : new long[] {deleted.getLong("id"), disabled.getLong("id"), 99_999_999L}) {
      JsonObject task = runTransferTask(token, payer.getLong("id"), recipient, 3);
      assertEquals("failed", task.getString("status"), "paying " + recipient + ": " + task.encode());
      assertTrue(task.getString("last_error").contains("no active user " + recipient), task.encode());
    }
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM balances WHERE user_id = 99999999"), "no account made for nobody");
    assertEquals(1_000, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payer.getLong("id")),
      "the payer kept every cent");
    assertEquals("succeeded", runTransferTask(token, payer.getLong("id"), active.getLong("id"), 3).getString("status"),
      "an active recipient is paid");
    assertEquals(3, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + active.getLong("id")));
    assertEquals(0, TestServers.scalar(databaseUrl, "SELECT coalesce(sum(amount), 0) FROM entries"), "money is conserved");
  }

  @Test
  void anIdBeyond64BitsIsRefusedNeverWrappedOntoAnotherUser() {
    JsonObject payer = account(100);
    String token = payer.getString("token");
    String twoTo64Plus1 = "18446744073709551617";  // wraps to 1 (the first user, an admin) when read as a long
    long adminBalance = TestServers.scalar(databaseUrl, "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = 1");

    Api.Reply transfer = new Api(port).raw("POST", "/api/v1/transactions/transfer",
      "{\"to_user_id\": " + twoTo64Plus1 + ", \"amount\": 3}", "Content-Type", "application/json", "Authorization", "Bearer " + token);
    assertEquals(400, transfer.status, transfer.toString());
    assertEquals("to_user_id", transfer.json().getJsonArray("errors").getJsonObject(0).getString("field"));
    Api.Reply credit = new Api(port).raw("POST", "/api/v1/transactions/credit",
      "{\"user_id\": " + twoTo64Plus1 + ", \"amount\": 3}", "Content-Type", "application/json", "Authorization", "Bearer " + admin);
    assertEquals(400, credit.status, credit.toString());
    assertEquals("user_id", credit.json().getJsonArray("errors").getJsonObject(0).getString("field"));
    Api.Reply task = new Api(port).raw("POST", "/api/v1/tasks", "{\"type\": \"ledger.transfer\", \"payload\": {\"from_user_id\": "
      + payer.getLong("id") + ", \"to_user_id\": " + twoTo64Plus1 + ", \"amount\": 3}}",
      "Content-Type", "application/json", "Authorization", "Bearer " + token);
    assertEquals(400, task.status, task.toString());
    assertEquals("payload.to_user_id", task.json().getJsonArray("errors").getJsonObject(0).getString("field"));
    Api.Reply fraction = api.post("/api/v1/tasks", new JsonObject().put("type", "ledger.transfer").put("payload", new JsonObject()
      .put("from_user_id", payer.getLong("id")).put("to_user_id", 1.5).put("amount", 3)), token);
    assertEquals(400, fraction.status, fraction.toString());
    assertEquals("payload.to_user_id", fraction.json().getJsonArray("errors").getJsonObject(0).getString("field"));

    assertEquals(adminBalance, TestServers.scalar(databaseUrl, "SELECT coalesce(sum(amount), 0) FROM balances WHERE user_id = 1"),
      "user 1 was paid nothing");
    assertEquals(100, TestServers.scalar(databaseUrl, "SELECT amount FROM balances WHERE user_id = " + payer.getLong("id")));
  }
}
