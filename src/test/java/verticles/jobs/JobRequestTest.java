package verticles.jobs;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import verticles.common.Failure;
import verticles.common.ServiceFailure;

import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class JobRequestTest {

  private static JsonObject visit(String store, String... urls) {
    return new JsonObject().put("store_id", store).put("image_url", new JsonArray(List.of((Object[]) urls)))
      .put("visit_time", "time of store visit");
  }

  private static JsonObject job(JsonObject... visits) {
    return new JsonObject().put("count", visits.length).put("visits", new JsonArray(List.of((Object[]) visits)));
  }

  /** The field the refusal names. */
  private static String refused(JsonObject body) {
    ServiceFailure failure = assertThrows(ServiceFailure.class, () -> JobRequest.parse(body));
    assertEquals(Failure.VALIDATION, Failure.of(failure));
    return failure.details().getJsonArray("errors").getJsonObject(0).getString("field");
  }

  @Test
  void theContractsExampleIsAJobOfThreeImages() {
    JobRequest request = JobRequest.parse(job(visit("S00339218", "https://a.example/2.jpg", "https://a.example/3.jpg"),
      visit("S01408764", "https://a.example/3.jpg")));
    assertEquals(2, request.visits().size());
    assertEquals(3, request.images());
    assertEquals("S00339218", request.visits().get(0).storeId());
  }

  @Test
  void eachMissingOrMistypedFieldIsNamed() {
    JsonObject good = job(visit("S1", "http://a.example/1.jpg"));
    assertEquals("count", refused(good.copy().put("count", null)));
    assertEquals("count", refused(good.copy().put("count", "1")));
    assertEquals("count", refused(good.copy().put("count", 1.5)));
    assertEquals("count", refused(good.copy().put("count", 2)));
    assertEquals("visits", refused(good.copy().put("visits", null)));
    assertEquals("visits", refused(good.copy().put("visits", new JsonObject())));
    assertEquals("visits", refused(good.copy().put("visits", new JsonArray()).put("count", 0)));
    assertEquals("visits.0", refused(good.copy().put("visits", new JsonArray().add("S1"))));
    for (String field : List.of("store_id", "visit_time", "image_url")) {
      JsonObject without = visit("S1", "http://a.example/1.jpg");
      without.remove(field);
      assertEquals("visits.0." + field, refused(job(without)));
    }
    assertEquals("visits.0.store_id", refused(job(visit("S1", "http://a.example/1.jpg").put("store_id", 7))));
    assertEquals("visits.0.store_id", refused(job(visit(" ", "http://a.example/1.jpg"))));
    assertEquals("visits.0.image_url", refused(job(visit("S1"))));
    assertEquals("visits.0.image_url", refused(job(visit("S1").put("image_url", "http://a.example/1.jpg"))));
    assertEquals("visits.0.image_url.1", refused(job(visit("S1", "http://a.example/1.jpg", "ftp://a.example/2.jpg"))));
    assertEquals("visits.0.image_url.0", refused(job(visit("S1", "/relative.jpg"))));
    assertEquals("visits.0.image_url.0", refused(job(visit("S1", "http://a.example/" + "x".repeat(2048)))));
  }

  @Test
  void aJobHoldsAtMostTenThousandImages() {
    String[] half = Collections.nCopies(5_000, "http://a.example/1.jpg").toArray(String[]::new);
    assertEquals(10_000, JobRequest.parse(job(visit("S1", half), visit("S2", half))).images());
    assertEquals("visits", refused(job(visit("S1", half), visit("S2", half), visit("S3", "http://a.example/1.jpg"))));
  }
}
