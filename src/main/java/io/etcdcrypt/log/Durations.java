package io.etcdcrypt.log;

import java.time.Duration;

/**
 * Durations as a person reads them in a log line: {@code 850 ms}, {@code 12 s}, {@code 3 min 5 s}.
 */
public final class Durations {

  private Durations() {}

  /** The two largest units of {@code d}, rounded down; {@code 0 ms} for zero or negative. */
  public static String brief(Duration d) {
    if (d.isNegative() || d.isZero()) {
      return "0 ms";
    }
    if (d.compareTo(Duration.ofSeconds(1)) < 0) {
      return d.toMillis() + " ms";
    }
    long s = d.toSeconds();
    if (s < 60) {
      return s + " s";
    }
    if (s < 3600) {
      return withPart(s / 60 + " min", s % 60, "s");
    }
    if (s < 86400) {
      return withPart(s / 3600 + " h", s % 3600 / 60, "min");
    }
    return withPart(s / 86400 + " d", s % 86400 / 3600, "h");
  }

  private static String withPart(String head, long part, String unit) {
    return part == 0 ? head : head + " " + part + " " + unit;
  }
}
