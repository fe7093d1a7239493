package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;

/**
 * One etcd key range that census and rewrap scan, {@code [start, end)}, and which resources within it count.
 *
 * @param name how progress lines and the state file name the range: the key prefix, e.g. {@code /registry/secrets/}
 * @param selection the resources whose values count; keys of other resources in the range are passed over
 */
public record Scope(String name, ByteString start, ByteString end, ResourceSelection selection) {

  /** Every key starting with {@code prefix}. */
  public static Scope ofPrefix(String prefix, ResourceSelection selection) {
    ByteString start = ByteString.copyFrom(prefix, StandardCharsets.UTF_8);
    return new Scope(prefix, start, prefixEnd(start), selection);
  }

  /** The smallest key greater than every key starting with {@code prefix} (etcd's prefix range end). */
  static ByteString prefixEnd(ByteString prefix) {
    byte[] end = prefix.toByteArray();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return ByteString.copyFrom(end, 0, i + 1);
      }
    }
    return ByteString.copyFrom(new byte[] {0}); // "every key from start on"
  }

  /** The first key after {@code key} in etcd's byte order: {@code key + "\0"}. */
  static ByteString after(ByteString key) {
    return key.concat(ByteString.copyFrom(new byte[] {0}));
  }
}
