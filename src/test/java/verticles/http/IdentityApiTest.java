package verticles.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identity and the API edge, end to end over HTTP against a real node (PostgreSQL, Redis, bus):
 * who may do what, which tokens are refused, what bad input gets back, and what is audited.
 */
class IdentityApiTest {

  private static final String ADMIN = "root";
  private static final String ADMIN_PASSWORD = "admin-password-1";
  private static final List<String> SECRETS = Collections.synchronizedList(new ArrayList<>());
  private static final ConcurrentLinkedQueue<String> LOG_LINES = new ConcurrentLinkedQueue<>();

  /** Every log line from before the node starts until after it stops; none may hold a secret. */
  @RegisterExtension
  @Order(1)
  static final LogCapture capture = new LogCapture();

  @RegisterExtension
  @Order(2)
  static final PulseNode node = PulseNode.withAdmin(ADMIN, ADMIN_PASSWORD)
    .with("BODY_LIMIT_BYTES", "65536").with("CORS_ORIGINS", "https://app.example");

  private static Api api;

  @BeforeAll
  static void start() {
    api = node.api();
    SECRETS.add(node.adminToken());
  }

  /** Registered before the node, so it sees the node start and stop (its after-all runs last). */
  static final class LogCapture implements BeforeAllCallback, AfterAllCallback {

    private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent event) {
        LOG_LINES.add(event.getFormattedMessage() + " " + event.getArgumentArray() + " "
          + (event.getThrowableProxy() == null ? "" : event.getThrowableProxy().getMessage()));
      }
    };

    @Override
    public void beforeAll(ExtensionContext context) {
      LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
      appender.setContext(logback);
      appender.start();
      logback.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(appender);
      logback.getLogger("verticles").setLevel(Level.DEBUG);
      logback.getLogger("pulse").setLevel(Level.DEBUG);
      SECRETS.add(ADMIN_PASSWORD);
    }

    @Override
    public void afterAll(ExtensionContext context) {
      LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
      logback.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).detachAppender(appender);
      logback.getLogger("verticles").setLevel(Level.INFO);
      logback.getLogger("pulse").setLevel(null);
      assertFalse(LOG_LINES.isEmpty(), "the capture saw the suite's log lines");
      for (String secret : SECRETS) {
        for (String line : LOG_LINES) {
          assertFalse(line.contains(secret), "a password or token reached the log: " + line);
        }
      }
    }
  }

  // ---- helpers ----

  private static int counter;

  /** Registers a fresh user; returns {id, username, password, token}. */
  private static synchronized JsonObject newUser(String prefix) {
    String username = prefix + "_" + (++counter) + "_" + System.nanoTime() % 100000;
    String password = "pw-" + username + "-secret";
    SECRETS.add(password);
    Api.Reply created = api.post("/api/v1/auth/register", register(username, password), null);
    assertEquals(201, created.status, created.toString());
    String token = api.login(username, password);
    SECRETS.add(token);
    return created.json().put("password", password).put("token", token);
  }

  private static JsonObject register(String username, String password) {
    return new JsonObject().put("username", username).put("email", username + "@example.com").put("password", password);
  }

  private static String adminToken() {
    String token = api.login(ADMIN, ADMIN_PASSWORD);
    SECRETS.add(token);
    return token;
  }

  private static void assertProblem(Api.Reply reply, int status) {
    assertEquals(status, reply.status, reply.toString());
    assertEquals("application/problem+json", reply.header("Content-Type"), reply.toString());
    JsonObject problem = reply.json();
    assertEquals(status, problem.getInteger("status"));
    assertNotNull(problem.getString("title"));
    assertNotNull(problem.getString("type"));
    assertEquals(reply.header("X-Request-Id"), problem.getString("request_id"));
  }

  private static void assertFieldError(Api.Reply reply, String field) {
    assertProblem(reply, 400);
    JsonArray errors = reply.json().getJsonArray("errors");
    assertNotNull(errors, reply.toString());
    assertTrue(errors.stream().anyMatch(e -> field.equals(((JsonObject) e).getString("field"))),
      "an error names " + field + ": " + reply);
  }

  // ---- who may do what ----

  @Test
  void theRoleMatrixHoldsForEveryEndpoint() {
    JsonObject alice = newUser("alice");
    JsonObject bob = newUser("bob");
    String admin = adminToken();
    long aliceId = alice.getLong("id");
    String users = "/api/v1/users/" + aliceId;
    Map<String, String> callers = new LinkedHashMap<>();
    callers.put("anonymous", null);
    callers.put("user (self)", alice.getString("token"));
    callers.put("other user", bob.getString("token"));
    callers.put("admin", admin);

    Map<String, java.util.function.Function<String, Api.Reply>> endpoints = new LinkedHashMap<>();
    endpoints.put("GET /api/v1/me", token -> api.get("/api/v1/me", token));
    endpoints.put("GET /api/v1/users", token -> api.get("/api/v1/users", token));
    endpoints.put("GET /api/v1/users/{alice}", token -> api.get(users, token));
    endpoints.put("PUT /api/v1/users/{alice} email", token -> api.put(users,
      new JsonObject().put("email", "alice" + System.nanoTime() + "@example.com"), token));
    endpoints.put("PUT /api/v1/users/{alice} role", token -> api.put(users, new JsonObject().put("role", "user"), token));
    endpoints.put("GET /api/v1/audit-logs", token -> api.get("/api/v1/audit-logs", token));
    endpoints.put("DELETE /api/v1/users/{victim}", token -> api.delete("/api/v1/users/" + newUser("victim").getLong("id"), token));

    Map<String, int[]> expected = new LinkedHashMap<>();
    //                                                anon user other admin
    expected.put("GET /api/v1/me", new int[] {401, 200, 200, 200});
    expected.put("GET /api/v1/users", new int[] {401, 403, 403, 200});
    expected.put("GET /api/v1/users/{alice}", new int[] {401, 200, 404, 200});
    expected.put("PUT /api/v1/users/{alice} email", new int[] {401, 200, 404, 200});
    expected.put("PUT /api/v1/users/{alice} role", new int[] {401, 403, 404, 200});
    expected.put("GET /api/v1/audit-logs", new int[] {401, 403, 403, 200});
    expected.put("DELETE /api/v1/users/{victim}", new int[] {401, 403, 403, 204});

    StringBuilder table = new StringBuilder("| endpoint | " + String.join(" | ", callers.keySet()) + " |\n");
    List<String> wrong = new ArrayList<>();
    for (var endpoint : endpoints.entrySet()) {
      table.append("| ").append(endpoint.getKey());
      int column = 0;
      for (var caller : callers.entrySet()) {
        Api.Reply reply = endpoint.getValue().apply(caller.getValue());
        int want = expected.get(endpoint.getKey())[column++];
        table.append(" | ").append(reply.status);
        if (reply.status != want) {
          wrong.add(endpoint.getKey() + " as " + caller.getKey() + ": " + reply + " (expected " + want + ")");
        }
        if (reply.status >= 400) {
          assertProblem(reply, reply.status);
        }
      }
      table.append(" |\n");
    }
    System.out.println("RBAC matrix:\n" + table);
    assertTrue(wrong.isEmpty(), String.join("\n", wrong));
  }

  @Test
  void aWrongMethodOrAnUnknownPathIsAnsweredAsSuchInEveryArea() {
    Api.Reply credit = api.raw("GET", "/api/v1/transactions/credit", null);
    assertEquals(405, credit.status, "a literal path is not taken for a transaction id");
    assertEquals("POST", credit.header("Allow"));
    assertEquals("GET, POST", api.raw("DELETE", "/api/v1/products", null).header("Allow"));
    assertEquals(405, api.raw("PATCH", "/api/v1/products/1", null).status);
    assertEquals(405, api.raw("POST", "/api/v1/me", null).status);
    assertEquals(404, api.raw("GET", "/api/v1/productsx", null).status, "an area's prefix alone is not its path");
    assertEquals(404, api.raw("GET", "/api/v1/products/1/x", null).status);
    assertEquals(200, api.raw("GET", "/api/v1/products/", null).status);
  }

  @Test
  void aDeletedUsersTokenIsRefusedFromTheNextRequestAndTheyCannotLogIn() {
    JsonObject victim = newUser("gone");
    assertEquals(200, api.get("/api/v1/me", victim.getString("token")).status);
    assertEquals(204, api.delete("/api/v1/users/" + victim.getLong("id"), adminToken()).status);
    assertProblem(api.get("/api/v1/me", victim.getString("token")), 401);
    assertProblem(api.post("/api/v1/auth/login", new JsonObject().put("username", victim.getString("username"))
      .put("password", victim.getString("password")), null), 401);
    assertProblem(api.delete("/api/v1/users/" + victim.getLong("id"), adminToken()), 404);
  }

  @Test
  void aRoleChangeTakesEffectOnTheNextRequestWhateverTheTokenSays() {
    JsonObject carol = newUser("carol");
    String token = carol.getString("token");
    String admin = adminToken();
    assertEquals(403, api.get("/api/v1/users", token).status);
    assertEquals(200, api.put("/api/v1/users/" + carol.getLong("id"), new JsonObject().put("role", "admin"), admin).status);
    assertEquals(200, api.get("/api/v1/users", token).status, "promoted: the same token now reaches admin routes");
    assertEquals(200, api.put("/api/v1/users/" + carol.getLong("id"), new JsonObject().put("role", "user"), admin).status);
    assertEquals(403, api.get("/api/v1/users", token).status, "demoted at once");
  }

  @Test
  void aDisabledUserIsLockedOutAndAnAdminCanLetThemBackIn() {
    JsonObject dave = newUser("dave");
    String admin = adminToken();
    assertEquals(200, api.put("/api/v1/users/" + dave.getLong("id"), new JsonObject().put("status", "disabled"), admin).status);
    assertProblem(api.get("/api/v1/me", dave.getString("token")), 401);
    assertProblem(api.post("/api/v1/auth/login", new JsonObject().put("username", dave.getString("username"))
      .put("password", dave.getString("password")), null), 401);
    assertEquals(200, api.put("/api/v1/users/" + dave.getLong("id"), new JsonObject().put("status", "active"), admin).status);
    api.login(dave.getString("username"), dave.getString("password"));
  }

  @Test
  void changingYourPasswordNeedsTheCurrentOneAndRevokesOlderTokens() {
    JsonObject erin = newUser("erin");
    String path = "/api/v1/users/" + erin.getLong("id");
    String token = erin.getString("token");
    String next = "a-brand-new-password";
    SECRETS.add(next);

    assertFieldError(api.put(path, new JsonObject().put("password", next), token), "current_password");
    assertFieldError(api.put(path, new JsonObject().put("password", next).put("current_password", "not-it"), token), "current_password");
    assertEquals(200, api.put(path, new JsonObject().put("password", next)
      .put("current_password", erin.getString("password")), token).status);

    assertProblem(api.get("/api/v1/me", token), 401);
    assertProblem(api.post("/api/v1/auth/login", new JsonObject().put("username", erin.getString("username"))
      .put("password", erin.getString("password")), null), 401);
    api.login(erin.getString("email"), next);
  }

  @Test
  void loginAcceptsTheEmailAndGivesOneAnswerForWrongUserAndWrongPassword() {
    JsonObject frank = newUser("frank");
    api.login(frank.getString("email").toUpperCase(), frank.getString("password"));
    Api.Reply wrongPassword = api.post("/api/v1/auth/login", new JsonObject().put("username", frank.getString("username"))
      .put("password", "wrong-password"), null);
    Api.Reply noSuchUser = api.post("/api/v1/auth/login", new JsonObject().put("username", "nobody-" + System.nanoTime())
      .put("password", "wrong-password"), null);
    assertProblem(wrongPassword, 401);
    assertProblem(noSuchUser, 401);
    assertEquals(wrongPassword.json().getString("detail"), noSuchUser.json().getString("detail"));
    JsonObject token = api.post("/api/v1/auth/login", new JsonObject().put("username", frank.getString("username"))
      .put("password", frank.getString("password")), null).json();
    SECRETS.add(token.getString("access_token"));
    assertEquals("Bearer", token.getString("token_type"));
    assertEquals(900, token.getInteger("expires_in"));
  }

  // ---- tokens that must be refused ----

  @Test
  void forgedExpiredAndForeignTokensAreRefused() {
    JsonObject grace = newUser("grace");
    long id = grace.getLong("id");
    Vertx vertx = node.vertx();
    JsonObject claims = new JsonObject().put("role", "admin").put("tv", 0);
    JWTOptions valid = new JWTOptions().setAlgorithm("HS256").setIssuer("pulse").setAudience(List.of("pulse-api"))
      .setSubject(String.valueOf(id)).setExpiresInSeconds(600);

    JWTAuth rightKey = JWTAuth.create(vertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(TestServers.JWT_SECRET)));
    JWTAuth wrongKey = JWTAuth.create(vertx, new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer("another-secret-another-secret-another-secret")));

    String control = rightKey.generateToken(claims.copy().put("role", "user"), valid);
    assertEquals(200, api.get("/api/v1/me", control).status, "a well-made token with the right key passes");

    Map<String, String> refused = new LinkedHashMap<>();
    refused.put("alg none", unsigned(id));
    refused.put("expired", rightKey.generateToken(claims.copy().put("exp", System.currentTimeMillis() / 1000 - 3600),
      new JWTOptions(valid).setExpiresInSeconds(0).setNoTimestamp(true)));
    refused.put("wrong key", wrongKey.generateToken(claims, valid));
    refused.put("wrong issuer", rightKey.generateToken(claims, new JWTOptions(valid).setIssuer("someone-else")));
    refused.put("wrong audience", rightKey.generateToken(claims, new JWTOptions(valid).setAudience(List.of("other-api"))));
    refused.put("old token version", rightKey.generateToken(claims.copy().put("tv", 7), valid));
    refused.put("garbage", "not.a.token");
    refused.put("empty", "");
    for (var token : refused.entrySet()) {
      Api.Reply reply = api.get("/api/v1/me", token.getValue());
      assertEquals(401, reply.status, token.getKey() + ": " + reply);
      assertProblem(reply, 401);
    }
    assertProblem(api.raw("GET", "/api/v1/me", null, "Authorization", "Basic dXNlcjpwYXNz"), 401);
  }

  /** A token whose check is remembered (Authentication's VerifiedTokens) stops working at its exp all the same. */
  @Test
  void aRememberedTokenStillExpiresAndNothingButItsExactStringPasses() {
    long id = newUser("hedy").getLong("id");
    JWTAuth rightKey = JWTAuth.create(node.vertx(), new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(TestServers.JWT_SECRET)));
    String token = rightKey.generateToken(new JsonObject().put("role", "user").put("tv", 0), new JWTOptions()
      .setAlgorithm("HS256").setIssuer("pulse").setAudience(List.of("pulse-api")).setSubject(String.valueOf(id)).setExpiresInSeconds(2));
    assertEquals(200, api.get("/api/v1/me", token).status, "a fresh token passes");
    assertEquals(200, api.get("/api/v1/me", token).status, "and again, remembered");

    String[] parts = token.split("\\.");
    // The first character: the last one's low bits are padding, which a decoder may ignore.
    String otherSignature = parts[0] + "." + parts[1] + "." + (parts[2].charAt(0) == 'A' ? 'B' : 'A') + parts[2].substring(1);
    String otherClaims = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(new JsonObject()
      .put("sub", String.valueOf(id)).put("role", "admin").put("tv", 0).put("iss", "pulse").put("aud", "pulse-api")
      .put("exp", System.currentTimeMillis() / 1000 + 600).encode().getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
    assertEquals(401, api.get("/api/v1/me", otherSignature).status, "the remembered token with another signature");
    assertEquals(401, api.get("/api/v1/me", otherClaims).status, "the remembered token's signature on other claims");

    // Accepted until exp plus the library's leeway (5 s), then refused wherever the check was remembered.
    TestServers.await("the remembered token expired", java.time.Duration.ofSeconds(20),
      () -> api.get("/api/v1/me", token).status == 401);
    assertProblem(api.get("/api/v1/me", token), 401);
  }

  private static String unsigned(long id) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String header = b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
    String payload = b64.encodeToString(new JsonObject().put("sub", String.valueOf(id)).put("role", "admin").put("tv", 0)
      .put("iss", "pulse").put("aud", "pulse-api").put("exp", System.currentTimeMillis() / 1000 + 600)
      .encode().getBytes(StandardCharsets.UTF_8));
    return header + "." + payload + ".";
  }

  // ---- registration ----

  @Test
  void simultaneousIdenticalRegistrationsCreateOneUser() throws Exception {
    String username = "twin_" + System.nanoTime() % 1_000_000;
    int attempts = 8;
    CyclicBarrier together = new CyclicBarrier(attempts);
    List<CompletableFuture<Api.Reply>> replies = new ArrayList<>();
    for (int i = 0; i < attempts; i++) {
      replies.add(CompletableFuture.supplyAsync(() -> {
        try {
          together.await();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return api.post("/api/v1/auth/register", register(username, "twin-password-1"), null);
      }));
    }
    List<Integer> statuses = new ArrayList<>();
    for (CompletableFuture<Api.Reply> reply : replies) {
      statuses.add(reply.get(60, TimeUnit.SECONDS).status);
    }
    assertEquals(1, statuses.stream().filter(s -> s == 201).count(), statuses.toString());
    assertEquals(attempts - 1, statuses.stream().filter(s -> s == 409).count(), statuses.toString());
    assertProblem(api.post("/api/v1/auth/register", register(username.toUpperCase(), "twin-password-1")
      .put("email", "other-" + username + "@example.com"), null), 409);
  }

  // ---- bad input ----

  @Test
  void everyKindOfBadInputGetsTheRightProblem() {
    String token = newUser("henry").getString("token");
    String register = "/api/v1/auth/register";

    assertProblem(api.raw("POST", register, "{\"username\": ", "Content-Type", "application/json"), 400);
    assertProblem(api.raw("POST", register, "[1,2]", "Content-Type", "application/json"), 400);
    assertProblem(api.raw("POST", register, "", "Content-Type", "application/json"), 400);
    assertProblem(api.raw("POST", register, "username=a", "Content-Type", "application/x-www-form-urlencoded"), 415);
    assertProblem(api.raw("POST", register, "{}"), 415);
    assertProblem(api.raw("POST", register, "{\"username\":\"" + "x".repeat(70_000) + "\"}",
      "Content-Type", "application/json"), 413);
    assertProblem(api.get("/api/v1/nothing-here", token), 404);
    assertProblem(api.raw("PATCH", "/api/v1/me", "{}", "Content-Type", "application/json"), 405);

    assertFieldError(api.post(register, new JsonObject().put("email", "a@b.co").put("password", "password1"), null), "username");
    assertFieldError(api.post(register, register("ab", "password123"), null), "username");
    assertFieldError(api.post(register, register("bad name!", "password123"), null), "username");
    assertFieldError(api.post(register, register("x".repeat(33), "password123"), null), "username");
    assertFieldError(api.post(register, register("okname1", "password123").put("email", "not-an-email"), null), "email");
    assertFieldError(api.post(register, register("okname2", "short"), null), "password");
    assertFieldError(api.post(register, register("okname3", "p".repeat(129)), null), "password");
    assertFieldError(api.post(register, register("okname4", "password123").put("role", "admin"), null), "role");
    assertFieldError(api.post(register, register("okname5", "password123").put("username", 42), null), "username");

    assertFieldError(api.get("/api/v1/users/abc", token), "id");
    assertFieldError(api.get("/api/v1/users/0", token), "id");
    assertFieldError(api.get("/api/v1/users/99999999999999999999999", token), "id");
    String admin = adminToken();
    assertFieldError(api.get("/api/v1/users?limit=0", admin), "limit");
    assertFieldError(api.get("/api/v1/users?limit=1000", admin), "limit");
    assertFieldError(api.get("/api/v1/users?cursor=abc", admin), "cursor");
    assertFieldError(api.get("/api/v1/audit-logs?from=yesterday", admin), "from");
    assertFieldError(api.get("/api/v1/audit-logs?actor_id=me", admin), "actor_id");
    assertFieldError(api.put("/api/v1/users/1", new JsonObject(), admin), "body");
    assertFieldError(api.put("/api/v1/users/1", new JsonObject().put("role", "superuser"), admin), "role");
  }

  @Test
  void noJunkAClientSendsProducesAServerError() {
    String token = newUser("fuzz").getString("token");
    Random random = new Random(42);
    String[] paths = {"/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/users/1", "/api/v1/me", "/api/v1/users"};
    String[] methods = {"POST", "PUT", "GET", "DELETE"};
    String[] bodies = {"null", "true", "0", "\"x\"", "{\"username\":null}", "{\"username\":{\"$gt\":\"\"}}",
      "{\"password\":[1]}", "{\"email\":\"a@b.c\",\"username\":\"\\u0000\"}", "\u0000\u0001", "{\"a\":" + "[".repeat(300),
      "{\"username\":\"x\",\"password\":\"" + "é".repeat(200) + "\"}"};
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      String method = methods[random.nextInt(methods.length)];
      String path = paths[random.nextInt(paths.length)];
      String body = bodies[random.nextInt(bodies.length)];
      Api.Reply reply = random.nextBoolean()
        ? api.raw(method, path, body, "Content-Type", "application/json", "Authorization", "Bearer " + token)
        : api.raw(method, path, body, "Content-Type", "application/json");
      if (reply.status >= 500) {
        failures.add(method + " " + path + " " + body + " -> " + reply);
      }
    }
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  // ---- the edge: headers, CORS, docs ----

  @Test
  void everyResponseCarriesTheSecurityHeaders() {
    for (Api.Reply reply : List.of(api.get("/health/live", null), api.get("/api/v1/me", null), api.get("/docs", null))) {
      assertEquals("nosniff", reply.header("X-Content-Type-Options"));
      assertEquals("DENY", reply.header("X-Frame-Options"));
      assertEquals("no-referrer", reply.header("Referrer-Policy"));
      assertNotNull(reply.header("Content-Security-Policy"));
      assertEquals(null, reply.header("Strict-Transport-Security"), "plain HTTP: no HSTS");
    }
    assertEquals("max-age=31536000; includeSubDomains",
      api.raw("GET", "/health/live", null, "X-Forwarded-Proto", "https").header("Strict-Transport-Security"));
  }

  @Test
  void corsAllowsTheConfiguredOriginOnly() {
    Api.Reply allowed = api.raw("OPTIONS", "/api/v1/auth/login", null, "Origin", "https://app.example",
      "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type");
    assertEquals("https://app.example", allowed.header("Access-Control-Allow-Origin"), allowed.toString());
    Api.Reply refused = api.raw("GET", "/health/live", null, "Origin", "https://evil.example");
    assertEquals(null, refused.header("Access-Control-Allow-Origin"));
  }

  @Test
  void theDocumentAndItsPageAreServed() {
    Api.Reply yaml = api.get("/openapi.yaml", null);
    assertEquals(200, yaml.status);
    assertTrue(yaml.raw.body().contains("/api/v1/auth/login"));
    Api.Reply docs = api.get("/docs", null);
    assertEquals(200, docs.status);
    assertTrue(docs.header("Content-Type").startsWith("text/html"));
    assertTrue(docs.raw.body().contains("/api/v1/users/{id}"));
  }

  // ---- audit ----

  @Test
  void registrationRoleStatusAndDeletionAreAuditedWithActorAndRequestId() {
    JsonObject ivan = newUser("ivan");
    String id = String.valueOf(ivan.getLong("id"));
    String admin = adminToken();
    Api.Reply promoted = api.put("/api/v1/users/" + id, new JsonObject().put("role", "admin"), admin);
    assertEquals(200, promoted.status);
    assertEquals(200, api.put("/api/v1/users/" + id, new JsonObject().put("status", "disabled"), admin).status);
    assertEquals(204, api.delete("/api/v1/users/" + id, admin).status);

    Api.Reply trail = api.get("/api/v1/audit-logs?entity_type=user&entity_id=" + id, admin);
    assertEquals(200, trail.status, trail.toString());
    List<JsonObject> rows = trail.json().getJsonArray("items").stream().map(o -> (JsonObject) o).collect(Collectors.toList());
    assertEquals(List.of("deleted", "updated", "updated", "registered"),
      rows.stream().map(r -> r.getString("action")).collect(Collectors.toList()), "newest first");
    JsonObject roleChange = rows.get(2);
    assertEquals("admin", roleChange.getJsonObject("details").getJsonObject("role").getString("to"));
    assertEquals(promoted.header("X-Request-Id"), roleChange.getString("request_id"));
    assertTrue(roleChange.getLong("actor_id") != null && roleChange.getLong("actor_id") != ivan.getLong("id").longValue(),
      "the admin is the actor");
    assertEquals(ivan.getLong("id"), rows.get(3).getLong("actor_id"), "users register themselves");
    assertFalse(trail.raw.body().contains(ivan.getString("password")), "no password in the trail");

    Api.Reply page = api.get("/api/v1/audit-logs?entity_id=" + id + "&limit=2", admin);
    String cursor = page.json().getString("next_cursor");
    assertNotNull(cursor);
    Api.Reply rest = api.get("/api/v1/audit-logs?entity_id=" + id + "&limit=2&cursor=" + cursor, admin);
    assertEquals(List.of("updated", "registered"), rest.json().getJsonArray("items").stream()
      .map(o -> ((JsonObject) o).getString("action")).collect(Collectors.toList()));
  }
}
