package io.etcdcrypt.packaging;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/** Reads a YAML file into maps and lists, and walks them by key without casts at every step. */
final class Yaml {

  private Yaml() {}

  static Map<String, Object> load(Path file) throws IOException {
    return map(new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file)));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    if (!(o instanceof Map)) {
      throw new AssertionError("expected a mapping, got " + o);
    }
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object o) {
    if (!(o instanceof List)) {
      throw new AssertionError("expected a list, got " + o);
    }
    return (List<Object>) o;
  }

  /** {@code root[k1][k2]...}, failing with the path when a step is missing. */
  static Object at(Map<String, Object> root, String... keys) {
    Object cur = root;
    StringBuilder path = new StringBuilder();
    for (String k : keys) {
      path.append('.').append(k);
      Object next = map(cur).get(k);
      if (next == null) {
        throw new AssertionError("missing " + path);
      }
      cur = next;
    }
    return cur;
  }

  static List<String> strings(Object o) {
    return list(o).stream().map(String::valueOf).toList();
  }
}
