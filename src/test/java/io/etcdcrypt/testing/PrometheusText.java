package io.etcdcrypt.testing;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A strict parser of Prometheus' text exposition format (version 0.0.4), for tests that read {@code
 * /metrics}.
 *
 * <p>No maintained Java parser of this format exists on Maven Central (the Prometheus Java client
 * only writes it), so this one follows the format's specification and rejects what a Prometheus
 * server would reject or misread: malformed names, labels, escapes or values; a second HELP or TYPE
 * for a family, TYPE after the family's samples, a family whose lines are not one contiguous group,
 * a repeated label name, a duplicate series, reserved {@code __} labels, a negative counter, a
 * histogram bucket without {@code le}, non-cumulative buckets, a histogram without a {@code +Inf}
 * bucket or whose {@code _count} differs from it.
 */
public final class PrometheusText {

  private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
  private static final Pattern NUMBER =
      Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?");
  private static final Pattern TIMESTAMP = Pattern.compile("-?\\d+");
  private static final Set<String> TYPES =
      Set.of("counter", "gauge", "histogram", "summary", "untyped");

  private PrometheusText() {}

  /** One line of samples. */
  public record Sample(String name, Map<String, String> labels, double value) {
    @Override
    public String toString() {
      return name + labels + " " + value;
    }
  }

  /**
   * A metric family: its name, type ({@code untyped} when not declared), help and samples in
   * exposition order.
   */
  public record Family(String name, String type, String help, List<Sample> samples) {}

  /** A parsed exposition, with lookups for assertions. */
  public record Exposition(Map<String, Family> families) {

    /** The family named {@code name}; fails when absent. */
    public Family family(String name) {
      Family f = families.get(name);
      if (f == null) {
        throw new AssertionError(
            "no metric family " + name + " in the exposition; families: " + families.keySet());
      }
      return f;
    }

    public boolean has(String familyName) {
      return families.containsKey(familyName);
    }

    /** Every sample named {@code sampleName} (e.g. {@code x_bucket}), across families. */
    public List<Sample> samples(String sampleName) {
      return families.values().stream()
          .flatMap(f -> f.samples().stream())
          .filter(s -> s.name().equals(sampleName))
          .toList();
    }

    /**
     * Samples named {@code sampleName} whose labels include all of {@code labelPairs} (name, value,
     * ...).
     */
    public List<Sample> matching(String sampleName, String... labelPairs) {
      Map<String, String> wanted = pairs(labelPairs);
      return samples(sampleName).stream()
          .filter(s -> s.labels().entrySet().containsAll(wanted.entrySet()))
          .toList();
    }

    /**
     * The value of the one sample named {@code sampleName} with exactly the labels {@code
     * labelPairs}.
     */
    public double value(String sampleName, String... labelPairs) {
      Map<String, String> wanted = pairs(labelPairs);
      List<Sample> found =
          samples(sampleName).stream().filter(s -> s.labels().equals(wanted)).toList();
      if (found.size() != 1) {
        throw new AssertionError(
            "expected one sample "
                + sampleName
                + wanted
                + ", found "
                + found.size()
                + "; samples of that name: "
                + samples(sampleName));
      }
      return found.get(0).value();
    }

    /**
     * The sum of the samples named {@code sampleName} whose labels include {@code labelPairs} (0 if
     * none).
     */
    public double sum(String sampleName, String... labelPairs) {
      return matching(sampleName, labelPairs).stream().mapToDouble(Sample::value).sum();
    }

    private static Map<String, String> pairs(String... labelPairs) {
      if (labelPairs.length % 2 != 0) {
        throw new IllegalArgumentException("label pairs come as name, value, name, value, ...");
      }
      Map<String, String> m = new TreeMap<>();
      for (int i = 0; i < labelPairs.length; i += 2) {
        m.put(labelPairs[i], labelPairs[i + 1]);
      }
      return m;
    }
  }

  /** The exposition could not be parsed; the message names the line. */
  public static final class FormatException extends RuntimeException {
    FormatException(int line, String message) {
      super("line " + line + ": " + message);
    }
  }

  private static final class FamilyBuilder {
    final String name;
    String type;
    String help;
    final List<Sample> samples = new ArrayList<>();

    FamilyBuilder(String name) {
      this.name = name;
    }

    String type() {
      return type == null ? "untyped" : type;
    }

    /** Whether a sample named {@code sample} belongs to this family. */
    boolean owns(String sample) {
      return switch (type()) {
        case "histogram" ->
            sample.equals(name + "_bucket")
                || sample.equals(name + "_sum")
                || sample.equals(name + "_count");
        case "summary" ->
            sample.equals(name) || sample.equals(name + "_sum") || sample.equals(name + "_count");
        default -> sample.equals(name);
      };
    }
  }

  public static Exposition parse(String text) {
    Map<String, FamilyBuilder> families = new LinkedHashMap<>();
    Set<String> series = new HashSet<>();
    FamilyBuilder current = null;
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      int lineNo = i + 1;
      String line = lines[i];
      if (line.isBlank()) {
        continue;
      }
      if (line.startsWith("#")) {
        Cursor c = new Cursor(line, 1, lineNo);
        c.skipBlanks();
        String keyword = c.word();
        if (!keyword.equals("HELP") && !keyword.equals("TYPE")) {
          continue; // a comment
        }
        c.requireBlank();
        String name = c.word();
        if (!METRIC_NAME.matcher(name).matches()) {
          throw new FormatException(
              lineNo, "invalid metric name in " + keyword + ": '" + name + "'");
        }
        FamilyBuilder f = families.get(name);
        if (f == null) {
          f = new FamilyBuilder(name);
          families.put(name, f);
        } else if (f != current) {
          throw new FormatException(
              lineNo, keyword + " for " + name + " outside its family's group of lines");
        }
        if (keyword.equals("HELP")) {
          if (f.help != null) {
            throw new FormatException(lineNo, "second HELP for " + name);
          }
          f.help = c.atEnd() ? "" : c.helpText();
        } else {
          if (f.type != null) {
            throw new FormatException(lineNo, "second TYPE for " + name);
          }
          if (!f.samples.isEmpty()) {
            throw new FormatException(lineNo, "TYPE for " + name + " after its samples");
          }
          c.requireBlank();
          String type = c.word();
          if (!TYPES.contains(type) || !c.atEnd()) {
            throw new FormatException(lineNo, "invalid TYPE line: '" + line + "'");
          }
          f.type = type;
        }
        current = f;
        continue;
      }

      Sample s = parseSample(line, lineNo);
      FamilyBuilder f;
      if (current != null && current.owns(s.name())) {
        f = current;
      } else {
        f = families.values().stream().filter(x -> x.owns(s.name())).findFirst().orElse(null);
        if (f != null) {
          throw new FormatException(
              lineNo, "sample " + s.name() + " outside its family's group of lines");
        }
        if (families.containsKey(s.name())) {
          throw new FormatException(
              lineNo, "sample " + s.name() + " does not fit the type of family " + s.name());
        }
        f = new FamilyBuilder(s.name());
        families.put(s.name(), f);
      }
      String id = s.name() + new TreeMap<>(s.labels());
      if (!series.add(id)) {
        throw new FormatException(lineNo, "duplicate series " + id);
      }
      checkSample(f, s, lineNo);
      f.samples.add(s);
      current = f;
    }

    Map<String, Family> out = new LinkedHashMap<>();
    for (FamilyBuilder f : families.values()) {
      if (f.type().equals("histogram")) {
        checkHistogram(f);
      }
      out.put(f.name, new Family(f.name, f.type(), f.help, List.copyOf(f.samples)));
    }
    return new Exposition(Collections.unmodifiableMap(out));
  }

  private static void checkSample(FamilyBuilder f, Sample s, int lineNo) {
    switch (f.type()) {
      case "counter" -> {
        if (s.value() < 0 || Double.isNaN(s.value())) {
          throw new FormatException(lineNo, "counter " + s.name() + " has the value " + s.value());
        }
      }
      case "histogram" -> {
        boolean bucket = s.name().endsWith("_bucket");
        if (bucket != s.labels().containsKey("le")) {
          throw new FormatException(
              lineNo, bucket ? "bucket without le" : "le on a non-bucket sample");
        }
        if (bucket) {
          parseValue(s.labels().get("le"), lineNo);
        }
      }
      case "summary" -> {
        boolean quantile = s.name().equals(f.name);
        if (quantile != s.labels().containsKey("quantile")) {
          throw new FormatException(
              lineNo, "summary sample " + s.name() + " with a misplaced quantile label");
        }
      }
      default -> {}
    }
  }

  /** Per label set (le aside): cumulative buckets, a +Inf bucket, _count equal to it, a _sum. */
  private static void checkHistogram(FamilyBuilder f) {
    Map<Map<String, String>, TreeMap<Double, Double>> buckets = new LinkedHashMap<>();
    Map<Map<String, String>, Double> counts = new LinkedHashMap<>();
    Set<Map<String, String>> sums = new HashSet<>();
    for (Sample s : f.samples) {
      Map<String, String> labels = new TreeMap<>(s.labels());
      if (s.name().endsWith("_bucket")) {
        double le = parseValue(labels.remove("le"), 0);
        if (buckets.computeIfAbsent(labels, k -> new TreeMap<>()).put(le, s.value()) != null) {
          throw new FormatException(0, f.name + labels + ": two buckets with le " + le);
        }
      } else if (s.name().endsWith("_count")) {
        counts.put(labels, s.value());
      } else {
        sums.add(labels);
      }
    }
    Set<Map<String, String>> all = new HashSet<>(buckets.keySet());
    all.addAll(counts.keySet());
    all.addAll(sums);
    for (Map<String, String> labels : all) {
      TreeMap<Double, Double> b = buckets.get(labels);
      if (b == null || !b.containsKey(Double.POSITIVE_INFINITY)) {
        throw new FormatException(0, "histogram " + f.name + labels + " has no +Inf bucket");
      }
      double previous = 0;
      for (var e : b.entrySet()) {
        if (e.getValue() < previous) {
          throw new FormatException(
              0,
              "histogram "
                  + f.name
                  + labels
                  + ": bucket le="
                  + e.getKey()
                  + " holds fewer observations than a lower one");
        }
        previous = e.getValue();
      }
      Double count = counts.get(labels);
      if (count == null || count.doubleValue() != b.get(Double.POSITIVE_INFINITY)) {
        throw new FormatException(
            0,
            "histogram "
                + f.name
                + labels
                + ": _count "
                + count
                + " differs from the +Inf bucket "
                + b.get(Double.POSITIVE_INFINITY));
      }
      if (!sums.contains(labels)) {
        throw new FormatException(0, "histogram " + f.name + labels + " has no _sum");
      }
    }
  }

  private static Sample parseSample(String line, int lineNo) {
    Cursor c = new Cursor(line, 0, lineNo);
    String name = c.metricName();
    Map<String, String> labels = new LinkedHashMap<>();
    if (c.peek() == '{') {
      c.next();
      c.skipBlanks();
      while (c.peek() != '}') {
        String label = c.labelName();
        c.skipBlanks();
        c.expect('=');
        c.skipBlanks();
        String value = c.quoted();
        if (label.startsWith("__")) {
          throw new FormatException(lineNo, "reserved label name " + label);
        }
        if (labels.put(label, value) != null) {
          throw new FormatException(lineNo, "label " + label + " given twice");
        }
        c.skipBlanks();
        if (c.peek() == ',') {
          c.next();
          c.skipBlanks();
        } else if (c.peek() != '}') {
          throw new FormatException(lineNo, "expected ',' or '}' at column " + c.pos);
        }
      }
      c.next();
    }
    c.requireBlank();
    double value = parseValue(c.word(), lineNo);
    if (!c.atEnd()) {
      c.requireBlank();
      String ts = c.word();
      if (!TIMESTAMP.matcher(ts).matches()) {
        throw new FormatException(lineNo, "invalid timestamp '" + ts + "'");
      }
    }
    if (!c.atEnd()) {
      throw new FormatException(
          lineNo, "unexpected text after the sample: '" + line.substring(c.pos) + "'");
    }
    return new Sample(name, Collections.unmodifiableMap(labels), value);
  }

  /** A float as Go's ParseFloat reads it in this format: decimal, NaN, +Inf, -Inf. */
  static double parseValue(String text, int lineNo) {
    String t = text.toLowerCase();
    switch (t) {
      case "nan":
        return Double.NaN;
      case "+inf":
      case "inf":
        return Double.POSITIVE_INFINITY;
      case "-inf":
        return Double.NEGATIVE_INFINITY;
      default:
        if (!NUMBER.matcher(text).matches()) {
          throw new FormatException(lineNo, "invalid number '" + text + "'");
        }
        return Double.parseDouble(text);
    }
  }

  /** Reads one line. */
  private static final class Cursor {
    final String s;
    int pos;
    final int lineNo;

    Cursor(String s, int pos, int lineNo) {
      this.s = s;
      this.pos = pos;
      this.lineNo = lineNo;
    }

    boolean atEnd() {
      return pos >= s.length();
    }

    char peek() {
      if (atEnd()) {
        throw new FormatException(lineNo, "line ends early: '" + s + "'");
      }
      return s.charAt(pos);
    }

    void next() {
      pos++;
    }

    void expect(char ch) {
      if (peek() != ch) {
        throw new FormatException(
            lineNo, "expected '" + ch + "' at column " + pos + " of '" + s + "'");
      }
      pos++;
    }

    void skipBlanks() {
      while (!atEnd() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t')) {
        pos++;
      }
    }

    void requireBlank() {
      if (atEnd() || (s.charAt(pos) != ' ' && s.charAt(pos) != '\t')) {
        throw new FormatException(lineNo, "expected a blank at column " + pos + " of '" + s + "'");
      }
      skipBlanks();
    }

    String word() {
      int start = pos;
      while (!atEnd() && s.charAt(pos) != ' ' && s.charAt(pos) != '\t') {
        pos++;
      }
      if (start == pos) {
        throw new FormatException(lineNo, "expected a token at column " + pos + " of '" + s + "'");
      }
      return s.substring(start, pos);
    }

    String metricName() {
      return matching(METRIC_NAME, "metric name");
    }

    String labelName() {
      return matching(LABEL_NAME, "label name");
    }

    private String matching(Pattern p, String what) {
      var m = p.matcher(s).region(pos, s.length());
      if (!m.lookingAt()) {
        throw new FormatException(
            lineNo, "expected a " + what + " at column " + pos + " of '" + s + "'");
      }
      pos = m.end();
      return m.group();
    }

    /** A label value: double-quoted, with \\, \" and \n escapes. */
    String quoted() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (true) {
        char ch = peek();
        pos++;
        if (ch == '"') {
          return b.toString();
        }
        if (ch == '\\') {
          char e = peek();
          pos++;
          switch (e) {
            case '\\' -> b.append('\\');
            case '"' -> b.append('"');
            case 'n' -> b.append('\n');
            default ->
                throw new FormatException(lineNo, "invalid escape \\" + e + " in a label value");
          }
        } else {
          b.append(ch);
        }
      }
    }

    /** The rest of a HELP line: \\ and \n are escapes; other backslashes stand for themselves. */
    String helpText() {
      requireBlank();
      String rest = s.substring(pos);
      pos = s.length();
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < rest.length(); i++) {
        char ch = rest.charAt(i);
        if (ch == '\\'
            && i + 1 < rest.length()
            && (rest.charAt(i + 1) == '\\' || rest.charAt(i + 1) == 'n')) {
          b.append(rest.charAt(++i) == 'n' ? '\n' : '\\');
        } else {
          b.append(ch);
        }
      }
      return b.toString();
    }
  }

  /** The distinct values of {@code label} among the samples named {@code sampleName}. */
  public static Set<String> labelValues(Exposition e, String sampleName, String label) {
    return e.samples(sampleName).stream()
        .map(s -> s.labels().get(label))
        .filter(v -> v != null)
        .collect(Collectors.toCollection(TreeSet::new));
  }
}
