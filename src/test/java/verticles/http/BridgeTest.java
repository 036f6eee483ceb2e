package verticles.http;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import verticles.common.Config;
import verticles.common.Jwt;
import verticles.support.Api;
import verticles.support.NodeScripts;
import verticles.support.PulseNode;
import verticles.support.TestServers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The event-bus bridge with the real JavaScript client under Node (src/test/js/bridge.test.mjs):
 * own pushes within a second, every refusal of the matrix (another user's address, events.admin
 * as a user, anything inbound, no/bad/used ticket, no/bad/expired token, a foreign origin), a
 * socket closed when its token expires and when its user is deleted or disabled. The script
 * writes the refusal matrix, printed here; the refusals must also be counted in /metrics.
 */
class BridgeTest {

  @RegisterExtension
  static final PulseNode node = PulseNode.withAdmin("bridge_admin", "bridge-admin-password-1");

  private static JsonObject user(String name) {
    Api api = node.api();
    Api.Reply created = api.post("/api/v1/auth/register", new JsonObject().put("username", name)
      .put("email", name + "@example.com").put("password", "password-" + name), null);
    assertEquals(201, created.status, created.toString());
    return new JsonObject().put("id", created.json().getLong("id")).put("token", api.login(name, "password-" + name));
  }

  /** A token like the login's, for {@code userId}, whose {@code exp} is {@code expiresAtSeconds}. */
  private static String token(long userId, long expiresAtSeconds) {
    JsonObject config = node.config().json();
    JWTAuth jwt = Jwt.auth(node.vertx(), config);
    return jwt.generateToken(new JsonObject().put("role", "user").put("tv", 0).put("exp", expiresAtSeconds),
      new JWTOptions().setAlgorithm("HS256").setIssuer(config.getString(Config.JWT_ISSUER))
        .setAudience(List.of(config.getString(Config.JWT_AUDIENCE))).setSubject(String.valueOf(userId)));
  }

  @Test
  void theRealClientGetsItsOwnPushesAndEveryRefusalOfTheMatrixHolds() throws Exception {
    NodeScripts.requireNode();
    JsonObject alice = user("bridge_alice");
    JsonObject bob = user("bridge_bob");
    JsonObject carol = user("bridge_carol");
    JsonObject dave = user("bridge_dave");
    assertEquals(201, node.api().post("/api/v1/transactions/credit", new JsonObject().put("amount", 1_000_000), bob.getString("token")).status);
    long now = System.currentTimeMillis() / 1000;
    long shortExpiry = now + 8;
    Path matrix = Files.createTempFile("bridge-refusals", ".json");

    Map<String, String> env = new HashMap<>();
    env.put("PULSE_BASE_URL", "http://127.0.0.1:" + node.port());
    env.put("ADMIN_TOKEN", node.adminToken());
    env.put("ADMIN_ID", String.valueOf(node.api().get("/api/v1/me", node.adminToken()).json().getLong("id")));
    for (Map.Entry<String, JsonObject> entry : Map.of("ALICE", alice, "BOB", bob, "CAROL", carol, "DAVE", dave).entrySet()) {
      env.put(entry.getKey() + "_ID", String.valueOf(entry.getValue().getLong("id")));
      env.put(entry.getKey() + "_TOKEN", entry.getValue().getString("token"));
    }
    env.put("SHORT_TOKEN", token(alice.getLong("id"), shortExpiry));
    env.put("SHORT_EXPIRES_AT", String.valueOf(shortExpiry * 1000));
    env.put("EXPIRED_TOKEN", token(alice.getLong("id"), now - 3600));
    env.put("MATRIX_FILE", matrix.toString());

    NodeScripts.Run run = NodeScripts.test("bridge.test.mjs", env, 120);
    System.out.println("bridge refusal matrix:\n" + Files.readString(matrix));
    assertEquals(0, run.exitCode(), "the Node bridge tests failed:\n" + run.output());
    assertTrue(run.output().contains("ℹ fail 0") && !run.output().contains("ℹ pass 0"), run.output());

    String metrics = node.api().get("/metrics", null).raw.body();
    for (String reason : List.of("not_your_address", "admins_only", "inbound_not_allowed", "no_ticket", "bad_ticket")) {
      assertTrue(metrics.lines().anyMatch(line -> line.startsWith("pulse_bridge_refused_total") && line.contains("reason=\"" + reason + "\"")),
        "refusals for " + reason + " are counted");
    }
    assertTrue(metrics.lines().anyMatch(line -> line.startsWith("pulse_bridge_refused_total") && line.contains("reason=\"origin\"")));
    assertTrue(metrics.lines().anyMatch(line -> line.startsWith("pulse_bridge_closed_total") && line.contains("reason=\"revoked\"")));
    TestServers.await("every socket of the script closed", Duration.ofSeconds(10), () -> node.api().get("/metrics", null).raw.body()
      .lines().anyMatch(line -> line.startsWith("pulse_bridge_sockets ") && line.endsWith(" 0.0")));
  }
}
