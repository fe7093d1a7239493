package io.etcdcrypt.config;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.nodes.AnchorNode;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * A YAML mapping read with kube-apiserver's strict decoding rules: field names are case-sensitive,
 * unknown and duplicate fields are errors, and scalars must have the JSON type of the Go field they
 * decode into (a YAML {@code null} leaves the Go field at its zero value, i.e. "absent" here).
 *
 * <p>Accessors return {@code null} for an absent or null field, and also for a field of the wrong
 * type, after reporting that at the field's path; callers use {@link Problems#hasErrorAt} to avoid
 * reporting it twice.
 *
 * <p>No accessor ever copies a scalar value into an error message: values may be key material.
 */
final class YamlObject {

  private final String path;
  private final Problems problems;
  private final Map<String, Node> fields;

  private YamlObject(String path, Problems problems, Map<String, Node> fields) {
    this.path = path;
    this.problems = problems;
    this.fields = fields;
  }

  /**
   * Reads {@code node} as an object with the given fields. Returns {@code null} for a YAML null (Go
   * leaves a nil pointer) and, after reporting it, for anything that is not a mapping.
   */
  static YamlObject read(Node node, String path, Problems problems, List<String> knownFields) {
    node = real(node);
    if (node == null || isNull(node)) {
      return null;
    }
    if (!(node instanceof MappingNode mapping)) {
      problems.error(path, "must be an object (a YAML mapping), got " + describe(node));
      return null;
    }
    Map<String, Node> fields = new LinkedHashMap<>();
    for (NodeTuple tuple : mapping.getValue()) {
      Node keyNode = real(tuple.getKeyNode());
      if (!(keyNode instanceof ScalarNode key) || !isString(key)) {
        problems.error(path, "field names must be strings, got " + describe(keyNode));
        continue;
      }
      String name = key.getValue();
      String fieldPath = child(path, name);
      if (!knownFields.contains(name)) {
        problems.error(childForUnknown(path, name), "unknown field" + hint(name, knownFields));
        continue;
      }
      if (fields.containsKey(name)) {
        problems.error(fieldPath, "duplicate field; each field may appear only once");
        continue;
      }
      fields.put(name, tuple.getValueNode());
    }
    return new YamlObject(path, problems, fields);
  }

  String path() {
    return path;
  }

  String pathOf(String field) {
    return child(path, field);
  }

  /** The raw node of a field, or {@code null} if absent or YAML null. */
  Node node(String field) {
    Node n = real(fields.get(field));
    return n == null || isNull(n) ? null : n;
  }

  /** A string field; {@code null} if absent, null, or (reported) not a string. */
  String string(String field) {
    return asString(node(field), pathOf(field), problems);
  }

  /** A 32-bit integer field; {@code null} if absent, null, or (reported) not an int32. */
  Integer int32(String field) {
    Node n = node(field);
    if (n == null) {
      return null;
    }
    String p = pathOf(field);
    if (!(n instanceof ScalarNode s) || !Tag.INT.equals(s.getTag())) {
      problems.error(p, "must be an integer, got " + describe(n));
      return null;
    }
    BigInteger v = parseYamlInt(s.getValue());
    if (v == null || v.bitLength() > 31) {
      problems.error(p, "must be a 32-bit integer");
      return null;
    }
    return v.intValue();
  }

  /**
   * A list field; {@code null} if absent or null, an empty list after reporting a non-list.
   * Elements are returned as raw nodes (null elements included as {@code null}).
   */
  List<Node> list(String field) {
    Node n = node(field);
    if (n == null) {
      return null;
    }
    if (!(n instanceof SequenceNode seq)) {
      problems.error(pathOf(field), "must be a list, got " + describe(n));
      return Collections.emptyList();
    }
    List<Node> out = new ArrayList<>(seq.getValue().size());
    for (Node element : seq.getValue()) {
      Node e = real(element);
      out.add(e == null || isNull(e) ? null : e);
    }
    return out;
  }

  /** Reads a list element as a string; a null element is Go's zero value, the empty string. */
  static String elementString(Node element, String path, Problems problems) {
    if (element == null) {
      return "";
    }
    return asString(element, path, problems);
  }

  static String child(String parent, String field) {
    return parent.isEmpty() ? field : parent + "." + field;
  }

  static String index(String parent, int i) {
    return parent + "[" + i + "]";
  }

  private static String asString(Node n, String path, Problems problems) {
    if (n == null) {
      return null;
    }
    if (!(n instanceof ScalarNode s) || !isString(s)) {
      problems.error(
          path,
          "must be a string, got " + describe(n) + " (quote the value if it is meant as text)");
      return null;
    }
    return s.getValue();
  }

  private static boolean isString(ScalarNode s) {
    // ${...} plain scalars resolve to the env tag in snakeyaml-engine; for Go they are ordinary
    // strings.
    return Tag.STR.equals(s.getTag()) || Tag.ENV_TAG.equals(s.getTag());
  }

  private static boolean isNull(Node n) {
    return n instanceof ScalarNode s && Tag.NULL.equals(s.getTag());
  }

  private static Node real(Node n) {
    while (n instanceof AnchorNode a) {
      n = a.getRealNode();
    }
    return n;
  }

  /** Names the kind of a node without its value. */
  private static String describe(Node n) {
    if (n instanceof MappingNode) {
      return "an object";
    }
    if (n instanceof SequenceNode) {
      return "a list";
    }
    if (n instanceof ScalarNode s) {
      Tag t = s.getTag();
      if (Tag.INT.equals(t)) {
        return "a number";
      }
      if (Tag.FLOAT.equals(t)) {
        return "a floating-point number";
      }
      if (Tag.BOOL.equals(t)) {
        return "a boolean";
      }
      if (Tag.NULL.equals(t)) {
        return "null";
      }
      if (isString(s)) {
        return "a string";
      }
      // A custom tag is document text ("secret: !'<key>'" makes the key a tag): only YAML's own
      // tags are named.
      return t.getValue().startsWith(Tag.PREFIX)
          ? "a value tagged " + t.getValue()
          : "a value with a custom tag";
    }
    return "nothing";
  }

  /** YAML 1.2 core-schema integers: decimal with optional sign, 0o octal, 0x hex. */
  private static BigInteger parseYamlInt(String text) {
    try {
      String t = text.replace("_", "");
      int sign = 1;
      if (t.startsWith("-") || t.startsWith("+")) {
        sign = t.charAt(0) == '-' ? -1 : 1;
        t = t.substring(1);
      }
      BigInteger v;
      if (t.startsWith("0x")) {
        v = new BigInteger(t.substring(2), 16);
      } else if (t.startsWith("0o")) {
        v = new BigInteger(t.substring(2), 8);
      } else {
        v = new BigInteger(t, 10);
      }
      return sign < 0 ? v.negate() : v;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /**
   * The path for an unknown field. A base64 secret mistakenly written as a field name must not end
   * up in an error, so long or non-identifier names are not echoed.
   */
  private static String childForUnknown(String parent, String name) {
    return child(parent, looksLikeFieldName(name) ? name : "<unknown field, name not shown>");
  }

  private static boolean looksLikeFieldName(String name) {
    if (name.isEmpty() || name.length() > 20) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_')) {
        return false;
      }
    }
    return true;
  }

  private static String hint(String name, List<String> knownFields) {
    if (knownFields.isEmpty()) {
      return "; this object takes no fields";
    }
    for (String known : knownFields) {
      if (known.equalsIgnoreCase(name)) {
        return "; field names are case-sensitive, did you mean \"" + known + "\"?";
      }
    }
    return "; expected one of " + String.join(", ", knownFields);
  }
}
