package io.etcdcrypt.config;

import com.google.protobuf.ByteString;

/** etcd's key-range conventions, shared by everything that scans or matches key prefixes. */
public final class EtcdKeys {

  private EtcdKeys() {}

  /**
   * The smallest key greater than every key starting with {@code prefix}: the {@code range_end} of
   * a prefix range. A prefix of only 0xff bytes has no such key; etcd spells "every key from the
   * start on" as a single zero byte.
   */
  public static ByteString prefixRangeEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(end, 0, i + 1);
      }
    }
    return ByteString.copyFrom(new byte[] {0});
  }
}
