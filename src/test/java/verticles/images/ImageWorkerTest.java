package verticles.images;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import verticles.common.Addresses;
import verticles.common.BusHeaders;
import verticles.common.Config;
import verticles.common.Failure;
import verticles.common.ServiceFailure;
import verticles.common.TaskTypes;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image worker against a real local HTTP server (127.0.0.1 only): it measures every format
 * exactly, follows a few redirects and no more, refuses what is not an image or too big without
 * reading it all, tells retryable trouble from permanent failure, and never contacts an address
 * the outbound policy refuses.
 */
@ExtendWith(VertxExtension.class)
class ImageWorkerTest {

  private static final int MAX_BYTES = 64 * 1024;
  private static final long MAX_PIXELS = 1_000_000;
  private static final long READ_TIMEOUT_MS = 500;
  /** The time a task handler is given (the dispatcher's x-timeout-ms), unless a test says otherwise. */
  private static final long TASK_TIMEOUT_MS = 10_000;

  /** What the server serves as images: path → bytes, with their sizes. */
  private record Served(byte[] bytes, String format, int width, int height) {
  }

  private static final Map<String, Served> IMAGES = Map.of(
    "/a.png", new Served(TestImages.image("png", 37, 23), "png", 37, 23),
    "/b.jpg", new Served(TestImages.image("jpeg", 64, 48), "jpeg", 64, 48),
    "/c.gif", new Served(TestImages.image("gif", 15, 91), "gif", 15, 91),
    "/d.bmp", new Served(TestImages.image("bmp", 33, 17), "bmp", 33, 17),
    "/e.webp", new Served(TestImages.WEBP_LOSSY_37x23, "webp", 37, 23),
    "/f.webp", new Served(TestImages.WEBP_LOSSLESS_41x19, "webp", 41, 19));

  /** Requests the HTTP server saw, by path. */
  private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
  /** Connections the raw TCP server accepted (it hangs up at once). */
  private final AtomicInteger rawConnections = new AtomicInteger();
  private Vertx vertx;
  private int port;
  private int rawPort;

  @BeforeEach
  void startServers(Vertx vertx, VertxTestContext test) {
    this.vertx = vertx;
    ServiceFailure.registerCodec(vertx.eventBus());
    NetServer raw = vertx.createNetServer().connectHandler(socket -> {
      rawConnections.incrementAndGet();
      socket.close();
    });
    vertx.createHttpServer().requestHandler(this::serve).listen(0, "127.0.0.1")
      .compose(http -> {
        port = http.actualPort();
        return raw.listen(0, "127.0.0.1");
      })
      .onComplete(test.succeeding(listening -> {
        rawPort = listening.actualPort();
        test.completeNow();
      }));
  }

  private void serve(HttpServerRequest request) {
    String path = request.path();
    requests.computeIfAbsent(path, ignored -> new AtomicInteger()).incrementAndGet();
    HttpServerResponse response = request.response();
    Served image = IMAGES.get(path);
    if (image != null) {
      response.putHeader("Content-Type", "image/" + image.format()).end(Buffer.buffer(image.bytes()));
    } else if (path.startsWith("/hop/")) {
      // /hop/3 redirects three times (relatively) before the image.
      int left = Integer.parseInt(path.substring("/hop/".length()));
      if (left == 0) {
        response.putHeader("Content-Type", "image/png").end(Buffer.buffer(IMAGES.get("/a.png").bytes()));
      } else {
        response.setStatusCode(302).putHeader("Location", "/hop/" + (left - 1)).end();
      }
    } else {
      switch (path) {
        case "/moved" -> response.setStatusCode(301).putHeader("Location", "http://127.0.0.1:" + port + "/b.jpg").end();
        case "/loop" -> response.setStatusCode(302).putHeader("Location", "/loop").end();
        case "/to-metadata" -> response.setStatusCode(302).putHeader("Location", "http://169.254.169.254/latest/meta-data/").end();
        case "/missing.png" -> response.setStatusCode(404).end("no such image");
        case "/secret.png" -> response.setStatusCode(403).end("forbidden");
        case "/boom.png" -> response.setStatusCode(500).end("broken");
        case "/busy.png" -> response.setStatusCode(429).end("slow down");
        case "/unavailable.png" -> response.setStatusCode(503).end("later");
        case "/fake.png" -> response.putHeader("Content-Type", "image/png").end("<html>this is not a picture</html>");
        case "/bomb.png" -> response.putHeader("Content-Type", "image/png").end(Buffer.buffer(TestImages.pngHeaderOnly(100_000, 100_000)));
        case "/slow.png" -> vertx.setTimer(6 * READ_TIMEOUT_MS, id -> {
          if (!response.closed()) {
            response.end(Buffer.buffer(IMAGES.get("/a.png").bytes()));
          }
        });
        case "/huge.png" -> response.putHeader("Content-Type", "image/png").putHeader("Content-Length", "10737418240")
          .write(Buffer.buffer(IMAGES.get("/a.png").bytes()));
        case "/endless.png" -> stream(vertx, response, 8192, 5);
        case "/drip.png" -> stream(vertx, response, 1, 50);
        default -> response.setStatusCode(404).end();
      }
    }
  }

  /** A 200 that never ends: {@code size} bytes every {@code everyMs} ms, chunked, until the client hangs up. */
  private static void stream(Vertx vertx, HttpServerResponse response, int size, long everyMs) {
    response.setChunked(true).putHeader("Content-Type", "image/png");
    Buffer chunk = Buffer.buffer(new byte[size]);
    long timer = vertx.setPeriodic(everyMs, id -> {
      if (!response.closed() && !response.writeQueueFull()) {
        response.write(chunk);
      }
    });
    response.closeHandler(closed -> vertx.cancelTimer(timer));
  }

  private static JsonObject config(String allowlist) {
    return new JsonObject().put(Config.OUTBOUND_ALLOWLIST, allowlist).put(Config.NODE_NAME, "image-test")
      .put(Config.IMAGE_MAX_BYTES, MAX_BYTES).put(Config.IMAGE_MAX_PIXELS, MAX_PIXELS)
      .put(Config.IMAGE_READ_TIMEOUT_MS, READ_TIMEOUT_MS).put(Config.HEALTH_TIMEOUT_MS, 2000);
  }

  /** As Node deploys it: worker threading, several instances. */
  private static Future<String> deploy(Vertx vertx, JsonObject config, int instances) {
    return vertx.deployVerticle(ImageWorkerVerticle::new, new DeploymentOptions().setConfig(config)
      .setThreadingModel(ThreadingModel.WORKER).setInstances(instances));
  }

  private static Future<String> deploy(Vertx vertx) {
    return deploy(vertx, config("127.0.0.1/32"), 2);
  }

  /** Delivers a task as the dispatcher does; the reply's body. */
  private static Future<JsonObject> measure(Vertx vertx, String type, JsonObject payload, long timeoutMs) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs + 5_000)
      .addHeader(BusHeaders.TASK_ID, "7").addHeader(BusHeaders.ATTEMPT, "1")
      .addHeader(BusHeaders.TIMEOUT_MS, String.valueOf(timeoutMs));
    return vertx.eventBus().<JsonObject>request(Addresses.Tasks.handler(type), payload, options).map(Message::body);
  }

  private Future<JsonObject> measure(Vertx vertx, String path) {
    return measure(vertx, TaskTypes.IMAGE_PERIMETER, new JsonObject().put("url", url(path)).put("image_id", 1), TASK_TIMEOUT_MS);
  }

  private String url(String path) {
    return "http://127.0.0.1:" + port + path;
  }

  private int requestsTo(String path) {
    return requests.getOrDefault(path, new AtomicInteger()).get();
  }

  /** The task failed with {@code expected}, retryable as that kind is, with a message containing {@code words}. */
  private static void assertFailure(Failure expected, String words, Throwable error) {
    assertEquals(expected, Failure.of(error), error.getMessage());
    assertEquals(expected.retryable, Failure.of(error).retryable);
    assertTrue(error.getMessage().contains(words), error.getMessage());
  }

  /** Polls {@code condition} every 20 ms for up to {@code withinMs}. */
  private static Future<Void> eventually(Vertx vertx, BooleanSupplier condition, long withinMs) {
    Promise<Void> done = Promise.promise();
    long until = System.currentTimeMillis() + withinMs;
    vertx.setPeriodic(20, id -> {
      if (condition.getAsBoolean()) {
        vertx.cancelTimer(id);
        done.tryComplete();
      } else if (System.currentTimeMillis() > until) {
        vertx.cancelTimer(id);
        done.tryFail("condition not met within " + withinMs + " ms");
      }
    });
    return done.future();
  }

  @Test
  void everyFormatIsMeasuredExactly(Vertx vertx, VertxTestContext test) {
    deploy(vertx).compose(deployed -> {
      List<Future<JsonObject>> replies = new ArrayList<>();
      List<String> paths = new ArrayList<>(IMAGES.keySet());
      paths.forEach(path -> replies.add(measure(vertx, path)));
      return Future.all(replies).map(all -> {
        for (int i = 0; i < paths.size(); i++) {
          Served image = IMAGES.get(paths.get(i));
          JsonObject expected = new JsonObject().put("width", image.width()).put("height", image.height())
            .put("perimeter", 2L * (image.width() + image.height())).put("format", image.format())
            .put("bytes", image.bytes().length);
          assertEquals(expected, replies.get(i).result(), paths.get(i));
        }
        return paths.size();
      });
    }).onComplete(test.succeeding(measured -> test.verify(() -> {
      assertEquals(6, measured);
      test.completeNow();
    })));
  }

  @Test
  void productImagesAreMeasuredByTheSameHandler(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, TaskTypes.PRODUCT_IMAGE, new JsonObject().put("url", url("/d.bmp")).put("product_id", 5), TASK_TIMEOUT_MS))
      .onComplete(test.succeeding(reply -> test.verify(() -> {
        assertEquals(2L * (33 + 17), reply.getLong("perimeter"));
        assertEquals("bmp", reply.getString("format"));
        test.completeNow();
      })));
  }

  @Test
  void upToThreeRedirectsAreFollowedRelativeOrAbsolute(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/hop/3"))
      .compose(threeHops -> {
        test.verify(() -> {
          assertEquals(120L, threeHops.getLong("perimeter"));
          assertEquals(1, requestsTo("/hop/0"), "the last hop was reached");
        });
        return measure(vertx, "/moved");
      })
      .onComplete(test.succeeding(moved -> test.verify(() -> {
        assertEquals(2L * (64 + 48), moved.getLong("perimeter"));
        assertEquals(1, requestsTo("/b.jpg"));
        test.completeNow();
      })));
  }

  @Test
  void aFourthRedirectFailsForGood(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/hop/4"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "more than 3 redirects", error);
        assertEquals(0, requestsTo("/hop/0"), "the fourth redirect was not followed");
        test.completeNow();
      })));
  }

  @Test
  void aRedirectLoopEndsAfterThreeRedirects(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/loop"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "more than 3 redirects", error);
        assertEquals(4, requestsTo("/loop"), "the first request and three redirects");
        test.completeNow();
      })));
  }

  @Test
  void aRedirectToTheCloudMetadataAddressIsRefused(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/to-metadata"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.FORBIDDEN, "169.254.169.254", error);
        test.completeNow();
      })));
  }

  @Test
  void withAnEmptyAllowListALocalServerIsRefusedWithoutBeingContacted(Vertx vertx, VertxTestContext test) {
    var refused = test.checkpoint(2);
    deploy(vertx, config(""), 2).onComplete(test.succeeding(deployed -> {
      measure(vertx, "/a.png").onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.FORBIDDEN, "127.0.0.1", error);
        assertEquals(0, requestsTo("/a.png"), "the HTTP server saw no request");
        refused.flag();
      })));
      String rawUrl = "http://127.0.0.1:" + rawPort + "/a.png";
      measure(vertx, TaskTypes.IMAGE_PERIMETER, new JsonObject().put("url", rawUrl), TASK_TIMEOUT_MS)
        .onComplete(test.failing(error -> test.verify(() -> {
          assertFailure(Failure.FORBIDDEN, "loopback", error);
          assertEquals(0, rawConnections.get(), "no TCP connection was made");
          refused.flag();
        })));
    }));
  }

  @Test
  void aServerThatHangsUpIsRetried(Vertx vertx, VertxTestContext test) {
    // Also shows that the connection counter above counts: allowed, the same server is contacted.
    String rawUrl = "http://127.0.0.1:" + rawPort + "/a.png";
    deploy(vertx)
      .compose(deployed -> measure(vertx, TaskTypes.IMAGE_PERIMETER, new JsonObject().put("url", rawUrl), TASK_TIMEOUT_MS))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.UNAVAILABLE, "127.0.0.1", error);
        eventually(vertx, () -> rawConnections.get() >= 1, 2000).onComplete(test.succeedingThenComplete());
      })));
  }

  @Test
  void aRefusedConnectionIsRetried(Vertx vertx, VertxTestContext test) {
    NetServer closed = vertx.createNetServer().connectHandler(socket -> socket.close());
    closed.listen(0, "127.0.0.1")
      .compose(listening -> closed.close().map(listening.actualPort()))
      .compose(freePort -> deploy(vertx).compose(deployed -> measure(vertx, TaskTypes.IMAGE_PERIMETER,
        new JsonObject().put("url", "http://127.0.0.1:" + freePort + "/a.png"), TASK_TIMEOUT_MS)))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.UNAVAILABLE, "cannot connect", error);
        test.completeNow();
      })));
  }

  @Test
  void clientErrorsFailForGood(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/missing.png").otherwise(error -> {
        test.verify(() -> assertFailure(Failure.VALIDATION, "answered 404", error));
        return null;
      }))
      .compose(ignored -> measure(vertx, "/secret.png"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "answered 403", error);
        test.completeNow();
      })));
  }

  @Test
  void serverErrorsAndTooManyRequestsAreRetried(Vertx vertx, VertxTestContext test) {
    var retried = test.checkpoint(3);
    deploy(vertx).onComplete(test.succeeding(deployed -> {
      Map.of("/boom.png", 500, "/busy.png", 429, "/unavailable.png", 503).forEach((path, status) ->
        measure(vertx, path).onComplete(test.failing(error -> test.verify(() -> {
          assertFailure(Failure.UNAVAILABLE, "answered " + status, error);
          retried.flag();
        }))));
    }));
  }

  @Test
  void aServerThatSendsNothingTimesOutRetryably(Vertx vertx, VertxTestContext test) {
    deploy(vertx).onComplete(test.succeeding(deployed -> {
      long began = System.nanoTime();
      measure(vertx, "/slow.png").onComplete(test.failing(error -> test.verify(() -> {
        long tookMs = (System.nanoTime() - began) / 1_000_000;
        assertFailure(Failure.UNAVAILABLE, "nothing within " + READ_TIMEOUT_MS + " ms", error);
        assertTrue(tookMs < 2_500, "the read timeout, not the server, ended it: " + tookMs + " ms");
        test.completeNow();
      })));
    }));
  }

  @Test
  void aServerThatDripsForeverIsCutOffAtTheTasksDeadline(Vertx vertx, VertxTestContext test) {
    // A byte every 50 ms is never silent for the read timeout; the deadline (the task's time) ends it.
    deploy(vertx).onComplete(test.succeeding(deployed -> {
      long began = System.nanoTime();
      measure(vertx, TaskTypes.IMAGE_PERIMETER, new JsonObject().put("url", url("/drip.png")), 1500)
        .onComplete(test.failing(error -> test.verify(() -> {
          long tookMs = (System.nanoTime() - began) / 1_000_000;
          assertFailure(Failure.UNAVAILABLE, "within 1500 ms", error);
          assertTrue(tookMs >= 1400 && tookMs < 4000, tookMs + " ms");
          test.completeNow();
        })));
    }));
  }

  @Test
  void somethingThatIsNotAnImageFailsForGood(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/fake.png"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "not an image", error);
        test.completeNow();
      })));
  }

  @Test
  void aBodyDeclaredTooLargeIsRefusedBeforeItIsRead(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/huge.png"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "10737418240 bytes, more than the " + MAX_BYTES, error);
        test.completeNow();
      })));
  }

  @Test
  void anEndlessBodyIsCutOffAtTheByteCap(Vertx vertx, VertxTestContext test) {
    deploy(vertx).onComplete(test.succeeding(deployed -> {
      long began = System.nanoTime();
      measure(vertx, "/endless.png").onComplete(test.failing(error -> test.verify(() -> {
        long tookMs = (System.nanoTime() - began) / 1_000_000;
        assertFailure(Failure.VALIDATION, "more than the " + MAX_BYTES + " bytes", error);
        assertTrue(tookMs < TASK_TIMEOUT_MS / 2, "stopped at the cap, not at the deadline: " + tookMs + " ms");
        test.completeNow();
      })));
    }));
  }

  @Test
  void aDecompressionBombIsRefusedForItsPixels(Vertx vertx, VertxTestContext test) {
    deploy(vertx)
      .compose(deployed -> measure(vertx, "/bomb.png"))
      .onComplete(test.failing(error -> test.verify(() -> {
        assertFailure(Failure.VALIDATION, "10000000000 pixels", error);
        test.completeNow();
      })));
  }

  @Test
  void aTaskWithoutAnHttpUrlFailsForGood(Vertx vertx, VertxTestContext test) {
    var refused = test.checkpoint(4);
    deploy(vertx).onComplete(test.succeeding(deployed -> {
      for (JsonObject payload : List.of(new JsonObject(), new JsonObject().put("url", 42),
        new JsonObject().put("url", "ftp://127.0.0.1:" + port + "/a.png"), new JsonObject().put("url", "http://exa mple.com/"))) {
        measure(vertx, TaskTypes.IMAGE_PERIMETER, payload, TASK_TIMEOUT_MS).onComplete(test.failing(error -> test.verify(() -> {
          assertFailure(Failure.VALIDATION, "url", error);
          refused.flag();
        })));
      }
    }));
  }

  @Test
  void simulatedProcessingDelaysEachAnswerWithoutHoldingAThread(Vertx vertx, VertxTestContext test) {
    JsonObject config = config("127.0.0.1/32").put(Config.RETAIL_SIMULATED_PROCESSING_MS, new JsonObject().put("min", 400).put("max", 400));
    // One instance: were the pause a sleep on its thread, three tasks would take 1.2 s one after the other.
    deploy(vertx, config, 1).onComplete(test.succeeding(deployed -> {
      long began = System.nanoTime();
      List<Future<JsonObject>> replies = List.of(measure(vertx, "/a.png"), measure(vertx, "/b.jpg"), measure(vertx, "/c.gif"));
      List<Long> tookMs = new CopyOnWriteArrayList<>();
      replies.forEach(reply -> reply.onSuccess(ignored -> tookMs.add((System.nanoTime() - began) / 1_000_000)));
      Future.all(replies).onComplete(test.succeeding(all -> test.verify(() -> {
        assertEquals(3, tookMs.size());
        tookMs.forEach(ms -> assertTrue(ms >= 400, "paused: " + tookMs));
        assertTrue(tookMs.stream().allMatch(ms -> ms < 1_100), "in parallel: " + tookMs);
        test.completeNow();
      })));
    }));
  }
}
