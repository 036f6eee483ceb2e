package verticles.common;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.math.BigDecimal;
import java.math.BigInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A JSON number becomes a long only when it is exactly one: never rounded, wrapped or parsed from text. */
class FieldsTest {

  private static final BigInteger TWO_TO_63 = BigInteger.ONE.shiftLeft(63);

  @Test
  void integersAndLongsAreTakenAsTheyAre() {
    assertEquals(5L, Fields.exact(5));
    assertEquals(-5L, Fields.exact(-5));
    assertEquals(Long.MAX_VALUE, Fields.exact(Long.MAX_VALUE));
    assertEquals(Long.MIN_VALUE, Fields.exact(Long.MIN_VALUE));
    assertEquals(3L, Fields.exact((short) 3));
    assertEquals(3L, Fields.exact((byte) 3));
  }

  @Test
  void aBigIntegerIsTakenOnlyWithinSixtyFourBits() {
    assertEquals(Long.MAX_VALUE, Fields.exact(TWO_TO_63.subtract(BigInteger.ONE)));
    assertEquals(Long.MIN_VALUE, Fields.exact(TWO_TO_63.negate()));
    assertNull(Fields.exact(TWO_TO_63), "2^63 would wrap to Long.MIN_VALUE");
    assertNull(Fields.exact(TWO_TO_63.negate().subtract(BigInteger.ONE)));
    assertNull(Fields.exact(BigInteger.ONE.shiftLeft(64).add(BigInteger.ONE)), "2^64 + 1 would wrap to 1");
  }

  @Test
  void aWholeDecimalIsTakenAndAFractionIsNot() {
    assertEquals(1L, Fields.exact(1.0));
    assertEquals(0L, Fields.exact(-0.0));
    assertEquals(1L << 62, Fields.exact(0x1p62));
    assertNull(Fields.exact(1.5));
    assertNull(Fields.exact(0.1));
    assertNull(Fields.exact(2.5f));
    assertEquals(1L, Fields.exact(new BigDecimal("1.000")));
    assertNull(Fields.exact(new BigDecimal("1.5")));
  }

  @Test
  void aDecimalBeyondSixtyFourBitsIsNotTaken() {
    assertNull(Fields.exact(1e19));
    assertNull(Fields.exact(0x1p63), "2^63 is a double but not a long");
    assertNull(Fields.exact(-1e19));
    assertNull(Fields.exact(new BigDecimal("1e19")));
    assertNull(Fields.exact(new BigDecimal("1e400")));
  }

  @Test
  void notANumberAndTheInfinitiesAreNotTaken() {
    assertNull(Fields.exact(Double.NaN));
    assertNull(Fields.exact(Double.POSITIVE_INFINITY));
    assertNull(Fields.exact(Double.NEGATIVE_INFINITY));
    assertNull(Fields.exact(Float.NaN));
  }

  @Test
  void textAndOtherValuesAreNotNumbers() {
    assertNull(Fields.exact("1"));
    assertNull(Fields.exact(""));
    assertNull(Fields.exact(null));
    assertNull(Fields.exact(true));
    assertNull(Fields.exact(new JsonObject()));
  }

  @Test
  void wholeKeepsItsBoundsInclusive() {
    JsonObject body = new JsonObject().put("low", 10).put("high", 20).put("under", 9).put("over", 21);
    assertEquals(10, Fields.whole(body, "low", "low", 10, 20));
    assertEquals(20, Fields.whole(body, "high", "high", 10, 20));
    ServiceFailure under = assertThrows(ServiceFailure.class, () -> Fields.whole(body, "under", "payload.under", 10, 20));
    assertEquals("payload.under: must be a whole number from 10 to 20", under.getMessage());
    assertEquals("payload.under", under.details().getJsonArray("errors").getJsonObject(0).getString("field"));
    assertThrows(ServiceFailure.class, () -> Fields.whole(body, "over", "over", 10, 20));
    assertThrows(ServiceFailure.class, () -> Fields.whole(body, "absent", "absent", 10, 20));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-1", "1.5", "1e19", "18446744073709551617", "9223372036854775808", "\"42\"", "null", "1e400", "[1]"})
  void anIdThatIsNotAWholeNumberFromOneIsAValidationFailureNamingIt(String json) {
    JsonObject body = new JsonObject("{\"user_id\": " + json + "}");
    ServiceFailure failure = assertThrows(ServiceFailure.class, () -> Fields.id(body, "user_id"));
    assertEquals(Failure.VALIDATION, Failure.of(failure));
    assertEquals("user_id", failure.details().getJsonArray("errors").getJsonObject(0).getString("field"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"1", "1.0", "9223372036854775807", "42"})
  void anIdThatIsExactlyAWholeNumberIsTaken(String json) {
    JsonObject body = new JsonObject("{\"user_id\": " + json + "}");
    assertEquals(new BigDecimal(json).longValueExact(), Fields.id(body, "user_id"));
  }

  @Test
  void anOptionalIdMayBeAbsentOrNullButNotWrong() {
    assertNull(Fields.optionalId(new JsonObject(), "user_id"));
    assertNull(Fields.optionalId(new JsonObject().putNull("user_id"), "user_id"));
    assertEquals(9L, Fields.optionalId(new JsonObject().put("user_id", 9), "user_id"));
    assertThrows(ServiceFailure.class, () -> Fields.optionalId(new JsonObject().put("user_id", "9"), "user_id"));
  }
}
