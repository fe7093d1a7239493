package io.etcdcrypt.config;

import java.time.Duration;

/**
 * Parses durations in Go's {@code time.ParseDuration} syntax, which is what kube-apiserver accepts
 * for {@code timeout}: a possibly signed sequence of decimal numbers with optional fraction and a
 * unit, e.g. {@code 3s}, {@code 500ms}, {@code 1m30s}, {@code 1.5h}, {@code -2h45m}. Units: ns, us
 * (or µs/μs), ms, s, m, h. A bare {@code 0} is allowed; any other number needs a unit.
 */
final class GoDuration {

  private GoDuration() {}

  /** Thrown with a message that may quote the (non-secret) input. */
  static final class InvalidDurationException extends Exception {
    InvalidDurationException(String message) {
      super(message);
    }
  }

  static Duration parse(String text) throws InvalidDurationException {
    String s = text;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
      negative = s.charAt(0) == '-';
      s = s.substring(1);
    }
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    if (s.isEmpty()) {
      throw invalid(text);
    }
    long total = 0;
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (!(c == '.' || isDigit(c))) {
        throw invalid(text);
      }
      // integer part
      int start = i;
      long whole = 0;
      while (i < s.length() && isDigit(s.charAt(i))) {
        whole = checkedTimes10Plus(whole, s.charAt(i) - '0', text);
        i++;
      }
      boolean hasWhole = i > start;
      // fraction part: digits beyond what fits in a long only lose precision, as in Go
      long fraction = 0;
      double scale = 1;
      boolean hasFraction = false;
      if (i < s.length() && s.charAt(i) == '.') {
        i++;
        int fracStart = i;
        boolean overflow = false;
        while (i < s.length() && isDigit(s.charAt(i))) {
          if (!overflow) {
            if (fraction > (Long.MAX_VALUE - 9) / 10) {
              overflow = true;
            } else {
              fraction = fraction * 10 + (s.charAt(i) - '0');
              scale *= 10;
            }
          }
          i++;
        }
        hasFraction = i > fracStart;
      }
      if (!hasWhole && !hasFraction) {
        throw invalid(text);
      }
      int unitStart = i;
      while (i < s.length() && !(s.charAt(i) == '.' || isDigit(s.charAt(i)))) {
        i++;
      }
      if (i == unitStart) {
        throw new InvalidDurationException("missing unit in duration \"" + text + "\"");
      }
      String unitName = s.substring(unitStart, i);
      long unit = unitNanos(unitName);
      if (unit == 0) {
        throw new InvalidDurationException(
            "unknown unit \"" + unitName + "\" in duration \"" + text + "\"");
      }
      long v;
      try {
        v = Math.multiplyExact(whole, unit);
        if (fraction > 0) {
          v = Math.addExact(v, (long) (fraction * (unit / scale)));
        }
        total = Math.addExact(total, v);
      } catch (ArithmeticException e) {
        throw new InvalidDurationException("duration \"" + text + "\" is too large");
      }
    }
    return Duration.ofNanos(negative ? -total : total);
  }

  private static long unitNanos(String unit) {
    return switch (unit) {
      case "ns" -> 1L;
      case "us", "\u00b5s", "\u03bcs" -> 1_000L;
      case "ms" -> 1_000_000L;
      case "s" -> 1_000_000_000L;
      case "m" -> 60_000_000_000L;
      case "h" -> 3_600_000_000_000L;
      default -> 0L;
    };
  }

  private static long checkedTimes10Plus(long v, int digit, String text)
      throws InvalidDurationException {
    if (v > (Long.MAX_VALUE - digit) / 10) {
      throw new InvalidDurationException("duration \"" + text + "\" is too large");
    }
    return v * 10 + digit;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static InvalidDurationException invalid(String text) {
    return new InvalidDurationException(
        "invalid duration \"" + text + "\"; use Go syntax such as 3s, 500ms or 1m30s");
  }
}
