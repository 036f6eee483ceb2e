package verticles.cluster;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two JVMs form a Hazelcast cluster on 127.0.0.1: an HTTP-only node answers readiness by asking
 * the services that run only in the other JVM, over the clustered event bus.
 */
class TwoNodeClusterTest {

  @TempDir
  Path work;

  @Test
  void anHttpOnlyNodeReachesTheServicesOfAnotherJvmOverTheClusteredBus() throws Exception {
    int edgePort = TestServers.freePort();
    int servicesPort = TestServers.freePort();
    String members = "127.0.0.1:" + edgePort + ",127.0.0.1:" + servicesPort;

    Map<String, String> edgeEnv = Map.of("ROLES", "http", "CLUSTER", "true", "JWT_SECRET", TestServers.JWT_SECRET,
      "REDIS_URL", TestServers.redisUrl(),
      "CLUSTER_PORT", String.valueOf(edgePort), "CLUSTER_MEMBERS", members, "LOG_FORMAT", "text");
    Map<String, String> servicesEnv = new HashMap<>(Map.of("ROLES", "identity,ledger,dispatch,worker,jobs,catalog",
      "CLUSTER", "true", "CLUSTER_PORT", String.valueOf(servicesPort), "CLUSTER_MEMBERS", members,
      "DATABASE_URL", TestServers.databaseUrl(), "REDIS_URL", TestServers.redisUrl(), "LOG_LEVEL", "DEBUG"));
    servicesEnv.put("JWT_SECRET", TestServers.JWT_SECRET);

    try (NodeProcess edge = NodeProcess.start(work.resolve("edge"), edgeEnv)) {
      awaitLine(edge, "joined the cluster");
      try (NodeProcess services = NodeProcess.start(work.resolve("services"), servicesEnv)) {
        edge.awaitReady(Duration.ofSeconds(90));

        HttpResponse<String> ready = edge.get("/health/ready", "X-Request-Id", "cluster-trace-1");
        assertEquals(200, ready.statusCode(), ready.body());
        JsonObject ledger = new JsonObject(ready.body()).getJsonObject("checks").getJsonObject("ledger");
        assertTrue(ledger.getString("node").endsWith(":" + services.process().pid()),
          "the ledger's answer came from the other JVM: " + ledger);
        assertEquals("ok", ledger.getJsonObject("checks").getString("cluster"));

        awaitLine(services, "\"request_id\":\"cluster-trace-1\"");
        assertTrue(services.output().lines().anyMatch(line -> line.contains("readiness check of ledger")
          && line.contains("\"request_id\":\"cluster-trace-1\"")), "the request id crossed the JVM boundary");

        Matcher joined = Pattern.compile("joined the cluster on \\S+ in (\\d+) ms \\((\\d+) member").matcher(services.output());
        assertTrue(joined.find(), services.output());
        assertEquals("2", joined.group(2), "the second node saw two members");
        System.out.println("second JVM joined the cluster in " + joined.group(1) + " ms");

        services.assertStopsCleanly(Duration.ofSeconds(10));
      }
      HttpResponse<String> alone = edge.get("/health/ready");
      assertEquals(503, alone.statusCode(), "with the services gone, the edge is not ready: " + alone.body());
      assertTrue(new JsonObject(alone.body()).getJsonArray("failed").contains("ledger"), alone.body());
      edge.assertStopsCleanly(Duration.ofSeconds(10));
    }
  }

  private static void awaitLine(NodeProcess node, String text) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!node.output().contains(text)) {
      if (System.nanoTime() > deadline || !node.process().isAlive()) {
        throw new AssertionError("no line with " + text + ":\n" + node.output());
      }
      NodeProcess.sleep(100);
    }
  }
}
