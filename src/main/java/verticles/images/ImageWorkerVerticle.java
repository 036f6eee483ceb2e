package verticles.images;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.Addresses;
import verticles.common.Bus;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.OutboundPolicy;
import verticles.common.Role;
import verticles.common.SafeFetch;
import verticles.common.ServiceHealth;
import verticles.common.TaskTypes;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Measures images (task.image.perimeter, task.product.image): {@code {url}} → {@code {width,
 * height, perimeter, format, bytes}}. Downloads through {@link SafeFetch} (public addresses only,
 * at most 3 redirects, IMAGE_MAX_BYTES) and reads the size from the header ({@link ImageHeader}).
 * Owns nothing; runs on worker threads, where the header is read. What will not change by trying
 * again (a 4xx, not an image, too big) fails for good; a slow, refusing or failing server
 * (timeouts, 5xx, 429) fails retryably.
 */
public class ImageWorkerVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ImageWorkerVerticle.class);

  private static final int MAX_REDIRECTS = 3;
  private static final long CONNECT_TIMEOUT_MS = 5_000;
  private static final long DEFAULT_TIMEOUT_MS = 25_000;

  private SafeFetch fetch;
  private long maxPixels;
  /** RETAIL_SIMULATED_PROCESSING_MS: null when off, else {min, max}. */
  private JsonObject simulated;

  @Override
  public Future<?> start() {
    JsonObject config = config();
    maxPixels = config.getLong(Config.IMAGE_MAX_PIXELS, 100_000_000L);
    long maxBytes = config.getLong(Config.IMAGE_MAX_BYTES, 20L * 1024 * 1024);
    long readTimeoutMs = config.getLong(Config.IMAGE_READ_TIMEOUT_MS, 10_000L);
    simulated = config.getJsonObject(Config.RETAIL_SIMULATED_PROCESSING_MS);
    fetch = new SafeFetch(vertx, new OutboundPolicy(config.getString(Config.OUTBOUND_ALLOWLIST)),
      new SafeFetch.Limits(MAX_REDIRECTS, maxBytes, false, Math.min(CONNECT_TIMEOUT_MS, readTimeoutMs), readTimeoutMs));
    return Future.all(
        Bus.<JsonObject>consume(vertx, Addresses.Tasks.handler(TaskTypes.IMAGE_PERIMETER), this::measure).completion(),
        Bus.<JsonObject>consume(vertx, Addresses.Tasks.handler(TaskTypes.PRODUCT_IMAGE), this::measure).completion())
      .compose(ready -> new ServiceHealth(vertx, Role.WORKER, config).serve());
  }

  private void measure(Message<JsonObject> message) {
    Object url = message.body() == null ? null : message.body().getValue("url");
    if (!(url instanceof String text) || text.isBlank()) {
      message.fail(Failure.VALIDATION.code, "url: required, an http or https URL");
      return;
    }
    // The simulated pause comes out of the handler's time, so the answer still beats the dispatcher's timeout.
    long deadline = Math.max(1000, BusHeaders.timeoutMs(message.headers(), DEFAULT_TIMEOUT_MS) - (simulated == null ? 0 : simulated.getLong("max")));
    fetch.get(text, deadline)
      .map(this::header)
      .compose(this::simulatedPause)
      .onSuccess(message::reply)
      .onFailure(error -> fail(message, error));
  }

  /** Runs on this worker's thread (the fetch's callbacks come back to the verticle's context). */
  private JsonObject header(SafeFetch.Response response) {
    int status = response.status();
    if (status == 429 || status >= 500) {
      throw Failure.UNAVAILABLE.exception("the image server answered " + status);
    }
    if (status < 200 || status >= 300) {
      throw Failure.VALIDATION.exception("the image server answered " + status + (status >= 300 && status < 400 ? " (a redirect without a Location)" : ""));
    }
    ImageHeader header = ImageHeader.read(response.body().getBytes(), maxPixels);
    return new JsonObject().put("width", header.width()).put("height", header.height())
      .put("perimeter", header.perimeter()).put("format", header.format()).put("bytes", response.body().length());
  }

  /** RETAIL_SIMULATED_PROCESSING_MS: a timer, not a sleep, so no thread waits. */
  private Future<JsonObject> simulatedPause(JsonObject answer) {
    long ms = simulated == null ? 0 : ThreadLocalRandom.current().nextLong(simulated.getLong("min"), simulated.getLong("max") + 1);
    if (ms < 1) {
      return Future.succeededFuture(answer);
    }
    Promise<JsonObject> paused = Promise.promise();
    vertx.setTimer(ms, id -> paused.complete(answer));
    return paused.future();
  }

  private static void fail(Message<JsonObject> message, Throwable error) {
    if (error instanceof ReplyException) {
      message.fail(Failure.of(error).code, error.getMessage());
      return;
    }
    log.error("measuring an image failed", error);
    message.fail(Failure.INTERNAL.code, "internal error");
  }
}
