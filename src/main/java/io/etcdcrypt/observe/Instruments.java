package io.etcdcrypt.observe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Registers metrics on a Micrometer registry under exactly the given names, labels and bucket
 * bounds, so that the Prometheus exposition shows what kube-apiserver and etcd show:
 *
 * <ul>
 *   <li>counters keep their {@code _total} names;
 *   <li>histograms are timers, whose names end in {@code _seconds} already (so Micrometer adds no
 *       second one), with the given bounds as their only buckets (service-level objectives, no
 *       percentile histogram) and no exemplars (the registry has no span context). They record
 *       whole nanoseconds; the exposition shows bounds and sums in seconds. A distribution summary
 *       would not do: it rounds each value up to a whole number for its buckets, so every duration
 *       under a second would land in the bucket {@code le="1"};
 *   <li>the {@code _max} gauge Micrometer adds to every distribution is dropped from the exposition
 *       ({@link #withoutMaxGauges}), since neither kube-apiserver nor etcd has one;
 *   <li>a family hands out one meter per label set ({@link Family#labelValues}), kept so that hot
 *       paths do not build meter ids, and can remove one ({@link Family#remove}).
 * </ul>
 */
final class Instruments {

  private final MeterRegistry registry;

  /** {@code <histogram>_max} for every histogram registered here. */
  private final Set<String> maxGauges = ConcurrentHashMap.newKeySet();

  Instruments(MeterRegistry registry) {
    this.registry = registry;
  }

  /** A counter; the exposition shows {@code name} as given (which ends in {@code _total}). */
  Family<Counter> counter(String name, String help, String... labels) {
    return new Family<>(
        registry,
        labels,
        tags -> Counter.builder(name).description(help).tags(tags).register(registry),
        counter -> counter);
  }

  Family<SettableGauge> gauge(String name, String help, String... labels) {
    return new Family<>(
        registry,
        labels,
        tags -> {
          SettableGauge value = new SettableGauge();
          value.meter =
              Gauge.builder(name, value, SettableGauge::get)
                  .description(help)
                  .tags(tags)
                  .strongReference(true)
                  .register(registry);
          return value;
        },
        value -> value.meter);
  }

  /**
   * A histogram of durations; {@code upperBounds} are in seconds, each a whole number of
   * nanoseconds.
   */
  Family<Timer> histogram(String name, String help, double[] upperBounds, String... labels) {
    if (!name.endsWith("_seconds")) {
      throw new IllegalArgumentException(
          name + ": Micrometer would add _seconds to the name of a timer");
    }
    Duration[] buckets = new Duration[upperBounds.length];
    for (int i = 0; i < upperBounds.length; i++) {
      long nanos = Math.round(upperBounds[i] * 1e9);
      // The exposition shows nanos / 1e9: the very double given, or the bucket would move.
      if (nanos / 1e9 != upperBounds[i]) {
        throw new IllegalArgumentException(
            name + ": bucket " + upperBounds[i] + " s is no whole number of ns");
      }
      buckets[i] = Duration.ofNanos(nanos);
    }
    maxGauges.add(name + "_max");
    return new Family<>(
        registry,
        labels,
        tags ->
            Timer.builder(name)
                .description(help)
                .tags(tags)
                .publishPercentileHistogram(false)
                .serviceLevelObjectives(buckets)
                .register(registry),
        timer -> timer);
  }

  /**
   * {@code exposition} (Prometheus' text format) without the {@code _max} gauges of the histograms
   * registered here: their {@code # HELP} and {@code # TYPE} lines and their samples. Every other
   * line is kept as it is.
   */
  String withoutMaxGauges(String exposition) {
    StringBuilder out = new StringBuilder(exposition.length());
    int start = 0;
    while (start < exposition.length()) {
      int end = exposition.indexOf('\n', start);
      end = end < 0 ? exposition.length() : end + 1;
      if (!maxGauges.contains(metricName(exposition, start, end))) {
        out.append(exposition, start, end);
      }
      start = end;
    }
    return out.toString();
  }

  /**
   * The metric a line is about: the third word of {@code # HELP} and {@code # TYPE}, else up to '{'
   * or ' '.
   */
  private static String metricName(String text, int start, int end) {
    if (text.startsWith("# HELP ", start) || text.startsWith("# TYPE ", start)) {
      start += "# HELP ".length();
    } else if (text.startsWith("#", start)) {
      return "";
    }
    int i = start;
    while (i < end && text.charAt(i) != '{' && text.charAt(i) != ' ' && text.charAt(i) != '\n') {
      i++;
    }
    return text.substring(start, i);
  }

  /**
   * The series of one metric: one meter per label set, registered on first use; a metric without
   * labels has its one series from the start, as Prometheus clients have it.
   */
  static final class Family<M> {
    private final MeterRegistry registry;
    private final String[] labelNames;
    private final Function<List<Tag>, M> register;
    private final Function<M, Meter> meterOf;
    private final ConcurrentHashMap<List<String>, M> series = new ConcurrentHashMap<>();

    private Family(
        MeterRegistry registry,
        String[] labelNames,
        Function<List<Tag>, M> register,
        Function<M, Meter> meterOf) {
      this.registry = registry;
      this.labelNames = labelNames.clone();
      this.register = register;
      this.meterOf = meterOf;
      if (labelNames.length == 0) {
        labelValues();
      }
    }

    /** The series of these label values, in the order of the family's label names. */
    M labelValues(String... values) {
      if (values.length != labelNames.length) {
        throw new IllegalArgumentException(
            "expected " + labelNames.length + " label values, got " + values.length);
      }
      List<String> key = List.of(values);
      M m = series.get(key);
      return m != null ? m : series.computeIfAbsent(key, k -> register.apply(tags(k)));
    }

    /**
     * Deletes the series of these label values from the exposition; a later use starts it again
     * from zero.
     */
    void remove(String... values) {
      M m = series.remove(List.of(values));
      if (m != null) {
        registry.remove(meterOf.apply(m));
      }
    }

    private List<Tag> tags(List<String> values) {
      List<Tag> tags = new ArrayList<>(values.size());
      for (int i = 0; i < values.size(); i++) {
        tags.add(Tag.of(labelNames[i], values.get(i)));
      }
      return tags;
    }
  }

  /**
   * A gauge's value, set (or moved) by the code that knows it; Micrometer reads it at each scrape.
   */
  static final class SettableGauge {
    private final AtomicLong bits = new AtomicLong(Double.doubleToRawLongBits(0));
    private Meter meter;

    void set(double value) {
      bits.set(Double.doubleToRawLongBits(value));
    }

    void inc() {
      add(1);
    }

    void dec() {
      add(-1);
    }

    private void add(double delta) {
      bits.accumulateAndGet(
          0,
          (current, ignored) ->
              Double.doubleToRawLongBits(Double.longBitsToDouble(current) + delta));
    }

    double get() {
      return Double.longBitsToDouble(bits.get());
    }
  }
}
