package io.etcdcrypt.proxy;

import io.grpc.Grpc;
import io.grpc.ServerCall;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The client URLs the proxy hands out where etcd lists its members' own (MemberList and the other
 * Cluster responses), so that a client that takes its endpoints from the member list (clientv3's
 * {@code Sync} and {@code AutoSyncInterval}, {@code etcdctl --cluster}, jetcd's and python-etcd3's
 * member lists) keeps talking to a proxy and never writes plaintext to etcd directly.
 *
 * <p>They are {@code --advertise-client-urls} when given (etcd's grpc-proxy calls the flag {@code
 * --advertise-client-url}). Otherwise: the listener's own address, {@code http(s)://<--listen-addr
 * host>:<port>}; and with a wildcard listen address (0.0.0.0, ::), which no client can dial, the
 * address each client reached the proxy on, which is one that client can reach.
 */
public final class ClientUrls {

  private static final Set<String> WILDCARDS =
      Set.of("", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0");

  private final List<String> configured; // empty: from the listener
  private final String scheme;
  private final String listenHost; // null: the connection's local address
  private final int listenPort;

  private ClientUrls(List<String> configured, String scheme, String listenHost, int listenPort) {
    this.configured = List.copyOf(configured);
    this.scheme = scheme;
    this.listenHost = listenHost;
    this.listenPort = listenPort;
  }

  /**
   * {@code urls} as given ({@code --advertise-client-urls}): each {@code http(s)://host:port}, or
   * {@code host:port} which gets the listener's scheme (https with {@code tls}).
   *
   * @throws IllegalArgumentException naming the URL that is not one
   */
  public static ClientUrls of(List<String> urls, boolean tls) {
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("--advertise-client-urls lists no URL");
    }
    List<String> out = new ArrayList<>();
    for (String url : urls) {
      out.add(normalize(url.trim(), tls));
    }
    return new ClientUrls(out, null, null, 0);
  }

  /** The default: the URL of the listener on {@code listen}. */
  public static ClientUrls ofListener(Endpoint listen, boolean tls) {
    String host = listen.host();
    return new ClientUrls(
        List.of(), tls ? "https" : "http", WILDCARDS.contains(host) ? null : host, listen.port());
  }

  /**
   * Whether the URLs are each client's own view of the listener's address (a wildcard listen
   * address).
   */
  public boolean fromEachConnection() {
    return configured.isEmpty() && listenHost == null;
  }

  /** What is handed out, for the log: the URLs, or how they are made. */
  public String describe() {
    if (!configured.isEmpty()) {
      return String.join(",", configured);
    }
    return listenHost != null
        ? url(listenHost, listenPort)
        : scheme + "://<the address each client reached the proxy on>:" + listenPort;
  }

  /**
   * The URLs for a client on {@code call}'s connection (null: not on a connection; the listener's).
   */
  List<String> forCall(ServerCall<?, ?> call) {
    if (!configured.isEmpty()) {
      return configured;
    }
    SocketAddress local =
        call == null ? null : call.getAttributes().get(Grpc.TRANSPORT_ATTR_LOCAL_ADDR);
    InetSocketAddress inet = local instanceof InetSocketAddress i ? i : null;
    int port = inet != null ? inet.getPort() : listenPort;
    if (listenHost != null) {
      return List.of(url(listenHost, port));
    }
    if (inet == null || inet.getAddress() == null) {
      return List.of(url("127.0.0.1", port));
    }
    String ip = inet.getAddress().getHostAddress();
    int scope = ip.indexOf('%');
    if (scope >= 0) {
      ip = ip.substring(0, scope); // a link-local zone has no place in a URL others use
    }
    return List.of(url(inet.getAddress() instanceof Inet6Address ? "[" + ip + "]" : ip, port));
  }

  private String url(String host, int port) {
    String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + port;
  }

  private static String normalize(String url, boolean tls) {
    String withScheme = url.contains("://") ? url : (tls ? "https://" : "http://") + url;
    URI uri;
    try {
      uri = URI.create(withScheme);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(notAUrl(url), e);
    }
    if (!List.of("http", "https").contains(uri.getScheme())
        || uri.getHost() == null
        || uri.getPort() < 0
        || (uri.getRawPath() != null
            && !uri.getRawPath().isEmpty()
            && !uri.getRawPath().equals("/"))
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null
        || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException(notAUrl(url));
    }
    if (WILDCARDS.contains(uri.getHost())) {
      throw new IllegalArgumentException(
          "--advertise-client-urls: '"
              + url
              + "' names a wildcard address, which"
              + " clients cannot dial; give an address or name clients reach the proxy at");
    }
    return uri.getScheme() + "://" + uri.getRawAuthority();
  }

  private static String notAUrl(String url) {
    return "--advertise-client-urls: '" + url + "' is not http(s)://host:port or host:port";
  }

  @Override
  public String toString() {
    return describe();
  }
}
