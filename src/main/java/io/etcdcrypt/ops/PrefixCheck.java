package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.EtcdKeys;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Refuses an {@code --etcd-prefix} under which etcd holds nothing: a mistyped prefix selects an
 * empty range, and a census or rewrap of it would report that every value is fine.
 */
public final class PrefixCheck {

  private static final ByteString ZERO = ByteString.copyFrom(new byte[] {0});

  private PrefixCheck() {}

  /**
   * @throws OpsException when no key starts with {@code prefix}, naming the first segment of a key
   *     etcd does hold; a failing call is left to the tool's own calls to report
   */
  public static void refuseEmpty(Channel channel, String prefix, Duration timeout)
      throws OpsException {
    KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
    ByteString start = ByteString.copyFromUtf8(prefix);
    RangeResponse under;
    RangeResponse first;
    try {
      under =
          stub(kv, timeout)
              .range(range(start, EtcdKeys.prefixRangeEnd(start)).setCountOnly(true).build());
      if (under.getCount() > 0) {
        return;
      }
      first = stub(kv, timeout).range(range(ZERO, ZERO).setKeysOnly(true).setLimit(1).build());
    } catch (StatusRuntimeException e) {
      return;
    }
    String elsewhere =
        first.getKvsCount() == 0
            ? "etcd holds no keys at all"
            : "etcd holds keys elsewhere, e.g. under "
                + firstSegment(first.getKvs(0).getKey().toStringUtf8());
    throw new OpsException(
        "nothing is stored under --etcd-prefix "
            + prefix
            + " ("
            + elsewhere
            + "): give kube-apiserver's --etcd-prefix (default /registry)");
  }

  private static KVGrpc.KVBlockingStub stub(KVGrpc.KVBlockingStub kv, Duration timeout) {
    return kv.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static RangeRequest.Builder range(ByteString key, ByteString end) {
    return RangeRequest.newBuilder().setKey(key).setRangeEnd(end);
  }

  /** {@code /registry/} of {@code /registry/secrets/ns/name}. */
  static String firstSegment(String key) {
    int slash = key.indexOf('/', 1);
    return slash < 0 ? key : key.substring(0, slash + 1);
  }
}
