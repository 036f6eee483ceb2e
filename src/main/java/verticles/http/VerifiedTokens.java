package verticles.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Access tokens whose signature and claims were checked, so that a client's next request with
 * the same token skips decoding and verifying it again (about a twentieth of a task submit's
 * CPU in the node). A token is the exact string that was verified: nothing else can hit. An
 * entry serves only until the token's {@code exp} (after that the full check runs, leeway and
 * all), and the most recently used few thousand are kept. Whether the user is still active, at
 * which token version and role, is asked on every request all the same (see Authentication).
 *
 * <p>One per HTTP verticle instance, used on its event loop only.
 */
final class VerifiedTokens {

  /** What a verified token says: its claims as the library gave them, and when it expires (epoch seconds). */
  record Verified(JsonObject claims, long expiresAt) {
  }

  private static final int MOST = 4096;

  private final Map<String, Verified> tokens = new LinkedHashMap<>(256, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Verified> eldest) {
      return size() > MOST;
    }
  };
  private final Counter hits;
  private final Counter misses;

  VerifiedTokens(MeterRegistry registry) {
    this.hits = counter(registry, "remembered");
    this.misses = counter(registry, "checked");
  }

  private static Counter counter(MeterRegistry registry, String result) {
    return Counter.builder("pulse.auth.tokens.verified").description("bearer tokens checked, by whether the check was remembered")
      .tag("result", result).register(registry);
  }

  /** The claims of this token if it was verified before and has not expired; null otherwise. */
  JsonObject claims(String token, long nowSeconds) {
    Verified verified = tokens.get(token);
    if (verified != null && nowSeconds < verified.expiresAt()) {
      hits.increment();
      return verified.claims();
    }
    if (verified != null) {
      tokens.remove(token);  // expired
    }
    misses.increment();
    return null;
  }

  /** Remembers a token the library has just verified (one without an {@code exp} is not remembered). */
  void verified(String token, JsonObject claims) {
    Long expiresAt = claims.getLong("exp");
    if (expiresAt != null) {
      tokens.put(token, new Verified(claims, expiresAt));
    }
  }
}
