package io.etcdcrypt.kms;

import io.etcdcrypt.config.KmsEndpoint;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * gRPC over unix-domain sockets, the only transport KMS plugins speak. grpc-java needs Netty's
 * native epoll transport for that (Linux only); one small daemon event-loop group is shared by
 * every KMS channel and server of this process, since KMS traffic is a few small calls.
 */
public final class UnixSocketTransport {

  private static volatile EventLoopGroup sharedGroup;

  private UnixSocketTransport() {}

  /**
   * The netty address to connect or bind to; an abstract name is passed with a leading NUL byte.
   */
  public static DomainSocketAddress address(KmsEndpoint endpoint) {
    return new DomainSocketAddress(
        endpoint.isAbstract() ? "\0" + endpoint.socketPath().substring(1) : endpoint.socketPath());
  }

  /**
   * A plaintext channel to the plugin at {@code endpoint}. {@code :authority} is {@code localhost},
   * as kube-apiserver's KMS v2 client sends (plugins may check it). The channel connects lazily, so
   * it can be created while the plugin is down.
   */
  public static ManagedChannel channel(KmsEndpoint endpoint) {
    return NettyChannelBuilder.forAddress(address(endpoint))
        .eventLoopGroup(group())
        .channelType(EpollDomainSocketChannel.class)
        // grpc-java sets TCP keep-alive on every channel; a unix socket has none, and Netty warned
        // about the unknown option on every connection. A null value removes it.
        .withOption(ChannelOption.SO_KEEPALIVE, null)
        .usePlaintext()
        .overrideAuthority("localhost")
        // A plugin reply carries a DEK or a seed; 4 MiB is far above anything legitimate.
        .maxInboundMessageSize(4 * 1024 * 1024)
        .build();
  }

  /**
   * A server builder bound to {@code endpoint}. A stale socket file left by a previous run is
   * removed first; any other kind of file at that path is left alone and the bind fails.
   */
  public static NettyServerBuilder serverBuilder(KmsEndpoint endpoint) throws IOException {
    if (!endpoint.isAbstract()) {
      removeStaleSocket(Path.of(endpoint.socketPath()));
    }
    EventLoopGroup group = group();
    return NettyServerBuilder.forAddress(address(endpoint))
        .bossEventLoopGroup(group)
        .workerEventLoopGroup(group)
        .channelType(EpollServerDomainSocketChannel.class)
        .withChildOption(ChannelOption.SO_KEEPALIVE, null); // as for channel(): no TCP here
  }

  /**
   * Removes a socket file that nothing listens on any more (a leftover of a process that died); a
   * socket something answers on is another server's, and is refused, never taken over.
   */
  static void removeStaleSocket(Path socket) throws IOException {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      return;
    }
    if (attrs.isOther()) { // a socket (or fifo/device)
      if (answers(socket)) {
        throw new IOException(
            "cannot listen on "
                + socket
                + ": another process is serving on it (a KMS plugin already running?); stop it or"
                + " pick another path");
      }
      Files.deleteIfExists(socket);
    } else {
      throw new IOException(
          "cannot listen on "
              + socket
              + ": a regular file or directory is in the way; remove it or pick another path");
    }
  }

  /** Whether a server accepts connections on the unix socket {@code socket}. */
  private static boolean answers(Path socket) {
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      return probe.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException refusedOrNotASocket) {
      return false;
    }
  }

  /**
   * The identity of the socket file at {@code socket} (its inode), or null when there is none: a
   * server removes on close only the file it created, never one that another process put there
   * since.
   */
  public static Object socketFileKey(Path socket) {
    try {
      return Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
          .fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  private static EventLoopGroup group() {
    EventLoopGroup g = sharedGroup;
    if (g == null) {
      synchronized (UnixSocketTransport.class) {
        g = sharedGroup;
        if (g == null) {
          if (!Epoll.isAvailable()) {
            throw new IllegalStateException(
                "KMS plugins are reached over unix sockets, which need Netty's native epoll transport (Linux x86_64"
                    + " or aarch64); it is unavailable here: "
                    + Epoll.unavailabilityCause());
          }
          g =
              new MultiThreadIoEventLoopGroup(
                  2,
                  new DefaultThreadFactory("kms-unix-socket", true),
                  EpollIoHandler.newFactory());
          sharedGroup = g;
        }
      }
    }
    return g;
  }
}
