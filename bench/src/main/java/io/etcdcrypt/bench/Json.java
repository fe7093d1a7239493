package io.etcdcrypt.bench;

import java.util.List;
import java.util.Map;

/** A minimal JSON writer for the results file (maps, lists, strings, numbers, booleans). */
final class Json {

  private Json() {}

  static String write(Object value) {
    StringBuilder b = new StringBuilder();
    write(b, value, 0);
    return b.append('\n').toString();
  }

  private static void write(StringBuilder b, Object v, int indent) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof Map<?, ?> m) {
      b.append("{");
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        b.append(first ? "\n" : ",\n").append("  ".repeat(indent + 1));
        string(b, String.valueOf(e.getKey()));
        b.append(": ");
        write(b, e.getValue(), indent + 1);
        first = false;
      }
      b.append(first ? "}" : "\n" + "  ".repeat(indent) + "}");
    } else if (v instanceof List<?> l) {
      b.append("[");
      boolean first = true;
      for (Object o : l) {
        b.append(first ? "\n" : ",\n").append("  ".repeat(indent + 1));
        write(b, o, indent + 1);
        first = false;
      }
      b.append(first ? "]" : "\n" + "  ".repeat(indent) + "]");
    } else if (v instanceof Double d) {
      b.append(Double.isFinite(d) ? String.format("%.3f", d) : "null");
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else {
      string(b, v.toString());
    }
  }

  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
