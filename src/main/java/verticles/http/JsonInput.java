package verticles.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * What a request may contain, decided once at the edge for every route: well-formed UTF-8
 * JSON, nested at most {@value #MAX_DEPTH} deep, no duplicate keys, strings (keys included) of
 * valid Unicode without NUL, whole numbers within 64 bits, finite decimals. Whatever passes can
 * reach PostgreSQL, a hash or an encoder without surprising it.
 */
final class JsonInput {

  static final int MAX_DEPTH = 64;

  /** Strict like Vert.x's own decoder: no trailing tokens, no duplicate keys, no NaN. */
  static final ObjectMapper MAPPER = JsonMapper.builder()
    .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
    .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
    .build();

  static {
    MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
  }

  /** Why a body or a value was refused: the field (dotted path, "body" for the whole) and what is wrong. */
  record Refusal(String field, String message) {
    JsonObject json() {
      return new JsonObject().put("field", field).put("message", message);
    }
  }

  /** The parsed body, or why it was refused. */
  record Parsed(JsonNode tree, Refusal refusal) {
  }

  private JsonInput() {
  }

  static Parsed parse(byte[] body) {
    String text;
    try {
      // Strictly first: Jackson quietly accepts overlong forms ("C0 AF" for '/'), encoded surrogates and more.
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
    } catch (CharacterCodingException e) {
      return new Parsed(null, new Refusal("body", "is not well-formed UTF-8"));
    }
    JsonNode tree;
    try {
      tree = MAPPER.readTree(text);
    } catch (IOException e) {
      String message = e.getMessage() == null ? "" : e.getMessage();
      if (message.contains("nesting depth")) {
        return new Parsed(null, new Refusal("body", "is nested deeper than " + MAX_DEPTH + " levels"));
      }
      if (message.contains("Duplicate field")) {
        return new Parsed(null, new Refusal("body", "repeats a key in one object"));
      }
      return new Parsed(null, new Refusal("body", "is not well-formed UTF-8 JSON"));
    }
    if (tree == null || tree.isMissingNode()) {
      return new Parsed(null, new Refusal("body", "is empty"));
    }
    Refusal refusal = check(tree, "");
    return new Parsed(refusal == null ? tree : null, refusal);
  }

  /** The first value in {@code node} that may not pass, or null. */
  private static Refusal check(JsonNode node, String path) {
    if (node.isTextual()) {
      String problem = textProblem(node.textValue());
      return problem == null ? null : new Refusal(name(path), problem);
    }
    if (node.isBigInteger()) {
      return new Refusal(name(path), "is a whole number beyond 64 bits");
    }
    if (node.isFloatingPointNumber() && !Double.isFinite(node.doubleValue())) {
      return new Refusal(name(path), "is a number beyond the range of a double");
    }
    if (node.isObject()) {
      Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> field = fields.next();
        String child = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
        String keyProblem = textProblem(field.getKey());
        if (keyProblem != null) {
          return new Refusal(name(path), "has a key that " + keyProblem);
        }
        Refusal refusal = check(field.getValue(), child);
        if (refusal != null) {
          return refusal;
        }
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        Refusal refusal = check(node.get(i), path.isEmpty() ? String.valueOf(i) : path + "." + i);
        if (refusal != null) {
          return refusal;
        }
      }
    }
    return null;
  }

  /** Null when the text may pass; otherwise what is wrong with it (NUL, or a lone surrogate). */
  static String textProblem(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == 0) {
        return "contains a NUL character";
      }
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return "contains a lone surrogate (not valid Unicode)";
      }
    }
    return null;
  }

  /** Errors as the problem's {@code errors} list. */
  static JsonArray errors(Refusal refusal) {
    return new JsonArray().add(refusal.json());
  }

  private static String name(String path) {
    return path.isEmpty() ? "body" : path;
  }
}
