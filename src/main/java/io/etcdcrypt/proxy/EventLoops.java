package io.etcdcrypt.proxy;

import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.netty.shaded.io.netty.util.concurrent.EventExecutor;
import io.grpc.netty.shaded.io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The one event-loop group the listener and the upstream channel share (epoll where the shaded
 * natives load, NIO elsewhere). Sharing it means a request and its upstream call are often served
 * by the same thread, so relaying a call hands nothing over between threads; separate groups
 * (grpc-java's default) cost a wake-up per hop. Its threads never wait: a transform that needs a
 * KMS plugin continues here when the plugin answers.
 */
final class EventLoops implements AutoCloseable {

  /** The name of its threads, {@code proxy-event-loop-<n>-<m>}. */
  static final String THREAD_NAME = "proxy-event-loop";

  /**
   * The stack of each of its threads. Reading, walking and writing a Txn nested as deep as etcd
   * takes ({@link KvProxy#RECURSION_LIMIT}) recurses once per level, about 1 KiB each, more than
   * the JVM's default 1 MiB stack holds. The memory is reserved, not committed: a thread only uses
   * what its deepest message touched.
   */
  static final long THREAD_STACK_BYTES = 32L << 20;

  final EventLoopGroup group;
  final Class<? extends ServerChannel> serverChannelType;
  final Class<? extends Channel> channelType;

  /** The buffers of every connection on these loops. */
  final WireBuffers buffers;

  private EventLoops(
      EventLoopGroup group,
      Class<? extends ServerChannel> server,
      Class<? extends Channel> client,
      int threads) {
    this.group = group;
    this.serverChannelType = server;
    this.channelType = client;
    this.buffers = new WireBuffers(threads);
  }

  static EventLoops create(int threads) {
    DefaultThreadFactory threadFactory =
        new DefaultThreadFactory(THREAD_NAME, true) {
          @Override
          protected Thread newThread(Runnable r, String name) {
            return new FastThreadLocalThread(threadGroup, r, name, THREAD_STACK_BYTES);
          }
        };
    if (Epoll.isAvailable()) {
      return new EventLoops(
          new MultiThreadIoEventLoopGroup(threads, threadFactory, EpollIoHandler.newFactory()),
          EpollServerSocketChannel.class,
          EpollSocketChannel.class,
          threads);
    }
    return new EventLoops(
        new MultiThreadIoEventLoopGroup(threads, threadFactory, NioIoHandler.newFactory()),
        NioServerSocketChannel.class,
        NioSocketChannel.class,
        threads);
  }

  /**
   * The event loop the calling thread runs, where a call started on it continues after a transform
   * that waited; a caller that is not on one of these loops gets the loop the group picks next.
   */
  Executor current() {
    for (EventExecutor loop : group) {
      if (loop.inEventLoop()) {
        return loop;
      }
    }
    return group.next();
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }
}
