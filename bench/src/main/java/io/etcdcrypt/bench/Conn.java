package io.etcdcrypt.bench;

import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The load generator's connections to one target: a few HTTP/2 channels (kube-apiserver keeps one
 * or a few per etcd), async stubs, callbacks run on the event-loop threads (directExecutor) so the
 * generator itself spends as little CPU per request as it can. All targets share one two-thread
 * epoll event-loop group.
 */
final class Conn implements AutoCloseable {

  static final int CHANNELS = 2;
  private static final EventLoopGroup LOOP =
      new MultiThreadIoEventLoopGroup(
          2, new DefaultThreadFactory("loadgen", true), EpollIoHandler.newFactory());

  private final ManagedChannel[] channels = new ManagedChannel[CHANNELS];
  private final KVGrpc.KVStub[] kv = new KVGrpc.KVStub[CHANNELS];
  private final WatchGrpc.WatchStub[] watch = new WatchGrpc.WatchStub[CHANNELS];

  Conn(int port) {
    for (int i = 0; i < CHANNELS; i++) {
      channels[i] =
          NettyChannelBuilder.forAddress("127.0.0.1", port)
              .usePlaintext()
              .eventLoopGroup(LOOP)
              .channelType(EpollSocketChannel.class)
              .directExecutor()
              .maxInboundMessageSize(256 << 20)
              .disableRetry()
              .build();
      kv[i] = KVGrpc.newStub(channels[i]);
      watch[i] = WatchGrpc.newStub(channels[i]);
    }
  }

  KVGrpc.KVStub kv(int slot) {
    return kv[slot % CHANNELS];
  }

  WatchGrpc.WatchStub watch(int slot) {
    return watch[slot % CHANNELS];
  }

  KVGrpc.KVBlockingStub blocking() {
    return KVGrpc.newBlockingStub(channels[0]).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
  }
}
