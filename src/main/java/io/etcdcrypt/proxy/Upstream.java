package io.etcdcrypt.proxy;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The channel to the etcd cluster. Its settings are those of kube-apiserver's etcd client (keepalive 30 s with
 * a 10 s timeout, no pings without calls, round-robin over members), with what a proxy needs on top: no
 * retries (clients retry themselves, and a retried write must stay the client's decision), no idle mode, and
 * no 4 MiB response cap.
 */
public final class Upstream implements AutoCloseable {

  static {
    NameResolverRegistry.getDefaultRegistry().register(StaticEndpointsResolver.provider());
  }

  private final ManagedChannel channel;
  private final List<Endpoint> endpoints;

  public Upstream(List<Endpoint> endpoints, TlsFiles tls, int maxInboundMessageBytes) {
    this(endpoints, tls, maxInboundMessageBytes, List.of(), null);
  }

  /** A channel whose every call passes through {@code interceptors} (the first one outermost). */
  public Upstream(
      List<Endpoint> endpoints, TlsFiles tls, int maxInboundMessageBytes, List<ClientInterceptor> interceptors) {
    this(endpoints, tls, maxInboundMessageBytes, interceptors, null);
  }

  /**
   * A channel on the proxy's {@code loops}, whose calls run their callbacks on the event loop (the relay never
   * waits there); with null, on grpc-java's own event loops and default pool (the ops tools, which block).
   */
  Upstream(List<Endpoint> endpoints, TlsFiles tls, int maxInboundMessageBytes, List<ClientInterceptor> interceptors,
      EventLoops loops) {
    this.endpoints = List.copyOf(endpoints);
    NettyChannelBuilder builder =
        NettyChannelBuilder.forTarget(StaticEndpointsResolver.target(endpoints), tls.channelCredentials());
    if (loops != null) {
      builder.eventLoopGroup(loops.group).channelType(loops.channelType).directExecutor();
    }
    this.channel =
        builder
            .defaultLoadBalancingPolicy("round_robin")
            .disableRetry()
            .disableServiceConfigLookUp()
            .maxInboundMessageSize(maxInboundMessageBytes)
            .maxInboundMetadataSize(1 << 20)
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .keepAliveWithoutCalls(false)
            // 30 days is grpc-java's way of saying "never go idle".
            .idleTimeout(30, TimeUnit.DAYS)
            .userAgent("etcd-crypt-proxy")
            .intercept(outermostLast(interceptors))
            .build();
  }

  /** The builder runs the last added interceptor first; callers list the outermost first. */
  private static List<ClientInterceptor> outermostLast(List<ClientInterceptor> interceptors) {
    List<ClientInterceptor> reversed = new ArrayList<>(interceptors);
    Collections.reverse(reversed);
    return reversed;
  }

  public ManagedChannel channel() {
    return channel;
  }

  public List<Endpoint> endpoints() {
    return endpoints;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
