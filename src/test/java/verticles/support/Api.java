package verticles.support;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A plain HTTP client for one node's API, speaking JSON; tests read status, headers and body. */
public final class Api {

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final String base;

  public Api(int port) {
    this.base = "http://127.0.0.1:" + port;
  }

  /** One answer: status, headers, body text (and the body as JSON when it is an object). */
  public static final class Reply {
    public final int status;
    public final HttpResponse<String> raw;

    Reply(HttpResponse<String> raw) {
      this.status = raw.statusCode();
      this.raw = raw;
    }

    public JsonObject json() {
      return new JsonObject(raw.body());
    }

    public String header(String name) {
      return raw.headers().firstValue(name).orElse(null);
    }

    @Override
    public String toString() {
      return status + " " + raw.body();
    }
  }

  public Reply get(String path, String token) {
    return send(request(path, token).GET());
  }

  public Reply delete(String path, String token) {
    return send(request(path, token).DELETE());
  }

  public Reply post(String path, Object json, String token) {
    return send(request(path, token).header("Content-Type", "application/json")
      .POST(HttpRequest.BodyPublishers.ofString(String.valueOf(json))));
  }

  public Reply put(String path, Object json, String token) {
    return send(request(path, token).header("Content-Type", "application/json")
      .PUT(HttpRequest.BodyPublishers.ofString(String.valueOf(json))));
  }

  /** Anything at all: a method, a path, headers as name/value pairs, a raw body. */
  public Reply raw(String method, String path, String body, String... headers) {
    HttpRequest.Builder request = request(path, null)
      .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return send(request);
  }

  /** Logs in and returns the access token; fails the test if the login fails. */
  public String login(String username, String password) {
    Reply reply = post("/api/v1/auth/login", new JsonObject().put("username", username).put("password", password), null);
    if (reply.status != 200) {
      throw new AssertionError("login of " + username + " failed: " + reply);
    }
    return reply.json().getString("access_token");
  }

  private HttpRequest.Builder request(String path, String token) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return request;
  }

  private Reply send(HttpRequest.Builder request) {
    try {
      return new Reply(http.send(request.build(), HttpResponse.BodyHandlers.ofString()));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
