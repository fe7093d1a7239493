package io.etcdcrypt.proxy;

import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs the TLS handshakes the listener refuses, with the reason and the peer's address: once per
 * peer address and reason per interval, the next line saying how many were left out. Without it a
 * client with no certificate, or one from another CA, fails with nothing in the proxy's log
 * (grpc-java logs them only at debug level, without the peer).
 */
final class HandshakeRefusals {

  private static final Logger log = LoggerFactory.getLogger(HandshakeRefusals.class);

  /** Peer and reason pairs remembered at most; past it, the oldest intervals are forgotten. */
  private static final int MAX_REMEMBERED = 4096;

  private final long intervalNanos;
  private final LongSupplier nanoTime;
  private final Map<String, Window> windows = new HashMap<>();

  private static final class Window {
    final long start;
    int suppressed;

    Window(long start) {
      this.start = start;
    }
  }

  HandshakeRefusals(Duration interval, LongSupplier nanoTime) {
    this.intervalNanos = interval.toNanos();
    this.nanoTime = nanoTime;
  }

  HandshakeRefusals(Duration interval) {
    this(interval, System::nanoTime);
  }

  /**
   * Records a refused handshake from {@code peer}; logs it unless the same peer was refused for the
   * same reason within the interval. Returns the line logged, or null.
   */
  String refused(SocketAddress peer, Throwable cause) {
    String reason = reason(cause);
    if (reason == null) {
      return null; // closed before a handshake: probes, port scans
    }
    String host = host(peer);
    String key = host + "\0" + reason;
    long now = nanoTime.getAsLong();
    int suppressed;
    synchronized (windows) {
      Window w = windows.get(key);
      if (w != null && now - w.start < intervalNanos) {
        w.suppressed++;
        return null;
      }
      suppressed = w == null ? 0 : w.suppressed;
      if (windows.size() >= MAX_REMEMBERED) {
        windows.values().removeIf(old -> now - old.start >= intervalNanos);
        if (windows.size() >= MAX_REMEMBERED) {
          windows.clear();
        }
      }
      windows.put(key, new Window(now));
    }
    String line =
        "refused a TLS handshake from "
            + host
            + ": "
            + reason
            + (suppressed > 0
                ? " (and "
                    + suppressed
                    + " more from this address for this reason since the last such line)"
                : "");
    log.warn("{}", line);
    return line;
  }

  private static String host(SocketAddress peer) {
    if (peer instanceof InetSocketAddress a) {
      return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }
    return String.valueOf(peer);
  }

  /**
   * Why a handshake failed, in words an operator can act on; null for a connection closed before it
   * said anything.
   */
  static String reason(Throwable cause) {
    StringBuilder messages = new StringBuilder();
    String last = null;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof CertificateExpiredException) {
        return "its client certificate has expired (" + t.getMessage() + ")";
      }
      if (t instanceof CertificateNotYetValidException) {
        return "its client certificate is not valid yet (" + t.getMessage() + ")";
      }
      if (t instanceof NotSslRecordException) {
        return "it does not speak TLS (a plaintext client? it needs an https:// endpoint and the"
            + " CA that signed --cert-file)";
      }
      if (t instanceof ClosedChannelException && t == cause) {
        return null;
      }
      if (t.getMessage() != null) {
        messages.append(t.getMessage()).append('\n');
        last = t.getMessage();
      }
    }
    String all = messages.toString().toUpperCase(Locale.ROOT);
    if (all.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE")
        || all.contains("CERTIFICATE_REQUIRED")
        || all.contains("EMPTY CLIENT CERTIFICATE CHAIN")
        || all.contains("NULL OR EMPTY CERTIFICATES")) {
      return "no client certificate (--trusted-ca-file requires one signed by its CA)";
    }
    if (all.contains("CERTIFICATE_EXPIRED") || all.contains("EXPIRED")) {
      return "its client certificate has expired";
    }
    if (all.contains("UNABLE TO FIND VALID CERTIFICATION PATH")
        || all.contains("PKIX PATH")
        || all.contains("CERTIFICATE_VERIFY_FAILED")) {
      return "its client certificate is not signed by a CA in --trusted-ca-file (unknown CA)";
    }
    if (all.contains("ALERT_UNKNOWN_CA")
        || all.contains("ALERT_BAD_CERTIFICATE")
        || all.contains("ALERT_CERTIFICATE_UNKNOWN")) {
      return "the client refused the proxy's certificate ("
          + shortly(last)
          + "): check that --cert-file is signed by the CA the client trusts and names the address"
          + " it dials";
    }
    return last == null ? cause.getClass().getSimpleName() : shortly(last);
  }

  private static final Pattern OPENSSL_ERROR =
      Pattern.compile("error:[0-9a-fA-F]+:[^:]*:[^:]*:([A-Z0-9_]+)");

  /** BoringSSL's reason code alone ("SSLV3_ALERT_BAD_CERTIFICATE"), or the first line, cut. */
  private static String shortly(String message) {
    Matcher m = OPENSSL_ERROR.matcher(message);
    if (m.find()) {
      return m.group(1);
    }
    String line = message.lines().findFirst().orElse(message);
    return line.length() > 200 ? line.substring(0, 200) + "..." : line;
  }

  /**
   * Goes on the listening channel's pipeline: gives every accepted connection a {@link Watcher}
   * before grpc-java sets it up.
   */
  @ChannelHandler.Sharable
  static final class OnAccept extends ChannelInboundHandlerAdapter {
    private final HandshakeRefusals refusals;

    OnAccept(HandshakeRefusals refusals) {
      this.refusals = refusals;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel child) {
        child.pipeline().addFirst(new Watcher(refusals));
      }
      ctx.fireChannelRead(msg);
    }
  }

  /**
   * First on a connection's pipeline: once grpc-java has added its TLS handler, listens to its
   * handshake and leaves the pipeline.
   */
  private static final class Watcher extends ChannelInboundHandlerAdapter {
    private final HandshakeRefusals refusals;

    Watcher(HandshakeRefusals refusals) {
      this.refusals = refusals;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.fireChannelActive();
      watch(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      watch(ctx);
      ctx.fireChannelRead(msg);
    }

    private void watch(ChannelHandlerContext ctx) {
      if (ctx.isRemoved()) {
        return;
      }
      SslHandler tls = ctx.pipeline().get(SslHandler.class);
      if (tls == null) {
        return;
      }
      Channel channel = ctx.channel();
      SocketAddress peer = channel.remoteAddress();
      tls.handshakeFuture()
          .addListener(
              f -> {
                if (!f.isSuccess()) {
                  refusals.refused(peer, f.cause());
                }
              });
      ctx.pipeline().remove(this);
    }
  }
}
