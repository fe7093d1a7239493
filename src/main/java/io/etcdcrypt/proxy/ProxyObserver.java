package io.etcdcrypt.proxy;

import io.grpc.ClientInterceptor;
import io.grpc.ServerInterceptor;
import java.util.List;

/**
 * Hooks for watching the proxy's traffic (metrics): interceptors on every call a client makes to
 * the proxy and on every call the proxy makes to etcd. The defaults add nothing.
 */
public interface ProxyObserver {

  /** Observes nothing. */
  ProxyObserver NONE = new ProxyObserver() {};

  /**
   * Run on every client call, transformed, raw and refused methods alike; the first one runs
   * outermost.
   */
  default List<ServerInterceptor> clientCallInterceptors() {
    return List.of();
  }

  /**
   * Run on every call to etcd (relayed calls and the proxy's own health checks); the first one runs
   * outermost.
   */
  default List<ClientInterceptor> upstreamCallInterceptors() {
    return List.of();
  }
}
