package io.etcdcrypt.proxy;

import java.util.List;

/**
 * Everything the proxy server needs besides the value codec.
 *
 * @param listen where clients connect (kube-apiserver's {@code --etcd-servers})
 * @param endpoints the etcd members
 * @param listenerTls server certificate and, with a trusted CA, required client certificates
 * @param upstreamTls how the proxy authenticates to etcd and verifies it
 * @param maxRecvBytes the largest message accepted from etcd (etcd clients allow 2 GiB); etcd's
 *     grpc-proxy's {@code --max-recv-bytes}
 * @param maxRequestBytes etcd's {@code --max-request-bytes}: the proxy accepts client messages of
 *     up to this plus etcd's 512 KiB of gRPC overhead, as etcd does ({@link RequestLimit})
 * @param advertiseClientUrls the client URLs Cluster responses hand out instead of the members'
 *     own; empty: the listener's ({@link ClientUrls})
 */
public record ProxyOptions(
    Endpoint listen,
    List<Endpoint> endpoints,
    TlsFiles listenerTls,
    TlsFiles upstreamTls,
    int maxRecvBytes,
    int maxRequestBytes,
    List<String> advertiseClientUrls) {

  public static final int DEFAULT_MAX_RECV_BYTES = Integer.MAX_VALUE;

  /** etcd's own default {@code --max-request-bytes}, 1.5 MiB. */
  public static final int DEFAULT_MAX_REQUEST_BYTES = RequestLimit.ETCD_DEFAULT_MAX_REQUEST_BYTES;

  public ProxyOptions {
    endpoints = List.copyOf(endpoints);
    advertiseClientUrls = List.copyOf(advertiseClientUrls);
    if (maxRecvBytes <= 0) {
      throw new IllegalArgumentException("--max-recv-bytes must be positive");
    }
    if (maxRequestBytes <= 0) {
      throw new IllegalArgumentException("--max-request-bytes must be positive");
    }
    if (!advertiseClientUrls.isEmpty()) {
      ClientUrls.of(
          advertiseClientUrls, listenerTls.enabled()); // fails naming a URL that is not one
    }
  }

  /** With etcd's default request limit and the listener's own URL handed out. */
  public ProxyOptions(
      Endpoint listen,
      List<Endpoint> endpoints,
      TlsFiles listenerTls,
      TlsFiles upstreamTls,
      int maxRecvBytes) {
    this(
        listen,
        endpoints,
        listenerTls,
        upstreamTls,
        maxRecvBytes,
        DEFAULT_MAX_REQUEST_BYTES,
        List.of());
  }

  /** Plain-text options for tests and the demo. */
  public static ProxyOptions plaintext(Endpoint listen, List<Endpoint> endpoints) {
    return new ProxyOptions(
        listen, endpoints, TlsFiles.NONE, TlsFiles.NONE, DEFAULT_MAX_RECV_BYTES);
  }

  /** These options with {@code maxRequestBytes} as etcd's {@code --max-request-bytes}. */
  public ProxyOptions withMaxRequestBytes(int maxRequestBytes) {
    return new ProxyOptions(
        listen,
        endpoints,
        listenerTls,
        upstreamTls,
        maxRecvBytes,
        maxRequestBytes,
        advertiseClientUrls);
  }

  /** These options handing out {@code urls} as every member's client URLs. */
  public ProxyOptions withAdvertiseClientUrls(List<String> urls) {
    return new ProxyOptions(
        listen, endpoints, listenerTls, upstreamTls, maxRecvBytes, maxRequestBytes, urls);
  }

  /** The client URLs Cluster responses hand out. */
  public ClientUrls clientUrls() {
    return advertiseClientUrls.isEmpty()
        ? ClientUrls.ofListener(listen, listenerTls.enabled())
        : ClientUrls.of(advertiseClientUrls, listenerTls.enabled());
  }
}
