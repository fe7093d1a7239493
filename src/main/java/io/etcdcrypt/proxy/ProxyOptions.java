package io.etcdcrypt.proxy;

import java.util.List;

/**
 * Everything the proxy server needs besides the value codec.
 *
 * @param listen where clients connect (kube-apiserver's {@code --etcd-servers})
 * @param endpoints the etcd members
 * @param listenerTls server certificate and, with a trusted CA, required client certificates
 * @param upstreamTls how the proxy authenticates to etcd and verifies it
 * @param maxRecvBytes the largest message accepted from a client or from etcd (etcd clients allow 2 GiB)
 */
public record ProxyOptions(
    Endpoint listen, List<Endpoint> endpoints, TlsFiles listenerTls, TlsFiles upstreamTls, int maxRecvBytes) {

  public static final int DEFAULT_MAX_RECV_BYTES = Integer.MAX_VALUE;

  public ProxyOptions {
    endpoints = List.copyOf(endpoints);
    if (maxRecvBytes <= 0) {
      throw new IllegalArgumentException("--max-recv-bytes must be positive");
    }
  }

  /** Plain-text options for tests and the demo. */
  public static ProxyOptions plaintext(Endpoint listen, List<Endpoint> endpoints) {
    return new ProxyOptions(listen, endpoints, TlsFiles.NONE, TlsFiles.NONE, DEFAULT_MAX_RECV_BYTES);
  }
}
