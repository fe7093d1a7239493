package io.etcdcrypt.observe;

import java.math.BigDecimal;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Bucket bounds spelled as the Go Prometheus client spells them. The Java client's text writer,
 * which Micrometer's Prometheus registry uses, writes {@code le="1.0"} and {@code le="5.0E-6"}
 * where etcd and kube-apiserver write {@code le="1"} and {@code le="5e-06"}; Prometheus 2 keeps
 * label values as scraped, so a query or alert naming a bucket ({@code le="1"}) would miss the
 * proxy's series. (Prometheus 3 normalizes {@code le} on ingestion, which makes both spellings
 * equal.)
 */
final class GoFloats {

  /** An {@code le} label: after {@code {} or {@code ,}, which inside a label value are always escaped or quoted. */
  private static final Pattern LE = Pattern.compile("([{,])le=\"([^\"\\\\]*)\"");

  private GoFloats() {}

  /** {@code exposition} with every {@code le} value rewritten in Go's spelling. */
  static String rewriteBucketBounds(String exposition) {
    Matcher m = LE.matcher(exposition);
    StringBuilder out = new StringBuilder(exposition.length());
    while (m.find()) {
      String bound = m.group(2);
      String go = bound.equals("+Inf") ? bound : format(Double.parseDouble(bound));
      m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + "le=\"" + go + "\""));
    }
    m.appendTail(out);
    return out.toString();
  }

  /**
   * Go's {@code strconv.FormatFloat(v, 'g', -1, 64)}: shortest digits, exponent form below 1e-4 and
   * from 1e6.
   */
  static String format(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == 0) {
      return "0";
    }
    BigDecimal d = new BigDecimal(Double.toString(Math.abs(v))).stripTrailingZeros();
    String digits = d.unscaledValue().toString();
    int exp = digits.length() - 1 - d.scale(); // decimal exponent of the first digit
    String sign = v < 0 ? "-" : "";
    if (exp < -4 || exp >= 6) {
      String mantissa =
          digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      int e = Math.abs(exp);
      return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (e < 10 ? "0" : "") + e;
    }
    return sign + d.toPlainString();
  }
}
