package verticles.http;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** Which verified tokens are remembered, and for how long. */
class VerifiedTokensTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final VerifiedTokens tokens = new VerifiedTokens(registry);

  private static JsonObject claims(long exp) {
    return new JsonObject().put("sub", "7").put("tv", 0).put("exp", exp);
  }

  private double counted(String result) {
    return registry.get("pulse.auth.tokens.verified").tag("result", result).counter().count();
  }

  @Test
  void aVerifiedTokenIsRememberedUntilItsExpiry() {
    JsonObject claims = claims(1_000);
    assertNull(tokens.claims("a.b.c", 900), "nothing is remembered before a check");
    tokens.verified("a.b.c", claims);
    assertSame(claims, tokens.claims("a.b.c", 900));
    assertSame(claims, tokens.claims("a.b.c", 999));
    assertNull(tokens.claims("a.b.c", 1_000), "at its exp the full check runs again");
    assertNull(tokens.claims("a.b.c", 999), "an expired entry is forgotten");
    assertEquals(2, counted("remembered"));
    assertEquals(3, counted("checked"));
  }

  @Test
  void onlyTheExactStringHits() {
    tokens.verified("a.b.c", claims(1_000));
    assertNull(tokens.claims("a.b.d", 900), "another signature");
    assertNull(tokens.claims("a.b.c ", 900));
    assertNull(tokens.claims("A.b.c", 900));
  }

  @Test
  void aTokenWithoutExpiryIsNotRemembered() {
    tokens.verified("a.b.c", new JsonObject().put("sub", "7"));
    assertNull(tokens.claims("a.b.c", 0));
  }

  @Test
  void theLeastRecentlyUsedAreForgottenBeyondAFewThousand() {
    tokens.verified("token-0", claims(1_000));
    for (int i = 1; i <= 5_000; i++) {
      tokens.verified("token-" + i, claims(1_000));
      if (i % 1_000 == 0) {
        assertNotNull(tokens.claims("token-0", 1), "used now and then, so kept");
      }
    }
    assertEquals(1_000, tokens.claims("token-0", 1).getLong("exp"));
    assertNull(tokens.claims("token-1", 1), "unused since it was verified: forgotten");
    assertEquals(1_000, tokens.claims("token-5000", 1).getLong("exp"));
  }
}
