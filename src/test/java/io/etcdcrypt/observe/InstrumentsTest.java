package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.PrometheusText;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Micrometer meters under upstream's names: what Micrometer would otherwise add or round is not in
 * the exposition.
 */
class InstrumentsTest {

  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Instruments instruments = new Instruments(registry);

  private PrometheusText.Exposition scrape() {
    return PrometheusText.parse(instruments.withoutMaxGauges(registry.scrape()));
  }

  @Test
  void durationsUnderASecondLandInTheirOwnBuckets() {
    Instruments.Family<Timer> h =
        instruments.histogram(
            "x_duration_seconds", "X.", MetricNames.kmsOperationBuckets(), "method");
    h.labelValues("Decrypt").record(123_456, TimeUnit.NANOSECONDS); // 0.000123456 s
    h.labelValues("Decrypt").record(3_000_000_000L, TimeUnit.NANOSECONDS);
    PrometheusText.Exposition m = scrape();
    assertEquals(0, m.value("x_duration_seconds_bucket", "method", "Decrypt", "le", "1.0E-4"));
    assertEquals(1, m.value("x_duration_seconds_bucket", "method", "Decrypt", "le", "2.0E-4"));
    assertEquals(1, m.value("x_duration_seconds_bucket", "method", "Decrypt", "le", "1.6384"));
    assertEquals(2, m.value("x_duration_seconds_bucket", "method", "Decrypt", "le", "3.2768"));
    assertEquals(2, m.value("x_duration_seconds_count", "method", "Decrypt"));
    assertEquals(3.000123456, m.value("x_duration_seconds_sum", "method", "Decrypt"));
    assertEquals("histogram", m.family("x_duration_seconds").type());
  }

  @Test
  void onlyTheMaxGaugesOfTheseHistogramsAreDropped() {
    instruments
        .histogram("x_duration_seconds", "X.", new double[] {0.5})
        .labelValues()
        .record(1, TimeUnit.SECONDS);
    // Any other meter's _max, e.g. the JVM binders' jvm_gc_pause_seconds_max, stays.
    Timer.builder("other_seconds").register(registry).record(2, TimeUnit.SECONDS);
    assertTrue(registry.scrape().contains("x_duration_seconds_max"), "Micrometer adds it");
    PrometheusText.Exposition m = scrape();
    assertFalse(m.has("x_duration_seconds_max"));
    assertTrue(m.has("x_duration_seconds"));
    assertEquals(2.0, m.value("other_seconds_max"));
  }

  @Test
  void countersKeepTheirNamesAndLabelSetsCanBeRemoved() {
    Instruments.Family<io.micrometer.core.instrument.Counter> c =
        instruments.counter("y_total", "Y.", "k");
    c.labelValues("a").increment();
    c.labelValues("b").increment(2);
    c.remove("a");
    PrometheusText.Exposition m = scrape();
    assertEquals(1, m.samples("y_total").size());
    assertEquals(2, m.value("y_total", "k", "b"));
    c.labelValues("a").increment();
    assertEquals(1, scrape().value("y_total", "k", "a"), "a removed series starts again from zero");
  }

  @Test
  void unlabelledMetricsHaveTheirSeriesFromTheStart() {
    instruments.counter("z_total", "Z.");
    instruments.gauge("g", "G.").labelValues().set(0.25);
    instruments.histogram("h_seconds", "H.", new double[] {1});
    PrometheusText.Exposition m = scrape();
    assertEquals(0, m.value("z_total"));
    assertEquals(0.25, m.value("g"));
    assertEquals(0, m.value("h_seconds_count"));
  }

  @Test
  void histogramsRefuseWhatTheExpositionCouldNotShowAsGiven() {
    assertThrows(
        IllegalArgumentException.class,
        () -> instruments.histogram("latency", "L.", new double[] {1}));
    assertThrows(
        IllegalArgumentException.class,
        () -> instruments.histogram("l_seconds", "L.", new double[] {1.5e-10}));
  }
}
