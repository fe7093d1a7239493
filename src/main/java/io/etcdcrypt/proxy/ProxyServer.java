package io.etcdcrypt.proxy;

import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.log.StateChangeLog;
import io.etcdcrypt.values.SharedDecryptions;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.ReflectiveChannelFactory;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client-facing gRPC server. It serves every etcd v3 service by relaying each call to the etcd
 * cluster, passing values through the {@link ValueCodec} on the way (see {@link MethodTable} for
 * which methods are transformed, forwarded raw or refused).
 *
 * <p>Transport settings follow etcd's own server where clients depend on them: pings are accepted
 * every 5 s (kube-apiserver pings every 30 s and grpc-java's 5 min default would answer it with
 * GOAWAY), there is no idle or age limit on connections (they carry long watches), and client
 * messages are limited as etcd limits them ({@link RequestLimit}), responses from etcd not at all
 * by default.
 */
public final class ProxyServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

  /** A refused TLS handshake is logged once per client address and reason in this interval. */
  public static final Duration HANDSHAKE_LOG_INTERVAL = Duration.ofMinutes(1);

  private final Upstream upstream;
  private final Server server;
  private final EventLoops loops;
  private final EndlessCalls endless;
  private final InFlightBytes inFlight;
  private final ListRoom lists;
  private final SharedDecryptions watchValues;

  private ProxyServer(
      Upstream upstream,
      Server server,
      EventLoops loops,
      EndlessCalls endless,
      InFlightBytes inFlight,
      ListRoom lists,
      SharedDecryptions watchValues) {
    this.upstream = upstream;
    this.server = server;
    this.loops = loops;
    this.endless = endless;
    this.inFlight = inFlight;
    this.lists = lists;
    this.watchValues = watchValues;
  }

  /** Connects to etcd and starts listening, with {@link Threading#defaults()} and no observers. */
  public static ProxyServer start(ProxyOptions options, ValueCodec codec) throws IOException {
    return start(
        options, codec, ProxyObserver.NONE, ValueCodec.StaleListener.NONE, Threading.defaults());
  }

  /**
   * Connects to etcd and starts listening, with {@code observer}'s interceptors on both sides;
   * {@code stale} hears of every stale value a client reads (for {@code --rewrite-stale-on-read});
   * {@code threading} says where calls run.
   */
  public static ProxyServer start(
      ProxyOptions options,
      ValueCodec codec,
      ProxyObserver observer,
      ValueCodec.StaleListener stale,
      Threading threading)
      throws IOException {
    return startWithOptionsTls(options, codec, observer, stale, threading, true);
  }

  /**
   * {@link #start(ProxyOptions, ValueCodec, ProxyObserver, ValueCodec.StaleListener, Threading)}
   * with the listener's and the etcd client's TLS taken from {@code listenerTls} and {@code
   * upstreamTls} (instead of the options' files), so that what they reload is used from the next
   * handshake on.
   */
  public static ProxyServer start(
      ProxyOptions options,
      LiveTls listenerTls,
      LiveTls upstreamTls,
      ValueCodec codec,
      ProxyObserver observer,
      ValueCodec.StaleListener stale,
      Threading threading)
      throws IOException {
    return start(options, listenerTls, upstreamTls, codec, observer, stale, threading, true);
  }

  /**
   * A proxy that serves no client but the warm-up's ({@code io.etcdcrypt.warmup}): plaintext on
   * both sides, and silent, since what it listens on and hands out concerns nobody.
   */
  public static ProxyServer startUnannounced(
      ProxyOptions options, ValueCodec codec, ProxyObserver observer) throws IOException {
    return startWithOptionsTls(
        options, codec, observer, ValueCodec.StaleListener.NONE, new Threading(1), false);
  }

  /** With the TLS of the options' files, read once. */
  private static ProxyServer startWithOptionsTls(
      ProxyOptions options,
      ValueCodec codec,
      ProxyObserver observer,
      ValueCodec.StaleListener stale,
      Threading threading,
      boolean announce)
      throws IOException {
    return start(
        options,
        LiveTls.forListener(options.listenerTls(), options.listen()),
        LiveTls.forEtcdClient(options.upstreamTls()),
        codec,
        observer,
        stale,
        threading,
        announce);
  }

  private static ProxyServer start(
      ProxyOptions options,
      LiveTls listenerTls,
      LiveTls upstreamTls,
      ValueCodec codec,
      ProxyObserver observer,
      ValueCodec.StaleListener stale,
      Threading threading,
      boolean announce)
      throws IOException {
    SecureRandoms.seedNow(); // on this thread, not on an event loop's first write
    EventLoops loops = EventLoops.create(threading.eventLoopThreads());
    Upstream upstream;
    try {
      upstream =
          new Upstream(
              options.endpoints(),
              upstreamTls,
              options.maxRecvBytes(),
              observer.upstreamCallInterceptors(),
              loops,
              announce ? Members.LOG : StateChangeLog.Sink.NOWHERE);
    } catch (RuntimeException e) {
      loops.close();
      throw e;
    }
    try {
      ValueWalker walker = new ValueWalker(codec, stale);
      // Watch streams share their decryptions: every stream watching an event receives it from
      // etcd.
      SharedDecryptions watchValues =
          new SharedDecryptions(codec, SharedDecryptions.Limits.defaults());
      List<ProxiedMethod<?, ?>> transformed = new ArrayList<>();
      DirectMemory direct = DirectMemory.of(loops.buffers);
      ListRoom lists = ListRoom.of(direct);
      transformed.addAll(KvProxy.methods(walker, lists));
      transformed.addAll(WatchProxy.methods(new ValueWalker(watchValues, stale)));
      transformed.addAll(ElectionProxy.methods(walker));
      ClientUrls clientUrls = options.clientUrls();
      transformed.addAll(ClusterProxy.methods(clientUrls));
      EndlessCalls endless = new EndlessCalls();
      RequestLimit limit = RequestLimit.ofEtcd(options.maxRequestBytes());
      InFlightBytes inFlight = new InFlightBytes(options.maxInFlightBytes(), direct);
      MethodTable table =
          new MethodTable(
              upstream.channel(), loops::current, endless, limit, inFlight, transformed);

      InetSocketAddress address =
          new InetSocketAddress(options.listen().host(), options.listen().port());
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(address, listenerTls.serverCredentials())
              .bossEventLoopGroup(loops.group)
              .workerEventLoopGroup(loops.group)
              .withChildOption(ChannelOption.ALLOCATOR, loops.buffers.allocator)
              .directExecutor();
      if (options.listenerTls().enabled()) {
        HandshakeRefusals.OnAccept onAccept =
            new HandshakeRefusals.OnAccept(new HandshakeRefusals(HANDSHAKE_LOG_INTERVAL));
        ReflectiveChannelFactory<? extends ServerChannel> channels =
            new ReflectiveChannelFactory<>(loops.serverChannelType);
        builder.channelFactory(
            () -> {
              ServerChannel listening = channels.newChannel();
              listening.pipeline().addLast(onAccept);
              return listening;
            });
      } else {
        builder.channelType(loops.serverChannelType);
      }
      // Server-wide interceptors also wrap the fallback registry's methods; the builder runs the
      // last added first.
      List<ServerInterceptor> interceptors = new ArrayList<>(observer.clientCallInterceptors());
      Collections.reverse(interceptors);
      interceptors.forEach(builder::intercept);
      builder.intercept(new ProxyMarker()); // added last: runs first, so every call carries it
      Server server =
          builder
              .fallbackHandlerRegistry(table)
              .addStreamTracerFactory(new InFlightTracer(inFlight))
              .maxInboundMessageSize(transportLimit(limit))
              .maxInboundMetadataSize(1 << 20)
              .permitKeepAliveTime(5, TimeUnit.SECONDS)
              .permitKeepAliveWithoutCalls(true)
              .keepAliveTime(2, TimeUnit.HOURS)
              .keepAliveTimeout(20, TimeUnit.SECONDS)
              .build()
              .start();
      if (!announce) {
        return new ProxyServer(upstream, server, loops, endless, inFlight, lists, watchValues);
      }
      log.info(
          "etcd-crypt-proxy listening on {} (tls={}, client certificates {}), etcd endpoints {}",
          options.listen(),
          options.listenerTls().enabled(),
          options.listenerTls().trustedCaFile() != null ? "required" : "not required",
          options.endpoints());
      if (clientUrls.fromEachConnection()) {
        log.warn(
            "--listen-addr {} is a wildcard address: member lists hand out, as every member's client URL, the"
                + " address each client reached the proxy on ({}); set --advertise-client-urls to the URLs clients"
                + " should use (with TLS, names on --cert-file)",
            options.listen(),
            clientUrls.describe());
      } else {
        log.info(
            "member lists hand out {} as every member's client URL, so clients that sync their endpoints"
                + " from them keep using the proxy",
            clientUrls.describe());
      }
      return new ProxyServer(upstream, server, loops, endless, inFlight, lists, watchValues);
    } catch (IOException | RuntimeException e) {
      upstream.close();
      loops.close();
      throw e;
    }
  }

  /**
   * The largest message the transport reads: messages above {@code limit} are read and refused by
   * the relay with etcd's (grpc-go's) words; up to 16 MiB more, so that a client cannot make the
   * proxy hold much more than etcd would before it refuses (past that grpc-java refuses them with
   * its own words, and the same code).
   */
  static int transportLimit(RequestLimit limit) {
    return (int) Math.min(Integer.MAX_VALUE, (long) limit.maxMessageBytes() + (16 << 20));
  }

  /** The port actually bound (useful when listening on port 0). */
  public int port() {
    return server.getPort();
  }

  public Upstream upstream() {
    return upstream;
  }

  /** Bytes of requests and responses held now ({@code --max-in-flight-bytes} bounds them). */
  public long inFlightBytes() {
    return inFlight.held();
  }

  /** Bytes of wire buffers (direct memory) in use now. */
  public long wireBuffersInUse() {
    return loops.buffers.inUse();
  }

  /** Bytes of direct memory the wire buffers' pool holds now, in use or not. */
  public long wireBuffersReserved() {
    return loops.buffers.reserved();
  }

  /** {@code --max-in-flight-bytes}. */
  public long inFlightLimit() {
    return inFlight.max();
  }

  /** Requests refused so far because they did not fit in {@code --max-in-flight-bytes}. */
  public long inFlightRefusals() {
    return inFlight.refused();
  }

  /** Lists waiting now for room for their answers ({@link ListRoom}). */
  public long listsWaiting() {
    return lists.waiting();
  }

  /** Lists that had to wait for room for their answers, so far. */
  public long listsWaited() {
    return lists.waited();
  }

  /** Encrypted watch values answered from another stream's decryption of the same event. */
  public long watchValuesShared() {
    return watchValues.shared();
  }

  /** Encrypted watch values decrypted (once for every stream that shared them). */
  public long watchValuesDecrypted() {
    return watchValues.decrypted();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Stops accepting calls, ends the endless ones (watches, keep-alives, observers) with UNAVAILABLE
   * so their clients re-create them, lets the others finish for up to {@code grace}, then closes
   * everything.
   */
  public void shutdown(long grace, TimeUnit unit) {
    server.shutdown();
    endless.endAll();
    try {
      if (!server.awaitTermination(grace, unit)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    upstream.close();
    loops.close();
  }

  @Override
  public void close() {
    shutdown(0, TimeUnit.SECONDS);
  }
}
