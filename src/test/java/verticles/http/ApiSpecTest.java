package verticles.http;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
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
  void theServedRoutesIncludeThoseOfEachAreasSubRouter() {
    Vertx vertx = Vertx.vertx();
    try {
      Router router = Router.router(vertx);  // (a router lists only routes that have a handler)
      Router products = Router.router(vertx);
      router.get("/health/live").handler(rc -> { });
      router.route("/api/v1/products*").subRouter(products);
      products.get("/").handler(rc -> { });
      products.route("/").handler(rc -> { });  // a 405 answer: no method of its own
      products.get("/:id").handler(rc -> { });
      products.put("/:id").handler(rc -> { });
      assertEquals(List.of("GET /api/v1/products", "GET /api/v1/products/{id}", "GET /health/live", "PUT /api/v1/products/{id}"),
        ApiRoutes.served(router));
    } finally {
      vertx.close();
    }
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
