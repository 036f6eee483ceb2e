package verticles.http;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a request body may contain, decided at the edge before any schema or service sees it. */
class JsonInputTest {

  private static JsonInput.Parsed parse(String json) {
    return JsonInput.parse(json.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonInput.Refusal refused(byte[] body) {
    JsonInput.Parsed parsed = JsonInput.parse(body);
    assertNull(parsed.tree(), "a refused body yields no tree");
    assertNotNull(parsed.refusal(), "must be refused: " + new String(body, StandardCharsets.UTF_8));
    return parsed.refusal();
  }

  private static JsonInput.Refusal refused(String json) {
    return refused(json.getBytes(StandardCharsets.UTF_8));
  }

  private static void accepted(String json) {
    JsonInput.Parsed parsed = parse(json);
    assertNull(parsed.refusal(), () -> json + " was refused: " + parsed.refusal());
    assertNotNull(parsed.tree());
  }

  /** {@code depth} arrays, one inside the other. */
  private static String nested(int depth) {
    return "[".repeat(depth) + "]".repeat(depth);
  }

  @Test
  void aPlainBodyPasses() {
    accepted("{\"username\": \"alice\", \"age\": 30, \"ratio\": 0.25, \"tags\": [\"a\", null, true], \"big\": 9223372036854775807}");
  }

  @Test
  void aNulInAValueIsRefusedNamingItsPath() {
    assertEquals(new JsonInput.Refusal("username", "contains a NUL character"), refused("{\"username\": \"al\\u0000ice\"}"));
    assertEquals("profile.tags.1", refused("{\"profile\": {\"tags\": [\"ok\", \"\\u0000\"]}}").field());
    assertEquals("body", refused("\"\\u0000\"").field(), "a bare string body");
  }

  @Test
  void aNulInAKeyIsRefused() {
    JsonInput.Refusal refusal = refused("{\"user\\u0000name\": \"alice\"}");
    assertEquals("body", refusal.field());
    assertEquals("has a key that contains a NUL character", refusal.message());
    assertEquals("outer", refused("{\"outer\": {\"k\\u0000\": 1}}").field(), "named by the object holding the key");
  }

  @ParameterizedTest
  @ValueSource(strings = {"\\ud800", "\\udbff", "\\udc00", "\\udfff", "x\\ud800y", "\\ud800\\ud800", "\\udc00\\ud800", "\\ud83d"})
  void aLoneSurrogateIsRefused(String escaped) {
    JsonInput.Refusal refusal = refused("{\"name\": \"" + escaped + "\"}");
    assertEquals(new JsonInput.Refusal("name", "contains a lone surrogate (not valid Unicode)"), refusal);
  }

  @Test
  void aLoneSurrogateInAKeyIsRefused() {
    assertEquals("has a key that contains a lone surrogate (not valid Unicode)", refused("{\"\\udfff\": 1}").message());
  }

  @Test
  void aValidSurrogatePairPasses() {
    accepted("{\"name\": \"\\ud83d\\ude00\"}");
    accepted("{\"name\": \"smile \uD83D\uDE00 twice \uD83D\uDE00\", \"\uD83C\uDF89\": \"party\"}");
    assertNull(JsonInput.textProblem("\uD83D\uDE00"));
  }

  @Test
  void sixtyFourLevelsOfNestingPassAndSixtyFiveDoNot() {
    accepted(nested(64));
    accepted("{\"a\": " + nested(63) + "}");
    assertEquals(new JsonInput.Refusal("body", "is nested deeper than 64 levels"), refused(nested(65)));
    assertEquals("body", refused("{\"a\": " + nested(64) + "}").field());
    assertEquals("body", refused(nested(100_000)).field(), "deep enough to overflow a naive recursive parser");
  }

  @Test
  void aRepeatedKeyIsRefused() {
    assertEquals(new JsonInput.Refusal("body", "repeats a key in one object"), refused("{\"role\": \"user\", \"role\": \"admin\"}"));
    assertEquals("repeats a key in one object", refused("{\"a\": {\"b\": 1, \"b\": 1}}").message());
    accepted("{\"a\": {\"b\": 1}, \"c\": {\"b\": 1}}");
  }

  @ParameterizedTest
  @ValueSource(strings = {"18446744073709551616", "18446744073709551617", "9223372036854775808", "-9223372036854775809"})
  void aWholeNumberBeyondSixtyFourBitsIsRefused(String number) {
    assertEquals(new JsonInput.Refusal("amount", "is a whole number beyond 64 bits"), refused("{\"amount\": " + number + "}"));
  }

  @Test
  void theLongRangeItselfPasses() {
    accepted("{\"a\": 9223372036854775807, \"b\": -9223372036854775808}");
  }

  @ParameterizedTest
  @ValueSource(strings = {"1e400", "-1e400", "2e308"})
  void aDecimalBeyondADoubleIsRefused(String number) {
    assertEquals(new JsonInput.Refusal("ratio", "is a number beyond the range of a double"), refused("{\"ratio\": " + number + "}"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"NaN", "Infinity", "-Infinity", "01", "+1", ".5", "0x10"})
  void numbersJsonDoesNotHaveAreRefused(String number) {
    assertEquals("body", refused("{\"n\": " + number + "}").field());
  }

  @Test
  void invalidUtf8IsRefused() {
    byte[] prefix = "{\"name\": \"".getBytes(StandardCharsets.UTF_8);
    byte[][] invalid = {
      {(byte) 0xff},                            // never valid in UTF-8
      {(byte) 0xc3},                            // a lead byte without its continuation
      {(byte) 0x80},                            // a continuation without a lead
      {(byte) 0xc0, (byte) 0x80},               // an overlong NUL
      {(byte) 0xc0, (byte) 0xaf},               // an overlong '/' (Jackson alone decodes it quietly)
      {(byte) 0xe0, (byte) 0x80, (byte) 0xaf},  // the same, three bytes long
      {(byte) 0xed, (byte) 0xa0, (byte) 0x80},  // a surrogate encoded directly (CESU-8)
      {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80},  // beyond U+10FFFF
    };
    for (byte[] bad : invalid) {
      byte[] body = new byte[prefix.length + bad.length + 2];
      System.arraycopy(prefix, 0, body, 0, prefix.length);
      System.arraycopy(bad, 0, body, prefix.length, bad.length);
      body[body.length - 2] = '"';
      body[body.length - 1] = '}';
      JsonInput.Parsed parsed = JsonInput.parse(body);
      String hex = java.util.HexFormat.ofDelimiter(" ").formatHex(bad);
      assertNotNull(parsed.refusal(), "bytes " + hex + " must be refused");
      assertNull(parsed.tree());
      assertEquals("body", parsed.refusal().field(), hex);
      assertTrue(parsed.refusal().message().startsWith("is not well-formed UTF-8"), hex + ": " + parsed.refusal());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"a\": 1} x", "{\"a\": 1}{}", "{\"a\": 1}]", "[1] [2]", "{\"a\": 1},", "1 2"})
  void trailingGarbageIsRefused(String json) {
    assertEquals(new JsonInput.Refusal("body", "is not well-formed UTF-8 JSON"), refused(json));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "\n\t "})
  void anEmptyBodyIsRefused(String json) {
    assertEquals(new JsonInput.Refusal("body", "is empty"), refused(json));
  }

  @Test
  void theRefusalBecomesTheProblemsErrorsList() {
    JsonInput.Refusal refusal = refused("{\"username\": \"\\u0000\"}");
    assertEquals("username", JsonInput.errors(refusal).getJsonObject(0).getString("field"));
    assertEquals("contains a NUL character", JsonInput.errors(refusal).getJsonObject(0).getString("message"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "Application/Json;charset=UTF-8",
    " application/json "})
  void jsonContentTypesAreJson(String contentType) {
    assertTrue(ApiSpec.isJson(contentType));
  }

  @ParameterizedTest
  @ValueSource(strings = {"application/jsonp", "text/json", "application/json-patch+json", "application/x-www-form-urlencoded",
    "text/plain; application/json", "", "json"})
  void otherContentTypesAreNot(String contentType) {
    assertFalse(ApiSpec.isJson(contentType));
  }

  @Test
  void noContentTypeIsNotJson() {
    assertFalse(ApiSpec.isJson(null));
  }
}
