package io.etcdcrypt.ops;

import io.etcdcrypt.proxy.ProxyMarker;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Refuses an etcd-crypt-proxy where a tool needs etcd itself: through the proxy, census and rewrap
 * would see plaintext and write values encrypted twice, and a snapshot would not be etcd's. The
 * proxy marks every response ({@link ProxyMarker}); one gRPC health check, which etcd answers
 * without credentials, shows the mark.
 */
public final class ProxyCheck {

  private ProxyCheck() {}

  /**
   * @throws OpsException when {@code channel} reaches an etcd-crypt-proxy; a call that fails
   *     without the mark is left to the tool's own calls to report
   */
  public static void refuseProxy(Channel channel, String endpoints, Duration timeout)
      throws OpsException {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    try {
      HealthGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .check(HealthCheckRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      // etcd unreachable, or no health service: not a proxy's answer unless marked
    }
    String version = marked(headers.get());
    if (version == null) {
      version = marked(trailers.get());
    }
    if (version != null) {
      throw new OpsException(
          endpoints
              + " is an etcd-crypt-proxy ("
              + version
              + "), not etcd: give etcd's own address (the proxy's --endpoints), with the etcd client"
              + " certificates, so that stored values are read as etcd keeps them");
    }
  }

  private static String marked(Metadata m) {
    return m == null ? null : m.get(ProxyMarker.KEY);
  }
}
