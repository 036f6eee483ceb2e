package verticles;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;

import java.time.Duration;
import java.util.List;

/**
 * Histogram buckets for Vert.x's own timers, so that dashboards can draw latency percentiles
 * (histogram_quantile) per route and per pool: a fixed set of thirteen buckets per series, not
 * Micrometer's seventy, since HTTP series multiply by route, method and status. Pulse's own
 * timers (tasks, ledger) publish their histograms themselves.
 */
final class MetricsSettings {

  /** Vert.x timers that get the buckets: HTTP answers per route, waits for and time holding a pooled connection. */
  private static final List<String> TIMERS = List.of("vertx.http.server.response.time", "vertx.http.client.response.time",
    "vertx.pool.queue.time", "vertx.pool.usage");
  private static final double[] BUCKETS = seconds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);

  private MetricsSettings() {
  }

  static void histograms(MeterRegistry registry) {
    registry.config().meterFilter(new MeterFilter() {
      @Override
      public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
        if (!TIMERS.contains(id.getName())) {
          return config;
        }
        return DistributionStatisticConfig.builder().serviceLevelObjectives(BUCKETS).build().merge(config);
      }
    });
  }

  /** Seconds as the nanoseconds Micrometer's timers count in. */
  private static double[] seconds(double... values) {
    double[] nanos = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      nanos[i] = Duration.ofNanos((long) (values[i] * 1e9)).toNanos();
    }
    return nanos;
  }
}
