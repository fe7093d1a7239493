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
 * @param maxInFlightBytes {@code --max-in-flight-bytes}: the bytes of requests and responses the
 *     proxy holds at once, across calls ({@link InFlightBytes}); at least the largest request
 */
public record ProxyOptions(
    Endpoint listen,
    List<Endpoint> endpoints,
    TlsFiles listenerTls,
    TlsFiles upstreamTls,
    int maxRecvBytes,
    int maxRequestBytes,
    List<String> advertiseClientUrls,
    long maxInFlightBytes) {

  public static final int DEFAULT_MAX_RECV_BYTES = Integer.MAX_VALUE;

  /** etcd's own default {@code --max-request-bytes}, 1.5 MiB. */
  public static final int DEFAULT_MAX_REQUEST_BYTES = RequestLimit.ETCD_DEFAULT_MAX_REQUEST_BYTES;

  /** {@code --max-in-flight-bytes}' default, 32 MiB. */
  public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = InFlightBytes.DEFAULT_MAX;

  public ProxyOptions {
    endpoints = List.copyOf(endpoints);
    advertiseClientUrls = List.copyOf(advertiseClientUrls);
    if (maxRecvBytes <= 0) {
      throw new IllegalArgumentException("--max-recv-bytes must be positive");
    }
    if (maxRequestBytes <= 0) {
      throw new IllegalArgumentException("--max-request-bytes must be positive");
    }
    long largestRequest = RequestLimit.ofEtcd(maxRequestBytes).maxMessageBytes();
    if (maxInFlightBytes < largestRequest) {
      throw new IllegalArgumentException(
          "--max-in-flight-bytes "
              + maxInFlightBytes
              + " is less than the largest request the proxy accepts (--max-request-bytes "
              + maxRequestBytes
              + " plus 512 KiB: "
              + largestRequest
              + "), which could then never be relayed; give at least that, better several times it");
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
        List.of(),
        DEFAULT_MAX_IN_FLIGHT_BYTES);
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
        advertiseClientUrls,
        Math.max(maxInFlightBytes, RequestLimit.ofEtcd(maxRequestBytes).maxMessageBytes()));
  }

  /** These options handing out {@code urls} as every member's client URLs. */
  public ProxyOptions withAdvertiseClientUrls(List<String> urls) {
    return new ProxyOptions(
        listen,
        endpoints,
        listenerTls,
        upstreamTls,
        maxRecvBytes,
        maxRequestBytes,
        urls,
        maxInFlightBytes);
  }

  /** These options holding at most {@code bytes} of requests and responses at once. */
  public ProxyOptions withMaxInFlightBytes(long bytes) {
    return new ProxyOptions(
        listen,
        endpoints,
        listenerTls,
        upstreamTls,
        maxRecvBytes,
        maxRequestBytes,
        advertiseClientUrls,
        bytes);
  }

  /** The client URLs Cluster responses hand out. */
  public ClientUrls clientUrls() {
    return advertiseClientUrls.isEmpty()
        ? ClientUrls.ofListener(listen, listenerTls.enabled())
        : ClientUrls.of(advertiseClientUrls, listenerTls.enabled());
  }
}
