package io.etcdcrypt.proxy;

import com.google.protobuf.MessageLite;
import io.etcdcrypt.values.WireMessage;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;

/**
 * The largest message a client may send, applied as etcd applies its own: etcd's gRPC server
 * receives messages of up to {@code --max-request-bytes} plus 512 KiB of gRPC overhead
 * (server/config {@code MaxRequestBytesWithOverhead}), and refuses a larger one with grpc-go's
 * RESOURCE_EXHAUSTED {@code grpc: received message larger than max (N vs. M)}. The proxy refuses it
 * with the same code and words, before sending anything to etcd.
 *
 * <p>A request that fits but outgrows the limit once its values are encrypted is refused the way
 * etcd refuses a request too large for it: INVALID_ARGUMENT {@code etcdserver: request is too
 * large} (rpctypes {@code ErrGRPCRequestTooLarge}), which clients know (kube-apiserver answers it
 * with 413).
 */
record RequestLimit(int maxMessageBytes) {

  /** etcd's {@code --max-request-bytes} default (embed {@code DefaultMaxRequestBytes}): 1.5 MiB. */
  static final int ETCD_DEFAULT_MAX_REQUEST_BYTES = 3 << 19;

  /**
   * What etcd's gRPC server accepts on top of {@code --max-request-bytes} (server/config {@code
   * grpcOverheadBytes}).
   */
  static final int GRPC_OVERHEAD_BYTES = 512 * 1024;

  /** No limit: the ops tools' own channels, tests of other things. */
  static final RequestLimit NONE = new RequestLimit(Integer.MAX_VALUE);

  RequestLimit {
    if (maxMessageBytes <= 0) {
      throw new IllegalArgumentException("the largest request must be positive");
    }
  }

  /** The limit of an etcd started with {@code --max-request-bytes=maxRequestBytes}. */
  static RequestLimit ofEtcd(int maxRequestBytes) {
    return new RequestLimit(
        (int) Math.min(Integer.MAX_VALUE, (long) maxRequestBytes + GRPC_OVERHEAD_BYTES));
  }

  /**
   * Null when a client's message of {@code size} bytes may be relayed, else etcd's refusal of it.
   */
  Status refuseReceived(long size) {
    if (size <= maxMessageBytes) {
      return null;
    }
    return Status.RESOURCE_EXHAUSTED.withDescription(
        String.format(
            Locale.ROOT,
            "grpc: received message larger than max (%d vs. %d)",
            size,
            maxMessageBytes));
  }

  /**
   * Null when the request {@code sealed} (its values encrypted) from {@code received} fits, else
   * etcd's refusal.
   */
  Status refuseSealed(Object received, Object sealed) {
    if (sealed == received || sealed == null || sizeOf(sealed) <= maxMessageBytes) {
      return null;
    }
    return Status.INVALID_ARGUMENT.withDescription("etcdserver: request is too large");
  }

  /**
   * Bytes {@code message} takes on the wire: a raw message's own, a parsed one's encoding; -1 when
   * unknown.
   */
  static long sizeOf(Object message) {
    if (message instanceof MessageLite m) {
      return m.getSerializedSize();
    }
    if (message instanceof WireMessage<?> w) {
      return w.bytes().length;
    }
    if (message instanceof InputStream in) {
      try {
        return in.available(); // grpc-java's message streams know their length
      } catch (IOException e) {
        return -1;
      }
    }
    return -1;
  }
}
