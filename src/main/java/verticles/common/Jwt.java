package verticles.common;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Access tokens: HS256 from JWT_SECRET, or RS256/ES256 from PEM files. Only the configured
 * algorithm is accepted (never {@code none}), and {@code exp}, {@code iss} and {@code aud}
 * are checked on every token. Claims: {@code sub} user id, {@code role}, {@code tv} token version.
 */
public final class Jwt {

  private Jwt() {
  }

  public static JWTAuth auth(Vertx vertx, JsonObject config) {
    String algorithm = config.getString(Config.JWT_ALGORITHM);
    JWTAuthOptions options = new JWTAuthOptions().setJWTOptions(options(config));
    if ("HS256".equals(algorithm)) {
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(algorithm).setBuffer(config.getString(Config.JWT_SECRET)));
    } else {
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(algorithm).setBuffer(pem(config, Config.JWT_PUBLIC_KEY_FILE)));
      String privateKey = config.getString(Config.JWT_PRIVATE_KEY_FILE);
      if (!privateKey.isEmpty()) {
        options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(algorithm).setBuffer(pem(config, Config.JWT_PRIVATE_KEY_FILE)));
      }
    }
    return JWTAuth.create(vertx, options);
  }

  public static String issue(JWTAuth auth, JsonObject config, long userId, String role, int tokenVersion) {
    JsonObject claims = new JsonObject().put("role", role).put("tv", tokenVersion);
    return auth.generateToken(claims, options(config).setSubject(String.valueOf(userId))
      .setExpiresInSeconds(config.getInteger(Config.JWT_TTL_SECONDS)));
  }

  private static JWTOptions options(JsonObject config) {
    return new JWTOptions()
      .setAlgorithm(config.getString(Config.JWT_ALGORITHM))
      .setIssuer(config.getString(Config.JWT_ISSUER))
      .setAudience(List.of(config.getString(Config.JWT_AUDIENCE)))
      .setLeeway(5);
  }

  private static Buffer pem(JsonObject config, String key) {
    try {
      return Buffer.buffer(Files.readString(Path.of(config.getString(key))));
    } catch (IOException e) {
      throw new UncheckedIOException(key + " cannot be read", e);
    }
  }
}
