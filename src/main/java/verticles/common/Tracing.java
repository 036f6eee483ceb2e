package verticles.common;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Supplier;

/**
 * The traces of a node's work that Vert.x does not see by itself: a task runs long after the
 * request that submitted it, so the request's trace context is written down with the task (a W3C
 * {@code traceparent}) and its execution is traced as a child of it. Everything here does nothing
 * when the node traces nothing (no OTEL_EXPORTER_OTLP_ENDPOINT).
 */
public final class Tracing {

  private static final Map<Vertx, OpenTelemetry> NODES = Collections.synchronizedMap(new WeakHashMap<>());
  private static final String TRACEPARENT = "traceparent";
  private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Map<String, String> carrier) {
      return carrier.keySet();
    }

    @Override
    public String get(Map<String, String> carrier, String key) {
      return carrier == null ? null : carrier.get(key);
    }
  };

  private Tracing() {
  }

  /** The node of {@code vertx} traces with {@code telemetry} (set once, when it starts). */
  public static void register(Vertx vertx, OpenTelemetry telemetry) {
    NODES.put(vertx, telemetry);
  }

  /** The current span's context as a W3C traceparent, or null when nothing is traced here. */
  public static String current() {
    Span span = Span.current();
    if (!span.getSpanContext().isValid()) {
      return null;
    }
    Map<String, String> carrier = new HashMap<>();
    W3CTraceContextPropagator.getInstance().inject(Context.current(), carrier, Map::put);
    return carrier.get(TRACEPARENT);
  }

  /**
   * Runs {@code work} inside a span named {@code name}, a child of {@code traceparent}: whatever
   * it sends on the bus, and the SQL and Redis calls of the handlers, join that trace. The span
   * ends when the work's future does, marked as an error if it failed. Without a traceparent, or
   * when the node traces nothing, it simply runs the work.
   */
  public static <T> Future<T> inSpan(Vertx vertx, String traceparent, String name, Map<String, String> attributes,
                                     Supplier<Future<T>> work) {
    OpenTelemetry telemetry = traceparent == null ? null : NODES.get(vertx);
    if (telemetry == null) {
      return work.get();
    }
    Context parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), Map.of(TRACEPARENT, traceparent), GETTER);
    SpanBuilder builder = telemetry.getTracer("pulse").spanBuilder(name).setParent(parent).setSpanKind(SpanKind.INTERNAL);
    attributes.forEach(builder::setAttribute);
    Span span = builder.startSpan();
    // A context of its own, so the span is active for this work alone (Vert.x reads it from the context).
    ContextInternal context = ((ContextInternal) vertx.getOrCreateContext()).duplicate();
    Promise<T> done = Promise.promise();
    context.runOnContext(ignored -> {
      try (Scope scope = parent.with(span).makeCurrent()) {
        work.get().onComplete(done);
      } catch (RuntimeException e) {
        done.tryFail(e);
      }
    });
    return done.future().andThen(result -> {
      if (result.failed()) {
        span.setStatus(StatusCode.ERROR, result.cause().getClass().getSimpleName());
        span.recordException(result.cause());
      }
      span.end();
    });
  }
}
