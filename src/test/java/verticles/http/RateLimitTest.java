package verticles.http;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;
import verticles.EmbeddedServers;
import verticles.support.Api;
import verticles.support.PulseNode;
import verticles.support.ServerFiles;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Rate limits live in Redis: they hold across HTTP instances, and have a stated policy when Redis is down. */
class RateLimitTest {

  /** A Redis of this test's own, so it can be stopped; low limits, two HTTP instances. */
  @RegisterExtension
  static final PulseNode node = PulseNode.create().withOwnRedis()
    .with("HTTP_INSTANCES", "2").with("RATE_LIMIT_AUTH_PER_MINUTE", "5").with("RATE_LIMIT_USER_PER_MINUTE", "8")
    .with("RATE_LIMIT_PUBLIC_PER_MINUTE", "640");
  private static final int PUBLIC_LIMIT = 640;

  private static EmbeddedServers redis;
  private static int port;
  private static int redisPort;
  private static final Set<String> ACCESS_THREADS = ConcurrentHashMap.newKeySet();
  private static AppenderBase<ILoggingEvent> threads;

  @BeforeAll
  static void start() {
    redis = node.redis();
    redisPort = node.redisPort();
    port = node.port();
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    threads = new AppenderBase<>() {
      @Override
      protected void append(ILoggingEvent event) {
        ACCESS_THREADS.add(event.getThreadName());
      }
    };
    threads.setContext(logback);
    threads.start();
    logback.getLogger("pulse.access").addAppender(threads);
    logback.getLogger("pulse.access").setLevel(ch.qos.logback.classic.Level.INFO);
  }

  @AfterAll
  static void stop() {
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    logback.getLogger("pulse.access").detachAppender(threads);
    logback.getLogger("pulse.access").setLevel(null);
  }

  /** Each test starts with fresh allowances (all its requests come from 127.0.0.1). */
  @BeforeEach
  void forgetCounts() throws Exception {
    assertEquals("+OK", ServerFiles.redisCommand(redisPort, "FLUSHALL"));
  }

  /** A new client (so a new connection) per request: connections spread over both HTTP instances. */
  private static Api.Reply login(String username, String password) {
    return new Api(port).post("/api/v1/auth/login", new JsonObject().put("username", username).put("password", password), null);
  }

  /** Registers {@code username} (password "{@code username}-password") and logs in: the access token. */
  private static String registeredToken(String username) {
    assertEquals(201, new Api(port).post("/api/v1/auth/register", new JsonObject().put("username", username)
      .put("email", username + "@example.com").put("password", username + "-password"), null).status);
    return login(username, username + "-password").json().getString("access_token");
  }

  @Test
  void theSixthLoginInAMinuteIsRefusedWhicheverInstanceServesIt() {
    ACCESS_THREADS.clear();
    for (int i = 1; i <= 5; i++) {
      Api.Reply reply = login("mallory", "guess-" + i);
      assertEquals(401, reply.status, "attempt " + i + ": " + reply);
      assertEquals("5", reply.header("RateLimit-Limit"));
      assertEquals(String.valueOf(5 - i), reply.header("RateLimit-Remaining"));
    }
    Api.Reply limited = login("mallory", "guess-6");
    assertEquals(429, limited.status, limited.toString());
    assertEquals("application/problem+json", limited.header("Content-Type"));
    assertNotNull(limited.header("Retry-After"));
    int retryAfter = Integer.parseInt(limited.header("Retry-After"));
    assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After " + retryAfter);
    assertEquals("0", limited.header("RateLimit-Remaining"));
    assertTrue(ACCESS_THREADS.size() >= 2, "both HTTP instances served these requests: " + ACCESS_THREADS);
  }

  @Test
  void eachUserHasTheirOwnApiAllowance() {
    Api api = new Api(port);
    assertEquals(201, api.post("/api/v1/auth/register", new JsonObject().put("username", "quota_user")
      .put("email", "quota@example.com").put("password", "quota-password"), null).status);
    String token = new Api(port).post("/api/v1/auth/login", new JsonObject().put("username", "quota_user")
      .put("password", "quota-password"), null).json().getString("access_token");
    for (int i = 1; i <= 8; i++) {
      assertEquals(200, new Api(port).get("/api/v1/me", token).status, "request " + i);
    }
    Api.Reply limited = new Api(port).get("/api/v1/me", token);
    assertEquals(429, limited.status);
    assertNotNull(limited.header("Retry-After"));
  }

  /**
   * Checks that arrive together share one count in Redis: the limit still lets exactly 8 through,
   * and each request gets a place of its own (no two allowed requests see the same remainder).
   */
  @Test
  void concurrentRequestsAreCountedOneByOneEvenWhenTheyShareARoundTrip() throws Exception {
    String token = registeredToken("crowd");
    ExecutorService clients = Executors.newFixedThreadPool(30);
    try {
      List<Future<Api.Reply>> sent = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        sent.add(clients.submit(() -> new Api(port).get("/api/v1/me", token)));
      }
      List<Api.Reply> replies = new ArrayList<>();
      for (Future<Api.Reply> reply : sent) {
        replies.add(reply.get(30, TimeUnit.SECONDS));
      }
      List<String> allowed = replies.stream().filter(reply -> reply.status == 200)
        .map(reply -> reply.header("RateLimit-Remaining")).sorted().toList();
      assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7"), allowed, "exactly 8 allowed, each with its own place");
      assertEquals(22, replies.stream().filter(reply -> reply.status == 429).count(), replies.toString());
    } finally {
      clients.shutdownNow();
    }
  }

  /**
   * A busy client far from its limit is counted in leases of places taken ahead, one Redis call
   * per lease; near the limit, one by one. Never more than the limit through (both instances
   * serving), each request its own place, and at most a 32nd of what was left lost per instance.
   */
  @Test
  void aBusyClientIsCountedInLeasesAndNeverPassesItsLimit() throws Exception {
    long callsBefore = rateLimitCalls();
    int farFromTheLimit = PUBLIC_LIMIT * 3 / 4;
    List<Api.Reply> replies = productLists(farFromTheLimit);
    long calls = rateLimitCalls() - callsBefore;
    assertEquals(farFromTheLimit, replies.stream().filter(reply -> reply.status == 200).count());
    assertTrue(calls * 4 < farFromTheLimit, calls + " Redis calls for " + farFromTheLimit + " requests: leases were not used");

    replies.addAll(productLists(PUBLIC_LIMIT / 2));
    List<Api.Reply> allowed = replies.stream().filter(reply -> reply.status == 200).toList();
    assertEquals(replies.size(), allowed.size() + replies.stream().filter(reply -> reply.status == 429).count(), "only 200s and 429s");
    assertTrue(allowed.size() <= PUBLIC_LIMIT, allowed.size() + " let through, over the limit of " + PUBLIC_LIMIT);
    assertTrue(allowed.size() >= PUBLIC_LIMIT - 2 * PUBLIC_LIMIT / 32, "only " + allowed.size() + " of " + PUBLIC_LIMIT + " let through");
    assertEquals(allowed.size(), allowed.stream().map(reply -> reply.header("RateLimit-Remaining")).distinct().count(),
      "each request let through has a place of its own");
  }

  /** {@code count} anonymous GET /api/v1/products, 16 at a time, each on a new connection. */
  private static List<Api.Reply> productLists(int count) throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(16);
    try {
      List<Future<Api.Reply>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        sent.add(clients.submit(() -> new Api(port).get("/api/v1/products", null)));
      }
      List<Api.Reply> replies = new ArrayList<>();
      for (Future<Api.Reply> reply : sent) {
        replies.add(reply.get(60, TimeUnit.SECONDS));
      }
      return replies;
    } finally {
      clients.shutdownNow();
    }
  }

  /** Rate limit calls made to Redis so far, by every HTTP instance (the batch-size summary's count). */
  private static long rateLimitCalls() {
    String metrics = new Api(port).get("/metrics", null).raw.body();
    return metrics.lines().filter(line -> line.startsWith("pulse_ratelimit_batch_size_count"))
      .mapToLong(line -> (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  void withRedisDownLoginsAreRefusedButAuthenticatedRequestsGoThrough() throws Exception {
    Api api = new Api(port);
    String token = registeredToken("steady");

    redis.stopRedis();
    try {
      Api.Reply login = login("steady", "steady-password");
      assertEquals(503, login.status, "auth endpoints fail closed: " + login);
      assertEquals("application/problem+json", login.header("Content-Type"));
      Api.Reply me = api.get("/api/v1/me", token);
      assertEquals(200, me.status, "the rest of the API fails open: " + me);
    } finally {
      redis.restartRedis();
    }
  }
}
