package verticles.tasks;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.OutboundPolicy;
import verticles.common.SafeFetch;
import verticles.common.TaskTypes;

import java.util.Locale;
import java.util.Map;

/**
 * The {@code http.request} task (a webhook): {@code {method?, url, headers?, body?}}. A 2xx
 * succeeds; a 5xx, a 429, a timeout or a refused connection is retried; another answer (a 4xx,
 * a redirect: none is followed) fails for good. The call goes through {@link SafeFetch}, so only
 * public addresses are called (see {@link OutboundPolicy}). It carries {@code Idempotency-Key:
 * task:<id>} (unless the task names its own), the same on every attempt.
 */
public class HttpRequestTask extends VerticleBase {

  /** The answer's excerpt kept as the task's result; the rest is not read. */
  private static final int MAX_BODY = 64 * 1024;
  private static final long DEFAULT_TIMEOUT_MS = 25_000;
  private static final long CONNECT_TIMEOUT_MS = 5_000;

  private SafeFetch fetch;

  @Override
  public Future<?> start() {
    fetch = new SafeFetch(vertx, new OutboundPolicy(config().getString(Config.OUTBOUND_ALLOWLIST)),
      new SafeFetch.Limits(0, MAX_BODY, true, CONNECT_TIMEOUT_MS, DEFAULT_TIMEOUT_MS));
    return Bus.<JsonObject>consume(vertx, Addresses.Tasks.handler(TaskTypes.HTTP_REQUEST), this::call).completion();
  }

  private void call(Message<JsonObject> message) {
    JsonObject spec = message.body() == null ? new JsonObject() : message.body();
    HttpMethod method;
    try {
      method = HttpMethod.valueOf(String.valueOf(spec.getValue("method", "POST")).toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      message.fail(Failure.VALIDATION.code, "method: not an HTTP method");
      return;
    }
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    JsonObject given = spec.getValue("headers") instanceof JsonObject object ? object : new JsonObject();
    for (Map.Entry<String, Object> header : given) {
      headers.add(header.getKey(), String.valueOf(header.getValue()));
    }
    Object body = spec.getValue("body");
    boolean json = body instanceof JsonObject || body instanceof JsonArray;
    Buffer payload = body == null ? Buffer.buffer() : Buffer.buffer(body instanceof String text ? text
      : json ? Json.encode(body) : String.valueOf(body));
    if (json && !headers.contains("Content-Type")) {
      headers.set("Content-Type", "application/json");
    }
    // The same key on every attempt (task:<id>): delivery is at least once, so the receiver applies each task once by it.
    String key = message.headers().get(BusHeaders.IDEMPOTENCY_KEY);
    if (key != null && !headers.contains("Idempotency-Key")) {
      headers.set("Idempotency-Key", key);
    }
    String url = spec.getValue("url") instanceof String text ? text : "";
    fetch.fetch(method, url, headers, payload, BusHeaders.timeoutMs(message.headers(), DEFAULT_TIMEOUT_MS))
      .onSuccess(answer -> {
        int status = answer.status();
        if (status >= 200 && status < 300) {
          message.reply(new JsonObject().put("status", status).put("body", answer.body().toString()));
        } else if (status >= 500 || status == 429) {
          message.fail(Failure.UNAVAILABLE.code, "the endpoint answered " + status);
        } else {
          message.fail(Failure.VALIDATION.code, "the endpoint answered " + status);
        }
      })
      .onFailure(error -> message.fail(Failure.of(error).code, error.getMessage()));
  }
}
