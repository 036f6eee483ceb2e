package verticles;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.ServerFiles;
import verticles.support.TestServers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Embedded mode in nodes of their own JVMs: a server killed with SIGKILL comes back by itself,
 * and a second Pulse on the same machine takes other ports when the defaults are busy (or stops
 * with one line when a busy port was asked for).
 */
class EmbeddedModeTest {

  private static final int DEFAULT_PG_PORT = 15432;
  private static final int DEFAULT_REDIS_PORT = 16379;

  @TempDir
  Path work;

  private final List<NodeProcess> nodes = new ArrayList<>();
  private final List<Path> dataDirs = new ArrayList<>();
  private final List<ServerSocket> held = new ArrayList<>();

  /** Kills the nodes; their watchdogs stop their servers, and any a failed test left is killed here. */
  @AfterEach
  void stopEverything() throws IOException {
    for (NodeProcess node : nodes) {
      node.close();
    }
    for (Path data : dataDirs) {
      for (Optional<ProcessHandle> server : List.of(serverIn(data, true), serverIn(data, false))) {
        server.ifPresent(process -> {
          try {
            process.onExit().get(15, TimeUnit.SECONDS);
          } catch (Exception stillRunning) {
            process.destroyForcibly();
          }
        });
      }
    }
    for (ServerSocket socket : held) {
      socket.close();
    }
  }

  @Test
  void aKilledPostgresIsRestartedOnItsDataAndTheNodeServesWritesAgain() throws Exception {
    Path data = work.resolve("data");
    NodeProcess node = start(embedded(data, TestServers.freePort(), TestServers.freePort()));
    node.awaitReady(Duration.ofSeconds(90));
    Api api = new Api(node.httpPort());
    assertEquals(201, register(api, "before").status, "a user written before the kill");
    ProcessHandle postmaster = ServerFiles.postgres(data).orElseThrow();

    postmaster.destroyForcibly();

    ProcessHandle restarted = awaitRestarted("PostgreSQL", node, data, postmaster, true);
    assertEquals(200, api.post("/api/v1/auth/login", new JsonObject().put("username", "before")
      .put("password", "correct horse battery"), null).status, "the user written before the kill is still there");
    assertOneDeathAndOneReturn(node.output(), "PostgreSQL");
    assertTheWatchdogStops(node, restarted, "the restarted PostgreSQL");
  }

  @Test
  void aKilledRedisIsRestartedOnItsDataAndTheNodeServesWritesAgain() throws Exception {
    Path data = work.resolve("data");
    int redisPort = TestServers.freePort();
    NodeProcess node = start(embedded(data, TestServers.freePort(), redisPort));
    node.awaitReady(Duration.ofSeconds(90));
    assertEquals("+OK", ServerFiles.redisCommand(redisPort, "SET", "marker", "kept"));
    ProcessHandle redis = ServerFiles.redis(data).orElseThrow();
    // The append-only file is written every second: wait until the marker is on disk before the kill.
    TestServers.await("the marker to reach the append-only file", Duration.ofSeconds(10), () -> appendOnlyHas(data, "marker"));

    redis.destroyForcibly();

    ProcessHandle restarted = awaitRestarted("Redis", node, data, redis, false);
    assertEquals("$4\r\nkept", ServerFiles.redisCommand(redisPort, "GET", "marker"), "the key written before the kill is back");
    assertOneDeathAndOneReturn(node.output(), "Redis");
    assertTheWatchdogStops(node, restarted, "the restarted Redis");
  }

  @Test
  void withTheDefaultPortsBusyANodeTakesFreeOnesButABusyPortAskedForStopsTheStart() throws Exception {
    assumeTrue(System.getenv("EMBEDDED_PG_PORT") == null && System.getenv("EMBEDDED_REDIS_PORT") == null,
      "the test sets the embedded ports itself");
    hold(DEFAULT_PG_PORT);
    hold(DEFAULT_REDIS_PORT);
    assertFalse(EmbeddedServers.portFree(DEFAULT_PG_PORT), "15432 is busy");
    assertFalse(EmbeddedServers.portFree(DEFAULT_REDIS_PORT), "16379 is busy");

    NodeProcess neighbour = start(Map.of("DATA_DIR", work.resolve("neighbour").toString(), "LOG_FORMAT", "text",
      "CLUSTER", "false"));
    neighbour.awaitReady(Duration.ofSeconds(90));
    String output = neighbour.output();
    assertTrue(output.contains("EMBEDDED_PG_PORT is not set and its default port 15432 is in use"), output);
    assertTrue(output.contains("EMBEDDED_REDIS_PORT is not set and its default port 16379 is in use"), output);
    int pgPort = loggedPort(output, "embedded PostgreSQL created at postgresql://postgres@127\\.0\\.0\\.1:(\\d+)/postgres");
    int redisPort = loggedPort(output, "embedded Redis at redis://127\\.0\\.0\\.1:(\\d+)");
    assertNotEquals(DEFAULT_PG_PORT, pgPort);
    assertNotEquals(DEFAULT_REDIS_PORT, redisPort);
    try (Connection db = TestServers.jdbc("postgresql://postgres@127.0.0.1:" + pgPort + "/postgres")) {
      assertTrue(db.isValid(5), "PostgreSQL answers at the logged URL");
    }
    assertEquals("+PONG", ServerFiles.redisCommand(redisPort, "PING"), "Redis answers at the logged URL");

    NodeProcess refused = start(Map.of("DATA_DIR", work.resolve("explicit").toString(), "LOG_FORMAT", "text",
      "CLUSTER", "false", "EMBEDDED_PG_PORT", String.valueOf(DEFAULT_PG_PORT)));
    assertTrue(refused.process().waitFor(60, TimeUnit.SECONDS), "the node gives up at once");
    assertEquals(2, refused.process().exitValue(), refused.output());
    List<String> lines = refused.output().lines().collect(Collectors.toList());
    assertEquals(1, lines.size(), "one line: " + refused.output());
    assertEquals("pulse: configuration error: EMBEDDED_PG_PORT (from the environment) is '15432', "
      + "expected a free port (it is in use)", lines.get(0));
    assertTrue(ServerFiles.postgres(work.resolve("explicit")).isEmpty(), "no PostgreSQL was started");
  }

  /**
   * Waits for a new server in place of {@code killed}, readiness again, then a write through the
   * API; returns the new server.
   */
  private static ProcessHandle awaitRestarted(String what, NodeProcess node, Path data, ProcessHandle killed, boolean postgres) {
    try {
      return awaitRestartedQuietly(what, node, data, killed, postgres);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; the node's log:\n" + node.output(), e);
    }
  }

  private static ProcessHandle awaitRestartedQuietly(String what, NodeProcess node, Path data, ProcessHandle killed, boolean postgres) {
    TestServers.await("the killed " + what + " to be gone", Duration.ofSeconds(10), () -> !running(killed));
    TestServers.await("a new " + what, Duration.ofSeconds(30), () -> {
      Optional<ProcessHandle> now = serverIn(data, postgres);
      return now.isPresent() && now.get().pid() != killed.pid() && now.get().isAlive();
    });
    ProcessHandle restarted = serverIn(data, postgres).orElseThrow();
    TestServers.await("/health/ready 200 again", Duration.ofSeconds(30), () -> node.get("/health/ready").statusCode() == 200);
    Api api = new Api(node.httpPort());
    int[] attempt = {0};
    // Pooled connections to the killed server fail once each; a write goes through within seconds.
    TestServers.await("a registration to succeed", Duration.ofSeconds(30),
      () -> register(api, "after" + (++attempt[0])).status == 201);
    return restarted;
  }

  /** The node dies with SIGKILL: its watchdog stops the server started after the first one died. */
  private static void assertTheWatchdogStops(NodeProcess node, ProcessHandle server, String what) throws InterruptedException {
    assertTrue(running(server), what + " runs");
    node.process().destroyForcibly().waitFor();
    TestServers.await(what + " (pid " + server.pid() + ") to be stopped by the watchdog", Duration.ofSeconds(20),
      () -> !running(server));
  }

  private static void assertOneDeathAndOneReturn(String output, String what) {
    List<String> deaths = lines(output, "embedded " + what + " (pid ");
    assertEquals(1, deaths.size(), "one line for the death:\n" + output);
    assertTrue(deaths.get(0).contains(" WARN ") && deaths.get(0).contains("died"), deaths.get(0));
    List<String> returns = lines(output, "embedded " + what + " is back");
    assertEquals(1, returns.size(), "one line for the return:\n" + output);
    assertTrue(returns.get(0).contains(" INFO "), returns.get(0));
    assertTrue(lines(output, " ERROR ").isEmpty(), "no errors:\n" + output);
  }

  private static List<String> lines(String output, String containing) {
    return output.lines().filter(line -> line.contains(containing)).collect(Collectors.toList());
  }

  private static Api.Reply register(Api api, String username) {
    try {
      return api.post("/api/v1/auth/register", new JsonObject().put("username", username)
        .put("email", username + "@example.com").put("password", "correct horse battery"), null);
    } catch (UncheckedIOException e) {
      throw new AssertionError("the node does not answer", e);
    }
  }

  private static Optional<ProcessHandle> serverIn(Path data, boolean postgres) {
    try {
      return postgres ? ServerFiles.postgres(data) : ServerFiles.redis(data);
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // the file is being rewritten
    }
  }

  /** Alive and not a zombie (a killed PostgreSQL is reparented to init, which may reap it late). */
  private static boolean running(ProcessHandle process) {
    if (!process.isAlive()) {
      return false;
    }
    try {
      String stat = java.nio.file.Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean appendOnlyHas(Path data, String text) {
    try (var files = java.nio.file.Files.walk(data.resolve("redis"))) {
      return files.filter(java.nio.file.Files::isRegularFile).filter(f -> f.getFileName().toString().contains("aof"))
        .anyMatch(f -> {
          try {
            return new String(java.nio.file.Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1).contains(text);
          } catch (IOException e) {
            return false;
          }
        });
    } catch (IOException e) {
      return false;
    }
  }

  private static int loggedPort(String output, String regex) {
    Matcher matcher = Pattern.compile(regex).matcher(output);
    assertTrue(matcher.find(), "no line matching " + regex + ":\n" + output);
    return Integer.parseInt(matcher.group(1));
  }

  private NodeProcess start(Map<String, String> env) {
    dataDirs.add(Path.of(env.get("DATA_DIR")));
    NodeProcess node = NodeProcess.start(work, env);
    nodes.add(node);
    return node;
  }

  private Map<String, String> embedded(Path data, int pgPort, int redisPort) {
    return Map.of("DATA_DIR", data.toString(),
      "EMBEDDED_PG_PORT", String.valueOf(pgPort),
      "EMBEDDED_REDIS_PORT", String.valueOf(redisPort),
      "CLUSTER", "false",
      "LOG_FORMAT", "text",
      "RATE_LIMIT_AUTH_PER_MINUTE", "1000");
  }

  /** Binds the port on 127.0.0.1 if nobody has it; if somebody does, it is busy all the same. */
  private void hold(int port) {
    try {
      ServerSocket socket = new ServerSocket();
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      held.add(socket);
    } catch (IOException busyAlready) {
      // in use by something else: what the test needs
    }
  }
}
