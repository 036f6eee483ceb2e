package verticles.tasks;

import io.vertx.core.json.JsonObject;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The wait before a task's next attempt: exponential (base × 2^(attempt-1)) or fixed, capped at
 * {@code maxMs}, then ±20 % jitter so that tasks failing together do not retry together.
 */
record Backoff(String kind, long baseMs, long maxMs) {

  static final Backoff DEFAULT = new Backoff("exponential", 1000, 300_000);

  /** As a task stores it ({@code {"kind", "base_ms", "max_ms"}}); absent fields take the defaults. */
  static Backoff of(JsonObject json) {
    if (json == null) {
      return DEFAULT;
    }
    return new Backoff(json.getString("kind", DEFAULT.kind), json.getLong("base_ms", DEFAULT.baseMs), json.getLong("max_ms", DEFAULT.maxMs));
  }

  JsonObject json() {
    return new JsonObject().put("kind", kind).put("base_ms", baseMs).put("max_ms", maxMs);
  }

  /** The wait after failed attempt {@code attempt} (1 for the first). */
  long delayMs(int attempt) {
    return delayMs(attempt, ThreadLocalRandom.current().nextDouble());
  }

  /**
   * With {@code random} in [0, 1) choosing the jitter: 0.8 to 1.2 times the capped delay (so
   * tasks that reached the cap together still spread out).
   */
  long delayMs(int attempt, double random) {
    double delay = "fixed".equals(kind) ? baseMs : baseMs * Math.pow(2, Math.min(Math.max(attempt, 1) - 1, 40));
    double jitter = 0.8 + 0.4 * random;
    return (long) (Math.min(maxMs, delay) * jitter);
  }
}
