package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import java.util.Arrays;

/**
 * The etcd keys the harness uses: every target and data set has its own namespace of {@code
 * secrets}.
 */
final class Keys {

  private Keys() {}

  static final String ROOT = "/registry/secrets/";

  static ByteString of(String s) {
    return ByteString.copyFromUtf8(s);
  }

  /** The smallest key greater than every key starting with {@code prefix}. */
  static ByteString rangeEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(Arrays.copyOf(end, i + 1));
      }
    }
    return ByteString.copyFrom(new byte[] {0});
  }

  /** The key right after {@code key} (for continuing a paginated Range). */
  static ByteString after(ByteString key) {
    return key.concat(ByteString.copyFrom(new byte[] {0}));
  }
}
