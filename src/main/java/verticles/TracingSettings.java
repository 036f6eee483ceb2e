package verticles;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.vertx.core.Context;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.spi.VertxTracerFactory;
import io.vertx.core.spi.tracing.SpanKind;
import io.vertx.core.spi.tracing.TagExtractor;
import io.vertx.core.spi.tracing.VertxTracer;
import io.vertx.core.tracing.TracingPolicy;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;
import io.vertx.tracing.opentelemetry.Operation;
import verticles.common.Config;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * Tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; then OpenTelemetry through
 * vertx-opentelemetry (spans for HTTP, the bus, SQL and Redis, the W3C context carried in HTTP
 * and bus headers) exported over OTLP/HTTP to {@code <endpoint>/v1/traces}. Two things are added
 * to what vertx-opentelemetry does: a span that failed (an exception, a failed reply, an HTTP
 * status of 500 or more) is marked as an error, and no attribute carries a query string or the
 * user part of a URL, where a token or password could hide.
 */
final class TracingSettings {

  private static final Pattern BEARER = Pattern.compile("(?i)bearer\\s+\\S+");
  private static final Pattern USER_INFO = Pattern.compile("://[^/@?#]*@");

  /** A node's tracing: the SDK (closed with the node when it made it) and Vert.x's tracer over it. */
  record Setup(OpenTelemetry telemetry, VertxTracerFactory factory) {
  }

  private TracingSettings() {
  }

  /**
   * The node's tracing: over {@code given} when not null (tests bring an in-memory exporter),
   * else from the configuration; null when it traces nothing.
   */
  static Setup from(Config config, OpenTelemetry given) {
    if (given != null) {
      return new Setup(given, factory(given, null));
    }
    String endpoint = config.string(Config.OTEL_EXPORTER_OTLP_ENDPOINT);
    if (endpoint.isEmpty()) {
      return null;
    }
    URI uri;
    try {
      uri = URI.create(endpoint);
    } catch (IllegalArgumentException e) {
      uri = null;
    }
    if (uri == null || uri.getHost() == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
      || uri.getUserInfo() != null) {
      throw config.refuse(Config.OTEL_EXPORTER_OTLP_ENDPOINT, "an http:// or https:// URL of an OTLP receiver (such as http://jaeger:4318)");
    }
    String base = endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
    Resource resource = Resource.getDefault().merge(Resource.create(Attributes.of(
      AttributeKey.stringKey("service.name"), config.string(Config.OTEL_SERVICE_NAME),
      AttributeKey.stringKey("service.instance.id"), config.string(Config.NODE_NAME))));
    SdkTracerProvider provider = SdkTracerProvider.builder()
      .setResource(resource)
      .setSampler(Sampler.parentBased(Sampler.alwaysOn()))
      .addSpanProcessor(BatchSpanProcessor.builder(OtlpHttpSpanExporter.builder().setEndpoint(base + "/v1/traces").build()).build())
      .build();
    OpenTelemetrySdk sdk = OpenTelemetrySdk.builder()
      .setTracerProvider(provider)
      .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
      .build();
    return new Setup(sdk, factory(sdk, sdk));
  }

  @SuppressWarnings("unchecked")
  private static VertxTracerFactory factory(OpenTelemetry telemetry, OpenTelemetrySdk owned) {
    OpenTelemetryTracingFactory spans = new OpenTelemetryTracingFactory(telemetry);
    return options -> new MarkingTracer((VertxTracer<Operation, Operation>) spans.tracer(options), owned);
  }

  /** vertx-opentelemetry's tracer, with failures marked as errors and attributes made safe. */
  private static final class MarkingTracer implements VertxTracer<Operation, Operation> {

    private final VertxTracer<Operation, Operation> spans;
    private final OpenTelemetrySdk owned;

    MarkingTracer(VertxTracer<Operation, Operation> spans, OpenTelemetrySdk owned) {
      this.spans = spans;
      this.owned = owned;
    }

    @Override
    public <R> Operation receiveRequest(Context context, SpanKind kind, TracingPolicy policy, R request, String operation,
                                        Iterable<Map.Entry<String, String>> headers, TagExtractor<R> tags) {
      return spans.receiveRequest(context, kind, policy, request, operation, headers, new SafeTags<>(tags));
    }

    @Override
    public <R> void sendResponse(Context context, R response, Operation operation, Throwable failure, TagExtractor<R> tags) {
      mark(operation, response, failure, tags);
      spans.sendResponse(context, response, operation, failure, new SafeTags<>(tags));
    }

    @Override
    public <R> Operation sendRequest(Context context, SpanKind kind, TracingPolicy policy, R request, String operation,
                                     BiConsumer<String, String> headers, TagExtractor<R> tags) {
      return spans.sendRequest(context, kind, policy, request, operation, headers, new SafeTags<>(tags));
    }

    @Override
    public <R> void receiveResponse(Context context, R response, Operation operation, Throwable failure, TagExtractor<R> tags) {
      mark(operation, response, failure, tags);
      spans.receiveResponse(context, response, operation, failure, new SafeTags<>(tags));
    }

    @Override
    public void close() {
      spans.close();
      if (owned != null) {
        owned.close();
      }
    }

    private static <R> void mark(Operation operation, R response, Throwable failure, TagExtractor<R> tags) {
      if (operation == null) {
        return;
      }
      if (failure != null) {
        // A publish nobody listens to has failed nobody (events for a user who is not watching).
        boolean unheard = failure instanceof ReplyException reply && reply.failureType() == ReplyFailure.NO_HANDLERS
          && operation.span() instanceof ReadableSpan span && "publish".equals(span.getName());
        if (!unheard) {
          operation.span().setStatus(StatusCode.ERROR, failure.getClass().getSimpleName());
        }
        return;
      }
      if (response != null) {
        int len = tags.len(response);
        for (int i = 0; i < len; i++) {
          if (tags.name(response, i).endsWith("status_code") && status(tags.value(response, i)) >= 500) {
            operation.span().setStatus(StatusCode.ERROR, "HTTP " + tags.value(response, i));
          }
        }
      }
    }

    private static int status(String text) {
      try {
        return Integer.parseInt(text);
      } catch (NumberFormatException e) {
        return 0;
      }
    }
  }

  /**
   * Tags as Vert.x extracts them, less what could carry a credential: no query string (a URL's,
   * or url.query itself), no user part of a URL, no bearer token.
   */
  static final class SafeTags<R> implements TagExtractor<R> {

    private final TagExtractor<R> tags;

    SafeTags(TagExtractor<R> tags) {
      this.tags = tags;
    }

    @Override
    public int len(R obj) {
      return kept(obj).size();
    }

    @Override
    public String name(R obj, int index) {
      return tags.name(obj, kept(obj).get(index));
    }

    @Override
    public String value(R obj, int index) {
      return safe(tags.value(obj, kept(obj).get(index)));
    }

    private List<Integer> kept(R obj) {
      List<Integer> kept = new ArrayList<>();
      int len = tags.len(obj);
      for (int i = 0; i < len; i++) {
        if (!"url.query".equals(tags.name(obj, i))) {
          kept.add(i);
        }
      }
      return kept;
    }

    static String safe(String value) {
      if (value == null) {
        return null;
      }
      String safe = value;
      if (safe.contains("://")) {
        int query = safe.indexOf('?');
        if (query >= 0) {
          safe = safe.substring(0, query);
        }
        safe = USER_INFO.matcher(safe).replaceFirst("://");
      }
      return BEARER.matcher(safe).replaceAll("Bearer ***");
    }
  }
}
