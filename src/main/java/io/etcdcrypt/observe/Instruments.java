package io.etcdcrypt.observe;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Registers metrics under exactly the given names, labels and bucket bounds. The Prometheus client is used
 * directly rather than through Micrometer, whose naming conventions rename meters (a {@code _seconds} suffix on
 * timers, an extra {@code _max} gauge) and cannot drop one label set of a meter. Histograms are classic only
 * (explicit buckets, no native histogram) and nothing samples exemplars.
 */
final class Instruments {

  private Instruments() {}

  /** A counter; the exposition shows {@code name} as given (which ends in {@code _total}). */
  static Counter counter(PrometheusRegistry registry, String name, String help, String... labels) {
    Counter.Builder b = Counter.builder().name(name).help(help).labelNames(labels);
    b.withoutExemplars();
    return b.register(registry);
  }

  static Gauge gauge(PrometheusRegistry registry, String name, String help, String... labels) {
    Gauge.Builder b = Gauge.builder().name(name).help(help).labelNames(labels);
    b.withoutExemplars();
    return b.register(registry);
  }

  static Histogram histogram(
      PrometheusRegistry registry, String name, String help, double[] upperBounds, String... labels) {
    Histogram.Builder b =
        Histogram.builder().name(name).help(help).labelNames(labels).classicUpperBounds(upperBounds).classicOnly();
    b.withoutExemplars();
    return b.register(registry);
  }
}
