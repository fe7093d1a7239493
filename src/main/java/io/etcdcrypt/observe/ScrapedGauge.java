package io.etcdcrypt.observe;

import io.etcdcrypt.observe.Instruments.Family;
import io.etcdcrypt.observe.Instruments.SettableGauge;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A gauge of one label whose series are read from their source at each scrape (state that the proxy
 * does not push: readiness checks, plugin health, etcd members). A label value the source no longer
 * reports is removed, so a provider dropped by a reload does not linger as a stale series.
 */
final class ScrapedGauge {

  private final Family<SettableGauge> family;
  private final Supplier<Map<String, Double>> source;
  private Set<String> shown = Set.of();

  ScrapedGauge(Family<SettableGauge> family, Supplier<Map<String, Double>> source) {
    this.family = family;
    this.source = source;
  }

  /** 1 for true, 0 for false, as Prometheus' health gauges ({@code up}) have it. */
  static double of(boolean ok) {
    return ok ? 1 : 0;
  }

  synchronized void refresh() {
    Map<String, Double> now = source.get();
    now.forEach((label, value) -> family.labelValues(label).set(value));
    for (String gone : shown) {
      if (!now.containsKey(gone)) {
        family.remove(gone);
      }
    }
    shown = new HashSet<>(now.keySet());
  }
}
