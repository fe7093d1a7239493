package io.etcdcrypt.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Plaintext gRPC channels for tests, on which a unary call made without a deadline of its own gets
 * one of {@link #UNARY_LIMIT}: a blocking stub waiting on a proxy or an etcd that stopped answering
 * fails instead of waiting for ever. Streaming calls (Watch, lease keep-alives) are left as they
 * are.
 */
public final class Channels {

  /** The deadline of a unary call that has none of its own. */
  public static final Duration UNARY_LIMIT = Duration.ofSeconds(30);

  /** gRPC's own default limit on the size of a response. */
  public static final int DEFAULT_MAX_INBOUND_MESSAGE_SIZE = 4 << 20;

  /** Gives a deadline to unary calls that have none. */
  public static final ClientInterceptor DEFAULT_DEADLINE =
      new ClientInterceptor() {
        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(
            MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
          if (method.getType() == MethodDescriptor.MethodType.UNARY
              && options.getDeadline() == null) {
            return next.newCall(
                method, options.withDeadlineAfter(UNARY_LIMIT.toMillis(), TimeUnit.MILLISECONDS));
          }
          return next.newCall(method, options);
        }
      };

  private Channels() {}

  /**
   * A plaintext channel to {@code target} ({@code host:port}) that takes responses of up to 4 MiB.
   */
  public static ManagedChannel plaintext(String target) {
    return plaintext(target, DEFAULT_MAX_INBOUND_MESSAGE_SIZE);
  }

  /**
   * A plaintext channel to {@code target} ({@code host:port}) that takes responses of up to {@code
   * maxBytes}.
   */
  public static ManagedChannel plaintext(String target, int maxBytes) {
    return NettyChannelBuilder.forTarget(target)
        .usePlaintext()
        .maxInboundMessageSize(maxBytes)
        .intercept(DEFAULT_DEADLINE)
        .build();
  }
}
