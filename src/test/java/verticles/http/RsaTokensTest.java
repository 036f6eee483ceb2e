package verticles.http;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import verticles.Node;
import verticles.support.Api;
import verticles.support.TestServers;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** RS256 from PEM files works end to end, and an HS256 token "signed" with the public key is refused. */
class RsaTokensTest {

  @TempDir
  static Path keys;

  private static Node node;
  private static Api api;
  private static String publicPem;

  @BeforeAll
  static void start() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair pair = generator.generateKeyPair();
    publicPem = pem("PUBLIC KEY", pair.getPublic().getEncoded());
    Files.writeString(keys.resolve("public.pem"), publicPem);
    Files.writeString(keys.resolve("private.pem"), pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
    var config = TestServers.config(Map.of("DATABASE_URL", TestServers.freshDatabase(), "JWT_ALGORITHM", "RS256",
      "JWT_SECRET", "", "JWT_PUBLIC_KEY_FILE", keys.resolve("public.pem").toString(),
      "JWT_PRIVATE_KEY_FILE", keys.resolve("private.pem").toString(), "RATE_LIMIT_AUTH_PER_MINUTE", "1000"));
    node = Node.start(config).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    api = new Api(config.integer("HTTP_PORT"));
  }

  @AfterAll
  static void stop() throws Exception {
    node.stop().toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
      .encodeToString(der) + "\n-----END " + type + "-----\n";
  }

  @Test
  void rs256TokensAreIssuedAndAcceptedAndTheAlgorithmConfusionTrickIsNot() {
    Api.Reply created = api.post("/api/v1/auth/register", new JsonObject().put("username", "rsa_user")
      .put("email", "rsa@example.com").put("password", "rsa-password"), null);
    assertEquals(201, created.status, created.toString());
    String token = api.login("rsa_user", "rsa-password");
    String header = new String(Base64.getUrlDecoder().decode(token.substring(0, token.indexOf('.'))), StandardCharsets.UTF_8);
    assertEquals("RS256", new JsonObject(header).getString("alg"));
    assertEquals(200, api.get("/api/v1/me", token).status);

    JWTAuth confused = JWTAuth.create(node.vertx(), new JWTAuthOptions()
      .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(publicPem)));
    String forged = confused.generateToken(new JsonObject().put("role", "admin").put("tv", 0),
      new JWTOptions().setAlgorithm("HS256").setIssuer("pulse").setAudience(List.of("pulse-api"))
        .setSubject(String.valueOf(created.json().getLong("id"))).setExpiresInSeconds(600));
    assertEquals(401, api.get("/api/v1/me", forged).status);
  }
}
