package verticles.cluster;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.support.ClusterCerts;
import verticles.support.NodeProcess;
import verticles.support.TestServers;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The clustered bus is mutual TLS: a JVM without the cluster's certificate (none at all, or one of
 * another CA) cannot get a single message through to the cluster's services, though it knows the
 * cluster's name and address; a JVM with it can. A cluster without certificates does not start
 * unless plaintext is explicitly allowed.
 */
class ClusterTlsTest {

  @TempDir
  Path work;

  @Test
  void aClusterWithoutCertificatesDoesNotStartUnlessPlaintextIsAllowed() throws Exception {
    Map<String, String> env = Map.of("CLUSTER", "true", "CLUSTER_ALLOW_PLAINTEXT", "false", "CLUSTER_TLS_CERT_FILE", "",
      "ROLES", "http", "REDIS_URL", TestServers.redisUrl(), "JWT_SECRET", TestServers.JWT_SECRET, "LOG_FORMAT", "text");
    try (NodeProcess node = NodeProcess.start(work.resolve("refused"), env)) {
      assertTrue(node.process().waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the node stopped by itself");
      assertEquals(2, node.process().exitValue(), node.output());
      String line = node.output().lines().filter(text -> text.startsWith("pulse: configuration error")).findFirst().orElse(node.output());
      assertTrue(line.startsWith("pulse: configuration error: CLUSTER_TLS_CERT_FILE"), line);
      assertTrue(line.contains("CLUSTER_ALLOW_PLAINTEXT"), "it says how to allow plaintext: " + line);
    }
  }

  @Test
  void onlyAJvmWithTheClusterCertificateReachesTheServices() throws Exception {
    int servicesPort = TestServers.freePort();
    int memberPort = TestServers.freePort();
    int plainPort = TestServers.freePort();
    int otherCaPort = TestServers.freePort();
    String members = String.join(",", List.of("127.0.0.1:" + servicesPort, "127.0.0.1:" + memberPort,
      "127.0.0.1:" + plainPort, "127.0.0.1:" + otherCaPort));

    Map<String, String> servicesEnv = env(servicesPort, members, "identity,ledger,dispatch,worker,jobs,catalog");
    servicesEnv.put("DATABASE_URL", TestServers.freshDatabase());
    servicesEnv.put("LOG_LEVEL", "DEBUG");
    Map<String, String> plainEnv = env(plainPort, members, "http");
    plainEnv.put("CLUSTER_ALLOW_PLAINTEXT", "true");
    Map<String, String> otherCaEnv = env(otherCaPort, members, "http");
    otherCaEnv.putAll(ClusterCerts.stranger());

    try (NodeProcess services = NodeProcess.start(work.resolve("services"), servicesEnv)) {
      TestServers.await("the services to serve", Duration.ofSeconds(90), () -> alive(services) && services.output().contains("ready in"));
      try (NodeProcess member = NodeProcess.start(work.resolve("member"), env(memberPort, members, "http"));
           NodeProcess plain = NodeProcess.start(work.resolve("plain"), plainEnv);
           NodeProcess otherCa = NodeProcess.start(work.resolve("other-ca"), otherCaEnv)) {
        member.awaitReady(Duration.ofSeconds(90));
        HttpResponse<String> ready = member.get("/health/ready", "X-Request-Id", "tls-member-1");
        assertEquals(200, ready.statusCode(), ready.body());
        JsonObject ledger = new JsonObject(ready.body()).getJsonObject("checks").getJsonObject("ledger");
        assertTrue(ledger.getString("node").endsWith(":" + services.process().pid()), "answered by the services' JVM: " + ledger);
        TestServers.await("the member's request in the services' log", Duration.ofSeconds(10),
          () -> services.output().contains("tls-member-1"));

        for (NodeProcess stranger : List.of(plain, otherCa)) {
          String name = stranger == plain ? "no certificate" : "another CA's certificate";
          TestServers.await("the stranger (" + name + ") to serve HTTP", Duration.ofSeconds(90),
            () -> alive(stranger) && stranger.get("/health/live").statusCode() == 200);
          String requestId = "tls-stranger-" + (stranger == plain ? "plain" : "other-ca");
          HttpResponse<String> refused = stranger.get("/health/ready", "X-Request-Id", requestId);
          System.out.println("a JVM with " + name + ": readiness " + refused.statusCode() + " " + refused.body());
          assertEquals(503, refused.statusCode(), name + ": " + refused.body());
          JsonArray failed = new JsonObject(refused.body()).getJsonArray("failed");
          for (String role : List.of("identity", "ledger", "dispatch", "jobs", "catalog")) {
            assertTrue(failed.contains(role), name + ": " + role + " is out of reach: " + refused.body());
          }
          assertFalse(services.output().contains(requestId), name + ": no message of it reached the services:\n" + services.output());
        }
        System.out.println("plain stranger's log, membership: " + plain.output().lines()
          .filter(line -> line.contains("joined the cluster") || line.contains("PLAINTEXT")).toList());
        assertTrue(plain.output().contains("PLAINTEXT"), "the plaintext node warned:\n" + plain.output());

        // And the member still reaches everything, strangers or not.
        assertEquals(200, member.get("/health/ready").statusCode());
        member.assertStopsCleanly(Duration.ofSeconds(15));
      }
    }
  }

  private static boolean alive(NodeProcess node) {
    if (!node.process().isAlive()) {
      throw new AssertionError("node exited with " + node.process().exitValue() + ":\n" + node.output());
    }
    return true;
  }

  private static Map<String, String> env(int clusterPort, String members, String roles) {
    Map<String, String> env = new HashMap<>();
    env.put("ROLES", roles);
    env.put("CLUSTER", "true");
    env.put("CLUSTER_PORT", String.valueOf(clusterPort));
    env.put("CLUSTER_MEMBERS", members);
    env.put("REDIS_URL", TestServers.redisUrl());
    env.put("JWT_SECRET", TestServers.JWT_SECRET);
    env.put("LOG_FORMAT", "text");
    env.put("HEALTH_TIMEOUT_MS", "1500");
    return env;
  }
}
