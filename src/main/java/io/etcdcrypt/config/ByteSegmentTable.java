package io.etcdcrypt.config;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * An immutable hash table from byte strings to values that is queried with a slice of a larger
 * array, so that looking up a key's path segment needs neither a String nor a copy.
 */
final class ByteSegmentTable<V> {

  private final byte[][] keys;
  private final Object[] values;
  private final int mask;

  ByteSegmentTable(Map<String, V> entries) {
    int capacity = Integer.highestOneBit(Math.max(4, entries.size() * 3)) << 1;
    keys = new byte[capacity][];
    values = new Object[capacity];
    mask = capacity - 1;
    for (Map.Entry<String, V> e : entries.entrySet()) {
      byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
      int i = hash(k, 0, k.length) & mask;
      while (keys[i] != null) {
        i = (i + 1) & mask;
      }
      keys[i] = k;
      values[i] = e.getValue();
    }
  }

  /** The value for {@code bytes[from, to)}, or {@code null}. */
  @SuppressWarnings("unchecked")
  V get(byte[] bytes, int from, int to) {
    for (int i = hash(bytes, from, to) & mask; ; i = (i + 1) & mask) {
      byte[] k = keys[i];
      if (k == null) {
        return null;
      }
      if (Arrays.equals(k, 0, k.length, bytes, from, to)) {
        return (V) values[i];
      }
    }
  }

  static int hash(byte[] bytes, int from, int to) {
    int h = 0x811c9dc5;
    for (int i = from; i < to; i++) {
      h = (h ^ bytes[i]) * 0x01000193;
    }
    return h ^ (h >>> 16);
  }
}
