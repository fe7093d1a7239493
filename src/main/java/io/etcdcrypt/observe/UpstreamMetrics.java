package io.etcdcrypt.observe;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Timer;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The latency of the proxy's unary calls to etcd, per member: the member is the remote address of
 * the connection the call went out on, so a slow or failing member stands out of the round-robin.
 * Streams (Watch, lease keep-alives, Observe) live as long as their clients want and have no
 * latency to speak of; they are not recorded.
 */
final class UpstreamMetrics implements ClientInterceptor {

  private final Instruments.Family<Timer> duration;

  UpstreamMetrics(Instruments instruments) {
    duration =
        instruments.histogram(
            MetricNames.UPSTREAM_REQUEST_DURATION,
            "Seconds taken by unary calls from the proxy to etcd, by member, method and gRPC status code ('none' as"
                + " member when the call never reached one).",
            MetricNames.upstreamBuckets(),
            MetricNames.MEMBER,
            MetricNames.GRPC_METHOD,
            MetricNames.GRPC_CODE);
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions callOptions, Channel next) {
    ClientCall<ReqT, RespT> call = next.newCall(method, callOptions);
    if (method.getType() != MethodDescriptor.MethodType.UNARY) {
      return call;
    }
    String methodName =
        method.getBareMethodName() == null ? MetricNames.UNKNOWN : method.getBareMethodName();
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        long start = System.nanoTime();
        super.start(
            new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onClose(Status status, Metadata trailers) {
                duration
                    .labelValues(
                        member(call.getAttributes()),
                        methodName,
                        MetricNames.grpcCodeName(status.getCode()))
                    .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                super.onClose(status, trailers);
              }
            },
            headers);
      }
    };
  }

  /**
   * {@code host:port} of the etcd member, as the proxy's --endpoints spell it when given as
   * addresses.
   */
  static String member(Attributes attributes) {
    SocketAddress remote =
        attributes == null ? null : attributes.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (remote instanceof InetSocketAddress inet) {
      String host = inet.getHostString();
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
    }
    return remote == null ? MetricNames.NO_MEMBER : remote.toString();
  }
}
