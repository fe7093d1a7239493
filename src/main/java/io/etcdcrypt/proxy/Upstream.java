package io.etcdcrypt.proxy;

import io.etcdcrypt.log.StateChangeLog;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The connections to the etcd cluster: one per member ({@link Members} chooses the member of each
 * call). Their settings are those of kube-apiserver's etcd client (keepalive 30 s with a 10 s
 * timeout, no pings without calls), with what a proxy needs on top: no retries (clients retry
 * themselves, and a retried write must stay the client's decision), no idle mode, and no 4 MiB
 * response cap.
 */
public final class Upstream implements AutoCloseable {

  private final Members members;
  private final Channel channel;
  private final List<Endpoint> endpoints;

  public Upstream(List<Endpoint> endpoints, TlsFiles tls, int maxInboundMessageBytes) {
    this(
        endpoints,
        LiveTls.forEtcdClient(tls),
        maxInboundMessageBytes,
        List.of(),
        null,
        Members.LOG);
  }

  /**
   * Connections whose TLS follows {@code tls}: a client certificate or CA reloaded there is used
   * from the next handshake on.
   */
  public Upstream(List<Endpoint> endpoints, LiveTls tls, int maxInboundMessageBytes) {
    this(endpoints, tls, maxInboundMessageBytes, List.of(), null, Members.LOG);
  }

  /**
   * A second set of connections to the members another {@link Upstream} already connects to, which
   * does not log their changes of state again (the first one does).
   */
  public static Upstream second(List<Endpoint> endpoints, LiveTls tls, int maxInboundMessageBytes) {
    return new Upstream(
        endpoints, tls, maxInboundMessageBytes, List.of(), null, StateChangeLog.Sink.NOWHERE);
  }

  /** A channel whose every call passes through {@code interceptors} (the first one outermost). */
  public Upstream(
      List<Endpoint> endpoints,
      TlsFiles tls,
      int maxInboundMessageBytes,
      List<ClientInterceptor> interceptors) {
    this(
        endpoints,
        LiveTls.forEtcdClient(tls),
        maxInboundMessageBytes,
        interceptors,
        null,
        Members.LOG);
  }

  /**
   * Connections on the proxy's {@code loops}, whose calls run their callbacks on the event loop
   * (the relay never waits there); with null, on grpc-java's own event loops and default pool (the
   * ops tools, which block). Members lost and back are logged to {@code changes}.
   */
  Upstream(
      List<Endpoint> endpoints,
      LiveTls tls,
      int maxInboundMessageBytes,
      List<ClientInterceptor> interceptors,
      EventLoops loops,
      StateChangeLog.Sink changes) {
    this.endpoints = List.copyOf(endpoints);
    ChannelCredentials credentials = tls.channelCredentials(); // one for all: follows reloads
    this.members =
        new Members(
            this.endpoints,
            e -> connect(e, credentials, maxInboundMessageBytes, loops),
            loops == null ? null : command -> loops.current().execute(command),
            changes);
    List<ClientInterceptor> outermostLast = new ArrayList<>(interceptors);
    Collections.reverse(
        outermostLast); // intercept() runs the last one first; callers list the outermost first
    this.channel = ClientInterceptors.intercept(members, outermostLast);
  }

  private static ManagedChannel connect(
      Endpoint member,
      ChannelCredentials credentials,
      int maxInboundMessageBytes,
      EventLoops loops) {
    // dns:/// resolves a host name again when its connection fails; the authority is the member's
    // own host name,
    // so TLS verifies each member's certificate against it.
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget("dns:///" + member, credentials);
    if (loops != null) {
      builder
          .eventLoopGroup(loops.group)
          .channelType(loops.channelType)
          .withOption(ChannelOption.ALLOCATOR, loops.buffers.allocator)
          .directExecutor();
    }
    return builder
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
        .build();
  }

  /** Every call made on it goes to one etcd member, chosen as {@link Members} says. */
  public Channel channel() {
    return channel;
  }

  public List<Endpoint> endpoints() {
    return endpoints;
  }

  /** Empty when some etcd member serves with a leader; else what is wrong with each. */
  public Optional<String> whyNoMemberServes() {
    return members.whyNoneServes();
  }

  /**
   * Whether each member is connected and serves with a leader (its last probe), keyed by its {@code
   * host:port}.
   */
  public Map<String, Boolean> memberServing() {
    return members.serving();
  }

  /** Each member's connection state and what its last probe said, for diagnostics and tests. */
  public String memberStates() {
    return members.states();
  }

  @Override
  public void close() {
    members.close();
  }
}
