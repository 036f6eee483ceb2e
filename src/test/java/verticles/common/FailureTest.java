package verticles.common;

import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FailureTest {

  @Test
  void everyCodedFailureSurvivesTheTripThroughAReplyException() {
    for (Failure failure : Failure.values()) {
      assertEquals(failure, Failure.of(failure.exception("x")));
    }
  }

  @Test
  void codesAndStatusesAreDistinctAndStable() {
    assertEquals(400, Failure.VALIDATION.httpStatus);
    assertEquals(404, Failure.NOT_FOUND.httpStatus);
    assertEquals(409, Failure.CONFLICT.httpStatus);
    assertEquals(422, Failure.INSUFFICIENT_FUNDS.httpStatus);
    assertEquals(503, Failure.UNAVAILABLE.httpStatus);
    assertEquals(Failure.values().length,
      java.util.Arrays.stream(Failure.values()).mapToInt(f -> f.code).distinct().count());
  }

  @Test
  void theBusItselfFailingMeansUnavailableAndRetryable() {
    assertEquals(Failure.UNAVAILABLE, Failure.of(new ReplyException(ReplyFailure.TIMEOUT, "timed out")));
    assertEquals(Failure.UNAVAILABLE, Failure.of(new ReplyException(ReplyFailure.NO_HANDLERS, "none")));
    assertTrue(Failure.UNAVAILABLE.retryable);
  }

  @Test
  void aClientMistakeIsNeverRetried() {
    assertFalse(Failure.VALIDATION.retryable);
    assertFalse(Failure.INSUFFICIENT_FUNDS.retryable);
    assertEquals(Failure.INTERNAL, Failure.of(new IllegalStateException("boom")));
  }
}
