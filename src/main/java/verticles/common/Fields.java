package verticles.common;

import io.vertx.core.json.JsonObject;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Whole numbers read from bus bodies exactly. A JSON number becomes a Java long only here: a
 * value that is not a whole number within the range (a fraction, 2^64 + 1, 1e400, a string) is a
 * validation failure naming the field, never a rounded or wrapped long that names someone else.
 */
public final class Fields {

  private Fields() {
  }

  /** A required id: a whole number from 1 to 2^63 - 1. */
  public static long id(JsonObject body, String field) {
    return id(body, field, field);
  }

  /** A required id; failures name {@code label} (e.g. "payload.to_user_id"). */
  public static long id(JsonObject body, String field, String label) {
    return whole(body, field, label, 1, Long.MAX_VALUE);
  }

  /** An optional id; null when the field is absent or null. */
  public static Long optionalId(JsonObject body, String field) {
    return body.getValue(field) == null ? null : id(body, field);
  }

  /** A required whole number in [min, max]; failures name {@code label} (e.g. "payload.amount"). */
  public static long whole(JsonObject body, String field, String label, long min, long max) {
    Long value = exact(body.getValue(field));
    if (value == null || value < min || value > max) {
      throw Failure.invalid(label, "must be a whole number from " + min + " to " + max);
    }
    return value;
  }

  /** The value as a long when it is exactly one; null otherwise. */
  static Long exact(Object value) {
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof BigInteger big) {
      return big.bitLength() < 64 ? big.longValue() : null;
    }
    if (value instanceof BigDecimal decimal) {
      try {
        return decimal.longValueExact();
      } catch (ArithmeticException e) {
        return null;
      }
    }
    if (value instanceof Double || value instanceof Float) {
      double number = ((Number) value).doubleValue();
      // 2^63 itself is a double but not a long; below it every whole double converts exactly.
      return Double.isFinite(number) && number == Math.rint(number) && Math.abs(number) < 0x1p63 ? (long) number : null;
    }
    return null;
  }
}
