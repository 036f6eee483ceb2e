package verticles.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import verticles.common.Failure;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A Retail Pulse job as submitted ({@code {count, visits: [{store_id, image_url: [...],
 * visit_time}]}}), checked field by field. The original contract's clients send anything, so
 * every type is checked here (not only by a schema): a failure names the field, and the
 * contract's edge turns it into {@code {"error": "..."}}. Whether a store exists is not checked
 * here: an unknown store fails the job when it is processed, as the contract says.
 */
record JobRequest(List<Visit> visits) {

  /** Most visits, images and URL length one job may have. */
  static final int MOST_VISITS = 10_000;
  static final int MOST_IMAGES = 10_000;
  static final int MOST_URL_LENGTH = 2048;

  record Visit(String storeId, List<String> imageUrls, String visitTime) {
  }

  int images() {
    return visits.stream().mapToInt(visit -> visit.imageUrls().size()).sum();
  }

  static JobRequest parse(JsonObject body) {
    Object count = body.getValue("count");
    if (count == null) {
      throw Failure.invalid("count", "is required");
    }
    if (!(count instanceof Integer || count instanceof Long)) {
      throw Failure.invalid("count", "must be a whole number");
    }
    Object visitsValue = body.getValue("visits");
    if (visitsValue == null) {
      throw Failure.invalid("visits", "is required");
    }
    if (!(visitsValue instanceof JsonArray visitsArray)) {
      throw Failure.invalid("visits", "must be a list of visits");
    }
    if (visitsArray.isEmpty()) {
      throw Failure.invalid("visits", "must not be empty");
    }
    if (visitsArray.size() > MOST_VISITS) {
      throw Failure.invalid("visits", "must hold at most " + MOST_VISITS + " visits");
    }
    if (((Number) count).longValue() != visitsArray.size()) {
      throw Failure.invalid("count", "is " + count + " but there are " + visitsArray.size() + " visits");
    }
    List<Visit> visits = new ArrayList<>(visitsArray.size());
    int images = 0;
    for (int i = 0; i < visitsArray.size(); i++) {
      Visit visit = visit(visitsArray.getValue(i), "visits." + i + ".");
      images += visit.imageUrls().size();
      if (images > MOST_IMAGES) {
        throw Failure.invalid("visits", "must hold at most " + MOST_IMAGES + " images in all");
      }
      visits.add(visit);
    }
    return new JobRequest(visits);
  }

  private static Visit visit(Object value, String prefix) {
    if (!(value instanceof JsonObject visit)) {
      throw Failure.invalid(prefix.substring(0, prefix.length() - 1), "must be an object");
    }
    String storeId = text(visit, "store_id", prefix, 64);
    String visitTime = text(visit, "visit_time", prefix, 256);
    Object urlsValue = visit.getValue("image_url");
    if (urlsValue == null) {
      throw Failure.invalid(prefix + "image_url", "is required");
    }
    if (!(urlsValue instanceof JsonArray urls)) {
      throw Failure.invalid(prefix + "image_url", "must be a list of URLs");
    }
    if (urls.isEmpty()) {
      throw Failure.invalid(prefix + "image_url", "must not be empty");
    }
    List<String> imageUrls = new ArrayList<>(urls.size());
    for (int j = 0; j < urls.size(); j++) {
      imageUrls.add(url(urls.getValue(j), prefix + "image_url." + j));
    }
    return new Visit(storeId, imageUrls, visitTime);
  }

  private static String text(JsonObject visit, String field, String prefix, int most) {
    Object value = visit.getValue(field);
    if (value == null) {
      throw Failure.invalid(prefix + field, "is required");
    }
    if (!(value instanceof String text)) {
      throw Failure.invalid(prefix + field, "must be a string");
    }
    if (text.isBlank()) {
      throw Failure.invalid(prefix + field, "must not be empty");
    }
    if (text.length() > most) {
      throw Failure.invalid(prefix + field, "must be at most " + most + " characters");
    }
    return text;
  }

  /** An absolute http(s) URL with a host, not too long. */
  private static String url(Object value, String field) {
    if (!(value instanceof String text)) {
      throw Failure.invalid(field, "must be a URL string");
    }
    if (text.length() > MOST_URL_LENGTH) {
      throw Failure.invalid(field, "must be at most " + MOST_URL_LENGTH + " characters");
    }
    try {
      URI uri = new URI(text);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if ((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null) {
        return text;
      }
    } catch (URISyntaxException e) {
      // said below
    }
    throw Failure.invalid(field, "must be an http or https URL with a host");
  }
}
