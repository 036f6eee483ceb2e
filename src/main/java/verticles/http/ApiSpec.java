package verticles.http;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.json.schema.Draft;
import io.vertx.json.schema.JsonSchema;
import io.vertx.json.schema.JsonSchemaOptions;
import io.vertx.json.schema.OutputFormat;
import io.vertx.json.schema.OutputUnit;
import io.vertx.json.schema.Validator;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  private static final Pattern QUOTED = Pattern.compile("\"([^\"]+)\"|'([^']+)'");
  private static final JsonSchemaOptions SCHEMA_OPTIONS = new JsonSchemaOptions()
    .setDraft(Draft.DRAFT202012)
    .setBaseUri("https://pulse.invalid/openapi")
    .setOutputFormat(OutputFormat.Basic);

  private final String yaml;
  private final JsonObject document;

  private ApiSpec(String yaml, JsonObject document) {
    this.yaml = yaml;
    this.document = document;
  }

  static ApiSpec load() {
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
    if (requestBody != null) {
      bodySchema = resolve(requestBody.getJsonObject("content").getJsonObject("application/json").getJsonObject("schema"));
    }
    Validator body = bodySchema == null ? null : Validator.create(JsonSchema.of(bodySchema), SCHEMA_OPTIONS);
    return rc -> {
      JsonArray errors = new JsonArray();
      JsonObject values = new JsonObject();
      for (Parameter parameter : parameters) {
        parameter.read(rc, values, errors);
      }
      if (body != null) {
        String contentType = rc.request().getHeader("Content-Type");
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("application/json")) {
          Problem.send(rc, 415, "send the body as application/json");
          return;
        }
        Object json;
        try {
          json = rc.body().buffer() == null || rc.body().buffer().length() == 0 ? null : Json.decodeValue(rc.body().buffer());
        } catch (DecodeException e) {
          Problem.send(rc, 400, "the body is not well-formed JSON");
          return;
        }
        if (json == null) {
          Problem.send(rc, 400, "a JSON body is required");
          return;
        }
        collect(body.validate(json), errors);
        if (errors.isEmpty()) {
          rc.put(BODY, json);
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

  /** Turns the validator's output into {field, message} pairs naming the body's fields. */
  private static void collect(OutputUnit result, JsonArray errors) {
    if (Boolean.TRUE.equals(result.getValid())) {
      return;
    }
    List<OutputUnit> units = result.getErrors() == null || result.getErrors().isEmpty() ? List.of(result) : result.getErrors();
    for (OutputUnit unit : units) {
      String location = unit.getInstanceLocation() == null ? "" : unit.getInstanceLocation().replaceFirst("^#?/?", "");
      String message = unit.getError() == null ? "is invalid" : unit.getError();
      String field = location.replace('/', '.');
      if (field.isEmpty()) {
        Matcher quoted = QUOTED.matcher(message);
        field = quoted.find() ? (quoted.group(1) != null ? quoted.group(1) : quoted.group(2)) : "body";
      }
      errors.add(new JsonObject().put("field", field).put("message", message));
    }
  }

  /** One path or query parameter: read as text, turned into its schema's type, checked. */
  private static final class Parameter {
    final String name;
    final String in;
    final boolean required;
    final JsonObject schema;
    final Validator validator;

    Parameter(String name, String in, boolean required, JsonObject schema) {
      this.name = name;
      this.in = in;
      this.required = required;
      this.schema = schema;
      this.validator = Validator.create(JsonSchema.of(schema), SCHEMA_OPTIONS);
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
      Object value = text;
      if ("integer".equals(schema.getString("type"))) {
        try {
          value = Long.parseLong(text);
        } catch (NumberFormatException e) {
          errors.add(new JsonObject().put("field", name).put("message", "must be a whole number"));
          return;
        }
      }
      if ("date-time".equals(schema.getString("format"))) {
        try {
          OffsetDateTime.parse(text);
        } catch (DateTimeParseException e) {
          errors.add(new JsonObject().put("field", name).put("message", "must be an ISO-8601 date-time with an offset"));
          return;
        }
      }
      OutputUnit result = validator.validate(value);
      if (!Boolean.TRUE.equals(result.getValid())) {
        List<OutputUnit> units = result.getErrors() == null || result.getErrors().isEmpty() ? List.of(result) : result.getErrors();
        for (OutputUnit unit : units) {
          errors.add(new JsonObject().put("field", name).put("message", unit.getError()));
        }
        return;
      }
      values.put(name, value);
    }
  }
}
