package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.OutboundPolicy;
import verticles.common.TaskTypes;

import java.net.InetAddress;
import java.net.URI;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code http.request} task (a webhook): {@code {method?, url, headers?, body?}}. A 2xx
 * succeeds; a 5xx, a timeout or a refused connection is retried; a 4xx fails for good. Only
 * public addresses are called (see {@link OutboundPolicy}).
 */
public class HttpRequestTask extends VerticleBase {

  private static final int MAX_BODY = 64 * 1024;
  private static final long DEFAULT_TIMEOUT_MS = 25_000;

  private HttpClient client;
  private OutboundPolicy policy;

  @Override
  public Future<?> start() {
    client = vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(5_000).setIdleTimeout(30));
    policy = new OutboundPolicy(config().getString(Config.OUTBOUND_ALLOWLIST));
    return Bus.<JsonObject>consume(vertx, Addresses.Tasks.handler(TaskTypes.HTTP_REQUEST), this::call).completion();
  }

  private void call(Message<JsonObject> message) {
    JsonObject spec = message.body();
    URI uri;
    try {
      uri = URI.create(spec.getString("url", ""));
    } catch (IllegalArgumentException e) {
      message.fail(Failure.VALIDATION.code, "url: not a URL");
      return;
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
      message.fail(Failure.VALIDATION.code, "url: only http and https URLs with a host");
      return;
    }
    String host = uri.getHost();
    int port = uri.getPort() > 0 ? uri.getPort() : scheme.equals("https") ? 443 : 80;
    // Resolved on a worker, unordered: one slow lookup must not hold the webhooks behind it.
    vertx.executeBlocking(() -> InetAddress.getByName(host), false).onComplete(resolved -> {
      if (resolved.failed()) {
        message.fail(Failure.UNAVAILABLE.code, "cannot resolve " + host);
        return;
      }
      String refusal = policy.refusal(host, resolved.result());
      if (refusal != null) {
        message.fail(Failure.FORBIDDEN.code, "refused: " + refusal);
        return;
      }
      RequestOptions request = new RequestOptions()
        .setMethod(HttpMethod.valueOf(spec.getString("method", "POST").toUpperCase(Locale.ROOT)))
        .setServer(SocketAddress.inetSocketAddress(port, resolved.result().getHostAddress()))
        .setHost(host).setPort(port).setSsl(scheme.equals("https"))
        .setURI(target(uri))
        .setTimeout(timeoutMs(message));
      JsonObject headers = spec.getJsonObject("headers", new JsonObject());
      for (Map.Entry<String, Object> header : headers) {
        request.putHeader(header.getKey(), String.valueOf(header.getValue()));
      }
      Object body = spec.getValue("body");
      Buffer payload = body == null ? Buffer.buffer() : Buffer.buffer(body instanceof String ? (String) body : String.valueOf(body instanceof JsonObject ? ((JsonObject) body).encode() : body));
      if (body instanceof JsonObject && !headers.containsKey("Content-Type")) {
        request.putHeader("Content-Type", "application/json");
      }
      client.request(request)
        .compose(req -> req.send(payload))
        .compose(response -> response.body().map(text -> new Answer(response.statusCode(), text)))
        .onSuccess(answer -> {
          int status = answer.status();
          Buffer text = answer.body();
          String excerpt = text.length() > MAX_BODY ? text.getString(0, MAX_BODY) : text.toString();
          if (status >= 200 && status < 300) {
            message.reply(new JsonObject().put("status", status).put("body", excerpt));
          } else if (status >= 500 || status == 429) {
            message.fail(Failure.UNAVAILABLE.code, "the endpoint answered " + status);
          } else {
            message.fail(Failure.VALIDATION.code, "the endpoint answered " + status);
          }
        })
        .onFailure(error -> message.fail(Failure.UNAVAILABLE.code, "request failed: " + error.getMessage()));
    });
  }

  private record Answer(int status, Buffer body) {
  }

  /** The request target: the path ("/" when there is none) and the query, both as the URL gave them. */
  static String target(URI uri) {
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    return uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery();
  }

  /** Nine tenths of the task's own timeout (the dispatcher says how long it waits), so the handler answers first. */
  private static long timeoutMs(Message<?> message) {
    String given = message.headers().get(BusHeaders.TIMEOUT_MS);
    try {
      return given == null ? DEFAULT_TIMEOUT_MS : Math.max(1000, Long.parseLong(given));
    } catch (NumberFormatException e) {
      return DEFAULT_TIMEOUT_MS;
    }
  }
}
