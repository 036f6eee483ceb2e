package verticles.tasks;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.Node;
import verticles.common.Config;
import verticles.support.Api;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Redis behind Sentinels, with real redis-server and redis-sentinel processes on 127.0.0.1 (a
 * master, a replica, three Sentinels): the master is SIGKILLed under a steady load of tasks, and
 * later a planned failover demotes the master in place. Each time, the node follows: work resumes
 * within the Sentinels' failover time plus 5 s, and no accepted task is lost.
 */
class SentinelFailoverTest {

  private static final String MASTER_SET = "pulse";
  private static final long RESUME_WITHIN_MS = 5_000;

  @TempDir
  Path work;

  private final List<Process> servers = new ArrayList<>();
  private final ConcurrentLinkedQueue<Long> accepted = new ConcurrentLinkedQueue<>();

  @Test
  void tasksRunOnThroughAFailoverAndNoneIsLost() throws Exception {
    String redisServer = binary("redis-server");
    String redisSentinel = binary("redis-sentinel");
    Assumptions.assumeTrue(redisServer != null && redisSentinel != null, "skipped: redis-server and redis-sentinel "
      + "(Debian's redis-server and redis-sentinel packages) are not installed; .ci/run installs them");

    int masterPort = TestServers.freePort();
    int replicaPort = TestServers.freePort();
    List<Integer> sentinelPorts = List.of(TestServers.freePort(), TestServers.freePort(), TestServers.freePort());
    Node node = null;
    AtomicBoolean loading = new AtomicBoolean(true);
    Thread load = null;
    try {
      Process master = redis(redisServer, "master", masterPort);
      redis(redisServer, "replica", replicaPort, "--replicaof", "127.0.0.1", String.valueOf(masterPort));
      for (int port : sentinelPorts) {
        sentinel(redisSentinel, port, masterPort);
      }
      TestServers.await("the Sentinels to know the replica and each other", Duration.ofSeconds(40), () -> sentinelPorts.stream()
        .allMatch(port -> size(command(port, "SENTINEL", "REPLICAS", MASTER_SET)) == 1
          && size(command(port, "SENTINEL", "SENTINELS", MASTER_SET)) == 2));

      String databaseUrl = TestServers.freshDatabase();
      String sentinels = sentinelPorts.stream().map(port -> "127.0.0.1:" + port).collect(Collectors.joining(","));
      Config config = TestServers.config(Map.of(Config.DATABASE_URL, databaseUrl,
        Config.REDIS_URL, "redis-sentinel://" + sentinels + "/" + MASTER_SET,
        Config.ADMIN_USERNAME, "ops", Config.ADMIN_PASSWORD, "ops-password-1",
        Config.TASK_LEASE_MS, "4000", Config.TASK_RECONCILE_MS, "1000"));
      node = Node.start(config).toCompletionStage().toCompletableFuture().get(90, TimeUnit.SECONDS);
      Api api = new Api(config.integer(Config.HTTP_PORT));
      String admin = api.login("ops", "ops-password-1");
      load = new Thread(() -> submitWhile(api, admin, loading), "sentinel-test-load");
      load.start();

      String done = "SELECT count(*) FROM tasks WHERE status = 'succeeded'";
      TestServers.await("work under way", Duration.ofSeconds(30), () -> TestServers.scalar(databaseUrl, done) >= 300);

      // 1. The master dies.
      Instant killed = Instant.now();
      master.destroyForcibly();
      Instant switched = awaitMaster(sentinelPorts.get(0), replicaPort);
      Instant resumed = firstStartAfter(databaseUrl, killed.plusMillis(250));
      report("master SIGKILLed", killed, switched, resumed);
      assertTrue(Duration.between(switched, resumed).toMillis() <= RESUME_WITHIN_MS,
        "work resumed within the failover time plus 5 s after the kill");

      // 2. A planned failover: the old master, back as a replica, is promoted; the other is demoted in place.
      master = redis(redisServer, "master", masterPort);
      TestServers.await("the old master back as a replica", Duration.ofSeconds(40),
        () -> size(command(sentinelPorts.get(0), "SENTINEL", "REPLICAS", MASTER_SET)) == 1
          && String.valueOf(command(masterPort, "INFO", "replication")).contains("master_link_status:up"));
      Instant asked = Instant.now();
      assertEquals("OK", command(sentinelPorts.get(0), "SENTINEL", "FAILOVER", MASTER_SET));
      Instant moved = awaitMaster(sentinelPorts.get(0), masterPort);
      Instant resumedAgain = firstStartAfter(databaseUrl, moved);
      report("planned failover (SENTINEL FAILOVER)", asked, moved, resumedAgain);
      assertTrue(Duration.between(moved, resumedAgain).toMillis() <= RESUME_WITHIN_MS,
        "work resumed within 5 s of the planned failover");

      // 3. The master freezes (SIGSTOP): its connections stay open and never answer, the worst case
      //    for a client; the Sentinels fail it over, and the clients stuck on it must notice.
      TestServers.await("the demoted server back in sync", Duration.ofSeconds(40),
        () -> String.valueOf(command(replicaPort, "INFO", "replication")).contains("master_link_status:up"));
      double rebuiltBefore = rebuilds(api);
      Instant frozen = Instant.now();
      signal("STOP", master);
      Instant failedOver = awaitMaster(sentinelPorts.get(0), replicaPort);
      Instant resumedAfterFreeze = firstStartAfter(databaseUrl, frozen.plusMillis(250));
      report("master frozen (SIGSTOP)", frozen, failedOver, resumedAfterFreeze);
      assertTrue(Duration.between(failedOver, resumedAfterFreeze).toMillis() <= RESUME_WITHIN_MS,
        "work resumed within the failover time plus 5 s after the freeze");
      assertTrue(rebuilds(api) > rebuiltBefore, "the clients stuck on the frozen master were replaced");
      signal("CONT", master);

      NodeProcess.sleep(1000);
      loading.set(false);
      load.join(10_000);
      String ids = accepted.stream().map(String::valueOf).collect(Collectors.joining(","));
      TestServers.await("every accepted task done", Duration.ofSeconds(60), () -> TestServers.scalar(databaseUrl,
        "SELECT count(*) FROM tasks WHERE status = 'succeeded' AND id IN (" + ids + ")") == accepted.size());
      System.out.printf("%d tasks accepted, all succeeded; %d ran twice; Redis clients rebuilt: %.0f%n", accepted.size(),
        TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE attempts > 1"), rebuilds(api));
      assertEquals(0, TestServers.scalar(databaseUrl, "SELECT count(*) FROM tasks WHERE status <> 'succeeded'"), "no task lost or stuck");
    } finally {
      loading.set(false);
      if (load != null) {
        load.join(10_000);
      }
      if (node != null) {
        node.stop().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      for (Process server : servers) {
        server.destroy();
      }
      for (Process server : servers) {
        if (!server.waitFor(10, TimeUnit.SECONDS)) {
          server.destroyForcibly();
        }
      }
    }
  }

  private void report(String what, Instant began, Instant switched, Instant resumed) {
    System.out.printf("%s: the Sentinels named the new master %d ms later; the first task started on it %d ms after that "
      + "(%d ms in all)%n", what, Duration.between(began, switched).toMillis(), Duration.between(switched, resumed).toMillis(),
      Duration.between(began, resumed).toMillis());
  }

  private static void signal(String name, Process process) throws Exception {
    assertEquals(0, new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).start().waitFor());
  }

  /** Batches of 20 noop tasks, one every 20 ms, until told to stop; the ids the node accepted. */
  /**
   * Submits 20 tasks every 50 ms until told to stop: a steady flow, never all done before a phase
   * starts (a cap on the count once ran out before the freeze, leaving no work to resume).
   */
  private void submitWhile(Api api, String admin, AtomicBoolean loading) {
    while (loading.get()) {
      JsonArray tasks = new JsonArray();
      for (int i = 0; i < 20; i++) {
        tasks.add(new JsonObject().put("type", "noop"));
      }
      try {
        Api.Reply reply = api.post("/api/v1/tasks/batch", new JsonObject().put("tasks", tasks), admin);
        if (reply.status == 201) {
          reply.json().getJsonArray("items").forEach(item -> accepted.add(((JsonObject) item).getLong("id")));
        }
      } catch (RuntimeException e) {
        // not accepted: nothing to count
      }
      NodeProcess.sleep(50);
    }
  }

  /** When the Sentinel at {@code sentinelPort} first names the server on {@code port} as the master. */
  private static Instant awaitMaster(int sentinelPort, int port) {
    TestServers.await("the Sentinels to name 127.0.0.1:" + port + " the master", Duration.ofSeconds(60), () ->
      String.valueOf(command(sentinelPort, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_SET)).contains(String.valueOf(port)));
    return Instant.now();
  }

  /** The start of the first task claimed after {@code after} (PostgreSQL's started_at). */
  private static Instant firstStartAfter(String databaseUrl, Instant after) {
    String first = "SELECT coalesce(extract(epoch FROM min(started_at)) * 1000, 0)::bigint FROM tasks WHERE started_at > '"
      + after + "'";
    TestServers.await("a task started after " + after, Duration.ofSeconds(60), () -> TestServers.scalar(databaseUrl, first) > 0);
    return Instant.ofEpochMilli(TestServers.scalar(databaseUrl, first));
  }

  private static double rebuilds(Api api) {
    return api.raw("GET", "/metrics", null).raw.body().lines()
      .filter(line -> line.startsWith("pulse_redis_client_rebuilds_total"))
      .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).sum();
  }

  private Process redis(String binary, String name, int port, String... more) throws IOException {
    Path dir = Files.createDirectories(work.resolve(name + "-" + port));
    List<String> command = new ArrayList<>(List.of(binary, "--port", String.valueOf(port), "--bind", "127.0.0.1",
      "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no"));
    command.addAll(List.of(more));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
    servers.add(process);
    TestServers.await(name + " on " + port, Duration.ofSeconds(20), () -> "PONG".equals(command(port, "PING")));
    return process;
  }

  private void sentinel(String binary, int port, int masterPort) throws IOException {
    Path dir = Files.createDirectories(work.resolve("sentinel-" + port));
    Path conf = dir.resolve("sentinel.conf");
    Files.writeString(conf, String.join("\n",
      "port " + port,
      "bind 127.0.0.1",
      "daemonize no",
      "dir " + dir,
      "sentinel monitor " + MASTER_SET + " 127.0.0.1 " + masterPort + " 2",
      "sentinel down-after-milliseconds " + MASTER_SET + " 1000",
      "sentinel failover-timeout " + MASTER_SET + " 10000",
      "sentinel parallel-syncs " + MASTER_SET + " 1", ""));
    Process process = new ProcessBuilder(binary, conf.toString()).redirectErrorStream(true)
      .redirectOutput(dir.resolve("log").toFile()).start();
    servers.add(process);
    TestServers.await("sentinel on " + port, Duration.ofSeconds(20), () -> "PONG".equals(command(port, "PING")));
  }

  private static String binary(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path candidate = Path.of(dir, name);
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return null;
  }

  private static int size(Object reply) {
    return reply instanceof List<?> list ? list.size() : -1;
  }

  /** One command in RESP over a fresh connection; a refused connection or an error reply reads as its text. */
  static Object command(int port, String... args) {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(3000);
      OutputStream out = socket.getOutputStream();
      StringBuilder request = new StringBuilder("*" + args.length + "\r\n");
      for (String arg : args) {
        request.append('$').append(arg.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(arg).append("\r\n");
      }
      out.write(request.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      return read(new BufferedInputStream(socket.getInputStream()));
    } catch (IOException e) {
      return "unreachable: " + e.getMessage();
    }
  }

  private static Object read(InputStream in) throws IOException {
    int type = in.read();
    String line = line(in);
    switch (type) {
      case '+':
      case '-':
        return line;
      case ':':
        return Long.parseLong(line);
      case '$': {
        int length = Integer.parseInt(line);
        if (length < 0) {
          return null;
        }
        byte[] bytes = in.readNBytes(length);
        line(in);
        return new String(bytes, StandardCharsets.UTF_8);
      }
      case '*': {
        int count = Integer.parseInt(line);
        if (count < 0) {
          return null;
        }
        List<Object> items = new ArrayList<>();
        for (int i = 0; i < count; i++) {
          items.add(read(in));
        }
        return items;
      }
      default:
        throw new IOException("unexpected reply type " + type);
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder text = new StringBuilder();
    int c;
    while ((c = in.read()) != -1 && c != '\r') {
      text.append((char) c);
    }
    in.read();
    return text.toString();
  }
}
