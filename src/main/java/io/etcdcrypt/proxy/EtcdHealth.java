package io.etcdcrypt.proxy;

import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Whether etcd answers: the gRPC health service every etcd member serves (it needs no etcd credentials),
 * asked through the proxy's own upstream channel so it sees what client requests would see.
 */
public final class EtcdHealth {

  private final Upstream upstream;

  public EtcdHealth(Upstream upstream) {
    this.upstream = upstream;
  }

  /** Empty when etcd serves, else why not. */
  public Optional<String> check() {
    try {
      HealthCheckResponse r =
          HealthGrpc.newBlockingStub(upstream.channel())
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
      return r.getStatus() == HealthCheckResponse.ServingStatus.SERVING
          ? Optional.empty()
          : Optional.of("etcd reports " + r.getStatus());
    } catch (StatusRuntimeException e) {
      return Optional.of("etcd at " + upstream.endpoints() + " unreachable: " + e.getStatus());
    }
  }
}
