package verticles.tasks;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How long a failed task waits before its next attempt. */
class BackoffTest {

  /** The largest value nextDouble() returns: the jitter rounds to 1.2 itself. */
  private static final double ALMOST_ONE = Math.nextDown(1.0);
  private static final double NO_JITTER = 0.5;

  private final Backoff exponential = new Backoff("exponential", 1000, 60_000);

  @Test
  void exponentialDoublesFromTheBaseAfterEachAttempt() {
    assertEquals(1000, exponential.delayMs(1, NO_JITTER));
    assertEquals(2000, exponential.delayMs(2, NO_JITTER));
    assertEquals(4000, exponential.delayMs(3, NO_JITTER));
    assertEquals(32_000, exponential.delayMs(6, NO_JITTER));
  }

  @Test
  void theCapHoldsWhateverTheAttempt() {
    assertEquals(60_000, exponential.delayMs(7, NO_JITTER), "64 s capped at 60 s");
    assertEquals(60_000, exponential.delayMs(30, NO_JITTER));
    assertEquals(48_000, exponential.delayMs(7, 0), "the jitter applies after the cap: 0.8 × 60 s");
    assertEquals(48_000, exponential.delayMs(8, 0), "so tasks at the cap still spread out");
    assertTrue(exponential.delayMs(30, ALMOST_ONE) > 60_000, "up to 1.2 × the cap");
  }

  @Test
  void attemptZeroAndBelowCountAsTheFirst() {
    assertEquals(1000, exponential.delayMs(0, NO_JITTER));
    assertEquals(1000, exponential.delayMs(-5, NO_JITTER));
    assertEquals(1000, exponential.delayMs(Integer.MIN_VALUE, NO_JITTER));
  }

  @Test
  void veryLargeAttemptsNeitherOverflowNorGoNegative() {
    Backoff uncapped = new Backoff("exponential", 1000, Long.MAX_VALUE);
    for (int attempt : new int[] {41, 63, 64, 1000, Integer.MAX_VALUE}) {
      long delay = uncapped.delayMs(attempt, NO_JITTER);
      assertEquals(1000L << 40, delay, "attempt " + attempt + ": the exponent stops growing at 40");
    }
    Backoff huge = new Backoff("exponential", Long.MAX_VALUE / 2, Long.MAX_VALUE);
    assertEquals(Long.MAX_VALUE, huge.delayMs(Integer.MAX_VALUE, ALMOST_ONE), "saturates instead of wrapping");
    assertTrue(Backoff.DEFAULT.delayMs(Integer.MAX_VALUE, ALMOST_ONE) <= 360_000);
  }

  @Test
  void fixedWaitsTheBaseEveryTime() {
    Backoff fixed = new Backoff("fixed", 5000, 60_000);
    assertEquals(5000, fixed.delayMs(1, NO_JITTER));
    assertEquals(5000, fixed.delayMs(2, NO_JITTER));
    assertEquals(5000, fixed.delayMs(40, NO_JITTER));
    assertEquals(2000, new Backoff("fixed", 5000, 2000).delayMs(1, NO_JITTER), "capped too");
  }

  @Test
  void jitterStaysWithinTwentyPercent() {
    assertEquals(800, exponential.delayMs(1, 0));
    assertEquals(1200, exponential.delayMs(1, ALMOST_ONE));
    assertEquals(3200, exponential.delayMs(3, 0));
    assertEquals(4800, exponential.delayMs(3, ALMOST_ONE));
    assertEquals(4000, new Backoff("fixed", 5000, 60_000).delayMs(9, 0));
    assertEquals(6000, new Backoff("fixed", 5000, 60_000).delayMs(9, ALMOST_ONE));
  }

  @Test
  void theRandomJitterDrawsWithinItsBoundsAndVaries() {
    long low = Long.MAX_VALUE;
    long high = Long.MIN_VALUE;
    for (int i = 0; i < 2000; i++) {
      long delay = exponential.delayMs(2);
      assertTrue(delay >= 1600 && delay <= 2400, "attempt 2 waits 1.6 s to 2.4 s: " + delay);
      low = Math.min(low, delay);
      high = Math.max(high, delay);
    }
    assertTrue(high - low > 400, "tasks failing together spread out: " + low + ".." + high);
  }

  @Test
  void noBackoffGivenMeansTheDefault() {
    assertSame(Backoff.DEFAULT, Backoff.of(null));
    assertEquals(new Backoff("exponential", 1000, 300_000), Backoff.DEFAULT);
    assertEquals(Backoff.DEFAULT, Backoff.of(new JsonObject()));
  }

  @Test
  void absentFieldsTakeTheirDefaults() {
    assertEquals(new Backoff("fixed", 1000, 300_000), Backoff.of(new JsonObject().put("kind", "fixed")));
    assertEquals(new Backoff("exponential", 250, 300_000), Backoff.of(new JsonObject().put("base_ms", 250)));
    assertEquals(new Backoff("exponential", 1000, 9000), Backoff.of(new JsonObject().put("max_ms", 9000)));
  }

  @Test
  void itsJsonReadsBackAsItself() {
    Backoff backoff = new Backoff("fixed", 1500, 20_000);
    assertEquals(new JsonObject().put("kind", "fixed").put("base_ms", 1500L).put("max_ms", 20_000L), backoff.json());
    assertEquals(backoff, Backoff.of(backoff.json()));
  }
}
