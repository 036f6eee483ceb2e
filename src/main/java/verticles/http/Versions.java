package verticles.http;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * Conditional requests on versioned things (products): a read answers {@code ETag: "<version>"}
 * and 304 to a matching {@code If-None-Match}; a change must say which version it read with
 * {@code If-Match} (428 without it), which travels to the service as {@code expected_version}
 * (the service answers 412 when the thing moved on).
 */
final class Versions {

  private Versions() {
  }

  /** For a change: puts If-Match's version in the message; false (answered) when it is missing or not an ETag of ours. */
  static boolean expected(RoutingContext rc, JsonObject message) {
    if (!"PUT".equals(rc.request().method().name()) && !"PATCH".equals(rc.request().method().name())) {
      return true;
    }
    String ifMatch = rc.request().getHeader("If-Match");
    if (ifMatch == null) {
      Problem.send(rc, 428, "send If-Match with the ETag of the version you read");
      return false;
    }
    Integer version = version(ifMatch);
    if (version == null) {
      Problem.send(rc, 412, "If-Match must be the ETag of a version, like \"3\"");
      return false;
    }
    message.put("expected_version", version);
    return true;
  }

  /** Sets the ETag of the answer; true (answered 304) when the client already has that version. */
  static boolean notModified(RoutingContext rc, String version) {
    if (version == null) {
      return false;
    }
    String etag = "\"" + version + "\"";
    rc.response().putHeader("ETag", etag);
    String ifNoneMatch = rc.request().getHeader("If-None-Match");
    if ("GET".equals(rc.request().method().name()) && ifNoneMatch != null
      && (ifNoneMatch.trim().equals("*") || java.util.Arrays.stream(ifNoneMatch.split(",")).map(String::trim)
        .anyMatch(tag -> tag.equals(etag) || tag.equals("W/" + etag)))) {
      rc.response().setStatusCode(304).end();
      return true;
    }
    return false;
  }

  private static Integer version(String etag) {
    String tag = etag.trim();
    if (tag.startsWith("W/")) {
      tag = tag.substring(2);
    }
    if (tag.length() < 3 || tag.length() > 12 || !tag.startsWith("\"") || !tag.endsWith("\"")) {
      return null;
    }
    try {
      return Integer.parseInt(tag.substring(1, tag.length() - 1));
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
