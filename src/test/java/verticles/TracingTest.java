package verticles;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import verticles.common.Config;
import verticles.support.Api;
import verticles.support.TestServers;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Traces, with an in-memory exporter in place of OTLP: one request is one connected trace from
 * the HTTP edge over the bus to the service and its SQL; a task runs, later, in the trace of the
 * request that submitted it; failures are marked; no secret reaches an attribute.
 */
class TracingTest {

  private static final String PASSWORD = "traced-password-7781";
  private static final InMemorySpanExporter SPANS = InMemorySpanExporter.create();
  private static Node node;
  private static Api api;

  @BeforeAll
  static void start() throws Exception {
    OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
      .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(SPANS)).build())
      .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
      .build();
    Config config = TestServers.config(Map.of(Config.DATABASE_URL, TestServers.freshDatabase()));
    node = Node.start(config, sdk).toCompletionStage().toCompletableFuture().get(90, TimeUnit.SECONDS);
    api = new Api(config.integer(Config.HTTP_PORT));
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.stop().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void oneRequestIsOneConnectedTraceFromTheEdgeOverTheBusToTheSql() {
    Api.Reply reply = api.post("/api/v1/auth/register", new JsonObject().put("username", "tracy").put("email", "tracy@example.com")
      .put("password", PASSWORD), null);
    assertEquals(201, reply.status, reply.toString());
    SpanData edge = awaitSpan("the HTTP span of the registration", span -> span.getKind() == SpanKind.SERVER
      && "/api/v1/auth/register".equals(span.getAttributes().get(AttributeKey.stringKey("url.path"))));
    List<SpanData> trace = awaitTrace(edge.getTraceId(), spans -> spans.stream().anyMatch(TracingTest::isSql));
    System.out.println("the registration's trace: " + describe(trace));

    Map<String, SpanData> byId = trace.stream().collect(Collectors.toMap(SpanData::getSpanId, span -> span));
    for (SpanData span : trace) {
      assertTrue(span == edge || byId.containsKey(span.getParentSpanId()), "connected: " + span.getName() + " has its parent in the trace");
    }
    SpanData received = trace.stream().filter(TracingTest::received)
      .filter(span -> span != edge && destination(span).startsWith("identity.")).findFirst()
      .orElseThrow(() -> new AssertionError("the identity service received it over the bus: " + describe(trace)));
    SpanData sql = trace.stream().filter(TracingTest::isSql).findFirst().orElseThrow();
    assertTrue(descendsFrom(sql, received, byId), "the SQL ran under the identity service's span: " + describe(trace));
    assertTrue(descendsFrom(received, edge, byId), "the identity service's span is under the HTTP request's");
    assertNoSecret(PASSWORD);
  }

  @Test
  void aTaskRunsInTheTraceOfTheRequestThatSubmittedIt() {
    api.post("/api/v1/auth/register", new JsonObject().put("username", "submitter").put("email", "submitter@example.com")
      .put("password", PASSWORD), null);
    String token = api.login("submitter", PASSWORD);
    Api.Reply submitted = api.post("/api/v1/tasks", new JsonObject().put("type", "noop").put("payload", new JsonObject().put("echo", 1)), token);
    assertEquals(201, submitted.status, submitted.toString());
    String id = String.valueOf(submitted.json().getLong("id"));
    SpanData execution = awaitSpan("the task's execution", span -> span.getName().equals("task noop")
      && id.equals(span.getAttributes().get(AttributeKey.stringKey("task.id"))));
    List<SpanData> trace = awaitTrace(execution.getTraceId(), spans -> spans.stream()
      .anyMatch(span -> destination(span).equals("task.noop") && received(span)));
    System.out.println("the submit's trace, with the task's execution: " + describe(trace));
    Map<String, SpanData> byId = trace.stream().collect(Collectors.toMap(SpanData::getSpanId, span -> span));
    SpanData edge = trace.stream().filter(span -> span.getKind() == SpanKind.SERVER
      && "/api/v1/tasks".equals(span.getAttributes().get(AttributeKey.stringKey("url.path")))).findFirst()
      .orElseThrow(() -> new AssertionError("the execution is in the trace of the POST that submitted it: " + describe(trace)));
    assertTrue(descendsFrom(execution, edge, byId), "the execution hangs under the submit");
    assertEquals(StatusCode.UNSET, execution.getStatus().getStatusCode(), "it succeeded");
    SpanData handler = trace.stream().filter(span -> destination(span).equals("task.noop") && received(span))
      .findFirst().orElseThrow();
    assertTrue(descendsFrom(handler, execution, byId), "the handler's span hangs under the execution");
    assertNoSecret(token);
    assertNoSecret(PASSWORD);
  }

  @Test
  void aFailedTaskAndAFailedRequestAreMarkedAsErrorsAndNoQueryStringIsKept() {
    api.post("/api/v1/auth/register", new JsonObject().put("username", "failing").put("email", "failing@example.com")
      .put("password", PASSWORD), null);
    String token = api.login("failing", PASSWORD);
    assertEquals(201, api.post("/api/v1/tasks", new JsonObject().put("type", "noop")
      .put("payload", new JsonObject().put("fail", "permanent")), token).status);
    SpanData failed = awaitSpan("the failed execution", span -> span.getName().equals("task noop")
      && span.getStatus().getStatusCode() == StatusCode.ERROR);
    List<SpanData> trace = awaitTrace(failed.getTraceId(), spans -> spans.stream()
      .anyMatch(span -> destination(span).equals("task.noop") && sent(span)));
    SpanData send = trace.stream().filter(span -> destination(span).equals("task.noop") && sent(span))
      .findFirst().orElseThrow();
    assertEquals(StatusCode.ERROR, send.getStatus().getStatusCode(), "the delivery that was answered with a failure: " + describe(trace));

    assertEquals(401, api.post("/api/v1/auth/login", new JsonObject().put("username", "failing").put("password", "wrong-" + PASSWORD),
      null).status);
    api.get("/health/live?ticket=hunter2-ticket&access_token=hunter2-token", null);
    awaitSpan("the GET with a query string", span -> span.getKind() == SpanKind.SERVER
      && "/health/live".equals(span.getAttributes().get(AttributeKey.stringKey("url.path"))));
    assertNoSecret("hunter2");
    assertNoSecret("wrong-" + PASSWORD);
  }

  /** A bus message as its receiver saw it: SERVER for a request, CONSUMER for a send or publish. */
  private static boolean received(SpanData span) {
    return !destination(span).isEmpty() && (span.getKind() == SpanKind.SERVER || span.getKind() == SpanKind.CONSUMER);
  }

  private static boolean sent(SpanData span) {
    return !destination(span).isEmpty() && (span.getKind() == SpanKind.CLIENT || span.getKind() == SpanKind.PRODUCER);
  }

  @Test
  void withAnEndpointSetTheSpansGoOutOverOtlp() throws Exception {
    io.vertx.core.Vertx receiver = io.vertx.core.Vertx.vertx();
    java.util.concurrent.ConcurrentLinkedQueue<String> posts = new java.util.concurrent.ConcurrentLinkedQueue<>();
    try {
      int port = receiver.createHttpServer().requestHandler(request -> request.body().onSuccess(body -> {
        posts.add(request.method() + " " + request.path() + " " + request.getHeader("Content-Type") + " " + body.length());
        request.response().setStatusCode(200).end();
      })).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
      Config config = TestServers.config(Map.of(Config.ROLES, "http", Config.OTEL_EXPORTER_OTLP_ENDPOINT, "http://127.0.0.1:" + port,
        Config.OTEL_SERVICE_NAME, "pulse-test"));
      Node traced = Node.start(config).toCompletionStage().toCompletableFuture().get(90, TimeUnit.SECONDS);
      try {
        new Api(config.integer(Config.HTTP_PORT)).get("/health/live", null);
        TestServers.await("spans posted to the OTLP endpoint", Duration.ofSeconds(30), () -> !posts.isEmpty());
        System.out.println("OTLP receiver got: " + posts);
        assertTrue(posts.peek().startsWith("POST /v1/traces application/x-protobuf"), posts.toString());
      } finally {
        traced.stop().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    } finally {
      receiver.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  private static boolean isSql(SpanData span) {
    String system = span.getAttributes().get(AttributeKey.stringKey("db.system"));
    return system != null && system.startsWith("postgres");
  }

  private static String destination(SpanData span) {
    String name = span.getAttributes().get(AttributeKey.stringKey("messaging.destination.name"));
    return name == null ? "" : name;
  }

  private static boolean descendsFrom(SpanData span, SpanData ancestor, Map<String, SpanData> byId) {
    for (SpanData at = span; at != null; at = byId.get(at.getParentSpanId())) {
      if (at.getSpanId().equals(ancestor.getSpanId())) {
        return true;
      }
    }
    return false;
  }

  private static SpanData awaitSpan(String what, java.util.function.Predicate<SpanData> matches) {
    TestServers.await(what, Duration.ofSeconds(20), () -> SPANS.getFinishedSpanItems().stream().anyMatch(matches));
    return SPANS.getFinishedSpanItems().stream().filter(matches).reduce((first, second) -> second).orElseThrow();
  }

  private static List<SpanData> awaitTrace(String traceId, java.util.function.Predicate<List<SpanData>> complete) {
    TestServers.await("the trace " + traceId, Duration.ofSeconds(20), () -> complete.test(trace(traceId)));
    return trace(traceId);
  }

  private static List<SpanData> trace(String traceId) {
    return SPANS.getFinishedSpanItems().stream().filter(span -> span.getTraceId().equals(traceId)).collect(Collectors.toList());
  }

  /** No attribute of any span, nor of any of its events, holds {@code secret}. */
  private static void assertNoSecret(String secret) {
    for (SpanData span : SPANS.getFinishedSpanItems()) {
      Map<String, String> attributes = new HashMap<>();
      span.getAttributes().forEach((key, value) -> attributes.put(key.getKey(), String.valueOf(value)));
      span.getEvents().forEach(event -> event.getAttributes().forEach((key, value) -> attributes.put("event." + key.getKey(), String.valueOf(value))));
      Optional<Map.Entry<String, String>> leak = attributes.entrySet().stream().filter(entry -> entry.getValue().contains(secret)).findFirst();
      assertFalse(leak.isPresent(), "span " + span.getName() + " carries a secret in " + leak.map(Map.Entry::getKey).orElse(""));
      assertFalse(span.getName().contains(secret), "span name " + span.getName());
    }
  }

  private static String describe(List<SpanData> trace) {
    return trace.stream().map(span -> span.getKind() + " " + span.getName()
      + (destination(span).isEmpty() ? "" : " [" + destination(span) + "]") + (isSql(span) ? " [sql]" : "")
      + (span.getStatus().getStatusCode() == StatusCode.ERROR ? " ERROR" : "")).collect(Collectors.joining(", "));
  }
}
