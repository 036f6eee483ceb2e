import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;

/**
 * The framework's ceiling for bench/catalog.sh: a Vert.x HTTP server, one instance per core, that
 * answers every request with a small JSON object (the size of a product), nothing else.
 *
 *   java -cp pulse.jar bench/catalog/HelloServer.java PORT
 */
public class HelloServer {

  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    String body = new JsonObject().put("id", 1).put("sku", "hello").put("name", "Hello").put("price", 100).put("currency", "USD")
      .put("stock", 10).put("version", 1).encode();
    for (int i = 0; i < Runtime.getRuntime().availableProcessors(); i++) {
      vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(Integer.parseInt(args[0])))
        .requestHandler(request -> request.response().putHeader("Content-Type", "application/json").end(body))
        .listen().toCompletionStage().toCompletableFuture().get();
    }
    System.out.println("serving");
  }
}
