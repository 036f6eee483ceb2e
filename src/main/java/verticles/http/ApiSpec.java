package verticles.http;

import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.PathType;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The OpenAPI document (src/main/resources/openapi.yaml), loaded once: served as is, and the
 * source of every request check. {@link #validation} builds, for one operation, the handler
 * that checks its parameters and JSON body against the document's schemas before anything
 * else runs, and hands the handler typed values.
 */
final class ApiSpec {

  /** Where the validated values wait for the route's handler. */
  static final String PARAMS = "pulse.params";
  static final String BODY = "pulse.body";

  private static final ObjectMapper MAPPER = JsonInput.MAPPER;
  /** JSON Schema 2020-12, with "format" checked (date-time), errors located by JSON pointer. */
  private static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
    registry -> registry.schemaRegistryConfig(new SchemaRegistryConfig.Builder()
      .formatAssertionsEnabled(true).pathType(PathType.JSON_POINTER).locale(Locale.ENGLISH).build()));

  private final String yaml;
  private final JsonObject document;

  private ApiSpec(String yaml, JsonObject document) {
    this.yaml = yaml;
    this.document = document;
  }

  private static ApiSpec loaded;

  /** Parsed once per JVM (every HTTP instance serves the same document). */
  static synchronized ApiSpec load() {
    if (loaded == null) {
      loaded = parse();
    }
    return loaded;
  }

  private static ApiSpec parse() {
    try (InputStream in = ApiSpec.class.getResourceAsStream("/openapi.yaml")) {
      if (in == null) {
        throw new IllegalStateException("openapi.yaml is missing from the classpath");
      }
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Map<String, Object> tree = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
      return new ApiSpec(text, new JsonObject(tree));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String yaml() {
    return yaml;
  }

  JsonObject document() {
    return document;
  }

  /** The operation object for {@code method} on the document path (with {@code {id}} style parameters). */
  JsonObject operation(String method, String path) {
    JsonObject item = document.getJsonObject("paths").getJsonObject(path);
    JsonObject operation = item == null ? null : item.getJsonObject(method.toLowerCase(Locale.ROOT));
    if (operation == null) {
      throw new IllegalStateException(method + " " + path + " is not described in openapi.yaml");
    }
    return operation;
  }

  /** Of {@code served} ("GET /path/{id}" each), the routes this document does not describe. */
  List<String> undescribed(List<String> served) {
    List<String> missing = new ArrayList<>();
    for (String route : served) {
      String[] parts = route.split(" ", 2);
      JsonObject item = document.getJsonObject("paths").getJsonObject(parts[1]);
      if (item == null || !item.containsKey(parts[0].toLowerCase(Locale.ROOT))) {
        missing.add(route);
      }
    }
    return missing;
  }

  /** Checks the operation's parameters and body; on success they wait in {@link #PARAMS} and {@link #BODY}. */
  io.vertx.core.Handler<RoutingContext> validation(String method, String path) {
    JsonObject operation = operation(method, path);
    List<Parameter> parameters = new ArrayList<>();
    for (Object item : operation.getJsonArray("parameters", new JsonArray())) {
      JsonObject parameter = resolve((JsonObject) item);
      parameters.add(new Parameter(parameter.getString("name"), parameter.getString("in"),
        parameter.getBoolean("required", false), resolve(parameter.getJsonObject("schema"))));
    }
    JsonObject bodySchema = null;
    JsonObject requestBody = operation.getJsonObject("requestBody");
    JsonObject content = requestBody == null ? new JsonObject() : requestBody.getJsonObject("content");
    if (content.containsKey("application/json")) {
      bodySchema = resolve(content.getJsonObject("application/json").getJsonObject("schema"));
    }
    Schema body = bodySchema == null ? null : schema(bodySchema);
    boolean csv = content.containsKey("text/csv");
    return rc -> {
      JsonArray errors = new JsonArray();
      JsonObject values = new JsonObject();
      if (csv && !readCsv(rc)) {
        return;
      }
      for (Parameter parameter : parameters) {
        parameter.read(rc, values, errors);
      }
      if (body != null) {
        if (!isJson(rc.request().getHeader("Content-Type"))) {
          Problem.send(rc, 415, "send the body as application/json");
          return;
        }
        if (rc.body().buffer() == null || rc.body().buffer().length() == 0) {
          Problem.send(rc, 400, "a JSON body is required");
          return;
        }
        JsonInput.Parsed parsed = JsonInput.parse(rc.body().buffer().getBytes());
        if (parsed.refusal() != null) {
          Problem.invalid(rc, JsonInput.errors(parsed.refusal()));
          return;
        }
        validate(body, parsed.tree(), errors);
        if (errors.isEmpty()) {
          rc.put(BODY, Json.decodeValue(rc.body().buffer()));
        }
      }
      if (!errors.isEmpty()) {
        Problem.invalid(rc, errors);
        return;
      }
      rc.put(PARAMS, values);
      rc.next();
    };
  }

  /**
   * A text/csv body (UTF-8, no NUL) waits for the handler as {@code {"csv": <text>}}; false when
   * it was refused (and answered).
   */
  private static boolean readCsv(RoutingContext rc) {
    if (!isMediaType(rc.request().getHeader("Content-Type"), "text/csv")) {
      Problem.send(rc, 415, "send the body as text/csv");
      return false;
    }
    byte[] bytes = rc.body().buffer() == null ? new byte[0] : rc.body().buffer().getBytes();
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      Problem.invalid(rc, new JsonArray().add(new JsonObject().put("field", "body").put("message", "is not well-formed UTF-8")));
      return false;
    }
    String problem = text.isBlank() ? "is empty" : JsonInput.textProblem(text);
    if (problem != null) {
      Problem.invalid(rc, new JsonArray().add(new JsonObject().put("field", "body").put("message", problem)));
      return false;
    }
    rc.put(BODY, new JsonObject().put("csv", text));
    return true;
  }

  /**
   * application/json, in any case, with no charset or UTF-8 (the only one JSON has); nothing that
   * merely starts like it (application/jsonp).
   */
  static boolean isJson(String contentType) {
    return isMediaType(contentType, "application/json");
  }

  /** {@code contentType} names {@code type}, with no charset or UTF-8. */
  private static boolean isMediaType(String contentType, String type) {
    if (contentType == null) {
      return false;
    }
    String[] parts = contentType.split(";");
    if (!parts[0].trim().equalsIgnoreCase(type)) {
      return false;
    }
    for (int i = 1; i < parts.length; i++) {
      String[] parameter = parts[i].split("=", 2);
      if (parameter[0].trim().equalsIgnoreCase("charset")
        && !(parameter.length == 2 && parameter[1].trim().replace("\"", "").equalsIgnoreCase("utf-8"))) {
        return false;
      }
    }
    return true;
  }

  /**
   * The validator should never throw on a tree that passed {@link JsonInput}; if it does (a
   * library bug meeting a hostile value), the body is refused, not answered with a 500.
   */
  private static void validate(Schema schema, JsonNode tree, JsonArray errors) {
    try {
      collect(schema.validate(tree), errors);
    } catch (RuntimeException e) {
      errors.add(new JsonObject().put("field", "body").put("message", "cannot be checked against its schema"));
    }
  }

  /** Follows one local {@code $ref} ("#/components/..."), the only kind this document uses. */
  private JsonObject resolve(JsonObject node) {
    String ref = node.getString("$ref");
    if (ref == null) {
      return node;
    }
    JsonObject target = document;
    for (String part : ref.substring(2).split("/")) {
      target = target.getJsonObject(part);
    }
    return resolveNested(target);
  }

  /** Inlines references inside a schema (array items, properties), so each validator stands alone. */
  private JsonObject resolveNested(JsonObject schema) {
    JsonObject copy = schema.copy();
    for (String key : copy.fieldNames()) {
      Object value = copy.getValue(key);
      if (value instanceof JsonObject) {
        copy.put(key, resolveNested(resolve((JsonObject) value)));
      }
    }
    return copy;
  }

  private static Schema schema(JsonObject schema) {
    try {
      return SCHEMAS.getSchema(MAPPER.readTree(schema.encode()));
    } catch (JacksonException e) {
      throw new IllegalStateException("openapi.yaml holds a schema that is not JSON: " + schema, e);
    }
  }

  /**
   * Turns the validator's errors into {field, message} pairs naming the body's fields with dots
   * ("tasks.3.priority"); a missing or unexpected property is named itself, not its parent.
   */
  private static void collect(List<Error> found, JsonArray errors) {
    for (Error error : found) {
      String location = error.getInstanceLocation().toString().replaceFirst("^/", "").replace('/', '.');
      String property = error.getProperty();
      String field = property == null ? location : location.isEmpty() ? property : location + "." + property;
      errors.add(new JsonObject().put("field", field.isEmpty() ? "body" : field).put("message", error.getMessage()));
    }
  }

  /** One path or query parameter: read as text, turned into its schema's type, checked. */
  private static final class Parameter {
    final String name;
    final String in;
    final boolean required;
    final JsonObject schema;
    final Schema validator;

    Parameter(String name, String in, boolean required, JsonObject schema) {
      this.name = name;
      this.in = in;
      this.required = required;
      this.schema = schema;
      this.validator = schema(schema);
    }

    void read(RoutingContext rc, JsonObject values, JsonArray errors) {
      String text = "path".equals(in) ? rc.pathParam(name)
        : "header".equals(in) ? rc.request().getHeader(name) : rc.queryParams().get(name);
      if (text == null || text.isEmpty()) {
        if (required) {
          errors.add(new JsonObject().put("field", name).put("message", "is required"));
        } else if (schema.containsKey("default")) {
          values.put(name, schema.getValue("default"));
        }
        return;
      }
      String problem = JsonInput.textProblem(text);
      if (problem != null) {
        errors.add(new JsonObject().put("field", name).put("message", problem));
        return;
      }
      Object value = text;
      if ("integer".equals(schema.getString("type"))) {
        try {
          value = Long.parseLong(text);
        } catch (NumberFormatException e) {
          errors.add(new JsonObject().put("field", name).put("message", "must be a whole number from "
            + schema.getValue("minimum", Long.MIN_VALUE) + " to " + schema.getValue("maximum", Long.MAX_VALUE)));
          return;
        }
      }
      if ("boolean".equals(schema.getString("type"))) {
        if (!text.equals("true") && !text.equals("false")) {
          errors.add(new JsonObject().put("field", name).put("message", "must be true or false"));
          return;
        }
        value = Boolean.parseBoolean(text);
      }
      if ("date-time".equals(schema.getString("format"))) {
        try {
          OffsetDateTime.parse(text);
        } catch (DateTimeParseException e) {
          errors.add(new JsonObject().put("field", name).put("message", "must be an ISO-8601 date-time with an offset"));
          return;
        }
      }
      List<Error> found = validator.validate(MAPPER.valueToTree(value));
      if (!found.isEmpty()) {
        found.forEach(error -> errors.add(new JsonObject().put("field", name).put("message", error.getMessage())));
        return;
      }
      values.put(name, value);
    }
  }
}
