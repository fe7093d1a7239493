package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.EtcdKeys;
import java.nio.charset.StandardCharsets;

/**
 * One etcd key range that census and rewrap scan, {@code [start, end)}, and which resources within
 * it count.
 *
 * @param name how progress lines and the state file name the range: the key prefix, e.g. {@code
 *     /registry/secrets/}
 * @param selection the resources whose values count; keys of other resources in the range are
 *     passed over
 */
public record Scope(String name, ByteString start, ByteString end, ResourceSelection selection) {

  /** Every key starting with {@code prefix}. */
  public static Scope ofPrefix(String prefix, ResourceSelection selection) {
    ByteString start = ByteString.copyFrom(prefix, StandardCharsets.UTF_8);
    return new Scope(prefix, start, EtcdKeys.prefixRangeEnd(start), selection);
  }

  /** The first key after {@code key} in etcd's byte order: {@code key + "\0"}. */
  static ByteString after(ByteString key) {
    return key.concat(ByteString.copyFrom(new byte[] {0}));
  }
}
