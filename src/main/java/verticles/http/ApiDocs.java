package verticles.http;

import io.vertx.core.json.JsonObject;

import java.util.Map;

/** The human page at /docs: the OpenAPI document as one static HTML table, built once. */
final class ApiDocs {

  private ApiDocs() {
  }

  static String html(JsonObject document) {
    StringBuilder rows = new StringBuilder();
    for (Map.Entry<String, Object> path : document.getJsonObject("paths")) {
      for (Map.Entry<String, Object> operation : (JsonObject) path.getValue()) {
        JsonObject op = (JsonObject) operation.getValue();
        String body = op.containsKey("requestBody") ? bodyOf(op.getJsonObject("requestBody").getJsonObject("content")) : "";
        rows.append("<tr><td class=m>").append(operation.getKey().toUpperCase()).append("</td><td><code>")
          .append(escape(path.getKey())).append("</code></td><td>").append(escape(op.getString("summary", "")))
          .append("</td><td>").append(op.containsKey("security") ? "bearer" : "").append("</td><td>")
          .append(escape(body)).append("</td><td>")
          .append(String.join(" ", op.getJsonObject("responses", new JsonObject()).fieldNames()))
          .append("</td></tr>\n");
      }
    }
    StringBuilder schemas = new StringBuilder();
    for (Map.Entry<String, Object> schema : document.getJsonObject("components").getJsonObject("schemas")) {
      schemas.append("<h3 id=\"").append(escape(schema.getKey())).append("\">").append(escape(schema.getKey()))
        .append("</h3><pre>").append(escape(((JsonObject) schema.getValue()).encodePrettily())).append("</pre>\n");
    }
    JsonObject info = document.getJsonObject("info");
    return "<!doctype html><html><head><meta charset=utf-8><title>" + escape(info.getString("title")) + "</title>"
      + "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
      + "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}.m{font-weight:bold}"
      + "pre{background:#f6f6f6;padding:8px}</style></head><body><h1>" + escape(info.getString("title")) + " "
      + escape(info.getString("version")) + "</h1><p>" + escape(info.getString("description", "")).replace("\n", " ")
      + "</p><p>The machine-readable document: <a href=\"/openapi.yaml\">/openapi.yaml</a></p>"
      + "<table><tr><th>method</th><th>path</th><th>what</th><th>auth</th><th>body</th><th>responses</th></tr>\n"
      + rows + "</table><h2>Schemas</h2>" + schemas + "</body></html>";
  }

  /** The schema's name for JSON, or the media type for anything else (text/csv). */
  private static String bodyOf(JsonObject content) {
    JsonObject json = content.getJsonObject("application/json");
    return json == null ? String.join(", ", content.fieldNames())
      : json.getJsonObject("schema").getString("$ref", "").replace("#/components/schemas/", "");
  }

  private static String escape(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
