package verticles.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.Node;
import verticles.common.Config;
import verticles.support.Api;
import verticles.support.TestServers;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Slow, stalled and oversized clients at the socket level: each is answered or cut off, none holds a socket. */
class EdgeTimeoutsTest {

  private static final int READ_TIMEOUT_MS = 1500;
  private static Node node;
  /** Every ERROR the node logs while this class runs. */
  private static final ListAppender<ILoggingEvent> ERRORS = new ListAppender<>() {
    @Override
    protected void append(ILoggingEvent event) {
      if (event.getLevel() == Level.ERROR) {
        super.append(event);
      }
    }
  };
  private static int port;

  @BeforeAll
  static void start() throws Exception {
    Config config = TestServers.config(Map.of("DATABASE_URL", TestServers.freshDatabase(),
      "HTTP_READ_TIMEOUT_MS", String.valueOf(READ_TIMEOUT_MS), "HTTP_REQUEST_TIMEOUT_MS", "700",
      // One hashing thread: concurrent logins queue up behind each other, past the request deadline.
      "PASSWORD_HASH_THREADS", "1"));
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    ERRORS.setContext(logback);
    ERRORS.start();
    logback.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(ERRORS);
    node = Node.start(config).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    port = config.integer(Config.HTTP_PORT);
  }

  @AfterAll
  static void stop() throws Exception {
    ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(ERRORS);
    node.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  /** Reads until the server closes the socket (or 5 s pass); the bytes it sent, or null if it kept the socket open. */
  private static String untilClosed(Socket socket) throws IOException {
    socket.setSoTimeout(5000);
    ByteArrayOutputStream seen = new ByteArrayOutputStream();
    InputStream in = socket.getInputStream();
    byte[] buffer = new byte[4096];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        seen.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException e) {
      return null;
    } catch (IOException e) {
      // reset by the server: closed too
    }
    return seen.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aHundredHalfSentRequestsAreCutOffAfterTheReadTimeout() throws Exception {
    List<Socket> sockets = new ArrayList<>();
    long began = System.nanoTime();
    for (int i = 0; i < 100; i++) {
      Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
      OutputStream out = socket.getOutputStream();
      out.write(("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + i).getBytes(StandardCharsets.US_ASCII));
      out.flush();
      sockets.add(socket);
    }
    for (Socket socket : sockets) {
      String answer = untilClosed(socket);
      assertTrue(answer != null, "the server closed a half-sent request's socket");
      socket.close();
    }
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    assertTrue(tookMs < READ_TIMEOUT_MS + 4000, "all closed within the read timeout and a margin: " + tookMs + " ms");
  }

  @Test
  void anIdleKeepAliveConnectionIsClosedButAPromptOneIsServed() throws Exception {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String answer = untilClosed(socket);
      assertTrue(answer != null && answer.startsWith("HTTP/1.1 200"), "served, then closed when no next request came: " + answer);
    }
  }

  @Test
  void oversizedHeadersAndUrisGetAProblemBodyAndAClosedConnection() throws Exception {
    String[] requests = {
      "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n",
      "GET /api/v1/" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
      "NOT-HTTP\r\n\r\n"};
    int[] statuses = {431, 414, 400};
    for (int i = 0; i < requests.length; i++) {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
        socket.getOutputStream().write(requests[i].getBytes(StandardCharsets.US_ASCII));
        String answer = untilClosed(socket);
        assertTrue(answer != null && answer.matches("(?s)HTTP/1\\.[01] " + statuses[i] + " .*"), "expected " + statuses[i] + ": " + answer);
        assertTrue(answer.toLowerCase().contains("connection: close"), answer);
        assertTrue(answer.contains("application/problem+json"), answer);
        JsonObject problem = new JsonObject(answer.substring(answer.indexOf("\r\n\r\n") + 4));
        assertEquals(statuses[i], problem.getInteger("status"));
        assertTrue(problem.getString("request_id") != null && !problem.getString("detail").isBlank(), problem.encode());
      }
    }
  }

  /** Logins sent at once by the next test, so that the last ones wait past the request deadline. */
  private static final int CROWD = 128;

  /**
   * Logins queued behind one hashing thread finish after their deadline answered 503: the late
   * answer from identity is dropped, not written over the 503 (which would throw on the event loop).
   */
  @Test
  void anAnswerThatArrivesAfterTheDeadlineIsDropped() throws Exception {
    synchronized (ERRORS) {
      ERRORS.list.clear();  // only this test's
    }
    Api api = new Api(port);
    JsonObject user = new JsonObject().put("username", "late").put("email", "late@example.com").put("password", "late-password-1");
    assertEquals(201, api.post("/api/v1/auth/register", user, null).status);
    JsonObject login = new JsonObject().put("username", "late").put("password", "late-password-1");
    // 128 at once: the last waits for 127 hashes before it, past the 700 ms deadline even where a
    // hash takes 6 ms (16 at once were not enough on a machine hashing in about 20 ms). Over two
    // connections: the server allows 100 concurrent HTTP/2 streams on one.
    Api[] connections = {new Api(port), new Api(port)};
    ExecutorService clients = Executors.newFixedThreadPool(CROWD);
    try {
      List<Integer> statuses = new CopyOnWriteArrayList<>();
      TestServers.await("a login answered 503 by its deadline", Duration.ofSeconds(60), () -> {
        List<CompletableFuture<Integer>> round = new ArrayList<>();
        for (int i = 0; i < CROWD; i++) {
          Api connection = connections[i % 2];
          round.add(CompletableFuture.supplyAsync(() -> connection.post("/api/v1/auth/login", login, null).status, clients));
        }
        round.forEach(each -> statuses.add(each.join()));
        return statuses.contains(503);
      });
      assertTrue(statuses.stream().allMatch(status -> status == 200 || status == 503), "200 or 503, nothing else: " + statuses);
      // The hashing thread works in arrival order: once a later login is answered, the late ones have been too.
      TestServers.await("a login served again", Duration.ofSeconds(30), () -> api.post("/api/v1/auth/login", login, null).status == 200);
      List<String> errors;
      synchronized (ERRORS) {
        errors = ERRORS.list.stream().map(event -> event.getFormattedMessage()
          + (event.getThrowableProxy() == null ? "" : ": " + event.getThrowableProxy().getMessage())).collect(Collectors.toList());
      }
      assertEquals(List.of(), errors, "no error on the event loop when a late answer comes in");
    } finally {
      clients.shutdownNow();
    }
  }

  @Test
  void aBodyThatNeverFinishesIsAnsweredWith408() throws Exception {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.getOutputStream().write(("POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: 100\r\n\r\n{\"username\":").getBytes(StandardCharsets.US_ASCII));
      String answer = untilClosed(socket);
      assertTrue(answer != null && answer.startsWith("HTTP/1.1 408"), "answered 408 and closed: " + answer);
      assertTrue(answer.contains("application/problem+json"), answer);
    }
  }
}
