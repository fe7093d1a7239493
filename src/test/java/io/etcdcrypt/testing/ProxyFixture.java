package io.etcdcrypt.testing;

import io.etcd.jetcd.Client;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.proxy.Endpoint;
import io.etcdcrypt.proxy.ProxyOptions;
import io.etcdcrypt.proxy.ProxyServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.stream.Collectors;

/** An in-process etcd-crypt-proxy on a free loopback port in front of the given etcd members. */
public final class ProxyFixture implements AutoCloseable {

  private final ProxyServer server;

  private ProxyFixture(ProxyServer server) {
    this.server = server;
  }

  public static ProxyFixture start(ValueCodec codec, String... etcdEndpoints) {
    return start(codec, List.of(etcdEndpoints));
  }

  public static ProxyFixture start(ValueCodec codec, List<String> etcdEndpoints) {
    List<Endpoint> endpoints =
        etcdEndpoints.stream().map(Endpoint::parse).collect(Collectors.toList());
    return start(codec, ProxyOptions.plaintext(new Endpoint("127.0.0.1", 0), endpoints));
  }

  /** Starts a proxy with explicit options (TLS, limits); listen on port 0 to get a free port. */
  public static ProxyFixture start(ValueCodec codec, ProxyOptions options) {
    RealComponentsGuard.starting("a proxy on a loopback port");
    try {
      return new ProxyFixture(ProxyServer.start(options, codec));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code 127.0.0.1:port} of the proxy, as etcdctl's {@code --endpoints} takes it. */
  public String endpoint() {
    return "127.0.0.1:" + server.port();
  }

  public String url() {
    return "http://" + endpoint();
  }

  /** A jetcd client connected to the proxy. */
  public Client client() {
    return Clients.jetcd(url());
  }

  public ProxyServer server() {
    return server;
  }

  @Override
  public void close() {
    server.close();
  }
}
