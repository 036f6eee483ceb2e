package verticles.http;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OpenAPI document is the contract: a route it does not describe stops the HTTP verticle from starting. */
class ApiSpecTest {

  private final ApiSpec spec = ApiSpec.load();

  @Test
  void aServedRouteMissingFromTheDocumentIsFound() {
    List<String> missing = spec.undescribed(List.of("GET /health/live", "POST /api/v1/auth/login",
      "GET /api/v1/users/{id}", "GET /admin/secret", "DELETE /api/v1/me"));
    assertEquals(List.of("GET /admin/secret", "DELETE /api/v1/me"), missing);
  }

  @Test
  void everyOperationHasAnIdASummaryAndItsErrorsAsProblems() {
    JsonObject paths = spec.document().getJsonObject("paths");
    for (Map.Entry<String, Object> path : paths) {
      for (Map.Entry<String, Object> operation : (JsonObject) path.getValue()) {
        JsonObject op = (JsonObject) operation.getValue();
        String name = operation.getKey().toUpperCase() + " " + path.getKey();
        assertTrue(op.containsKey("operationId"), name);
        assertTrue(op.containsKey("summary"), name);
        for (String status : op.getJsonObject("responses").fieldNames()) {
          // The original Retail Pulse endpoints keep their own error shapes ({"error": ...} and {}).
          if (path.getKey().startsWith("/api/v1/") && status.startsWith("4")) {
            assertEquals("#/components/responses/Problem",
              op.getJsonObject("responses").getJsonObject(status).getString("$ref"), name + " " + status);
          }
        }
      }
    }
  }
}
