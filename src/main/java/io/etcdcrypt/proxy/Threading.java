package io.etcdcrypt.proxy;

/**
 * How the proxy spends threads.
 *
 * <p>By default every call runs on the event loop that read it (grpc {@code directExecutor}) and the listener and
 * the upstream channel share one event-loop group: relaying a call then costs no thread hand-off at all, where
 * grpc-java's defaults (a cached executor pool, separate event loops for server and channel) cost four wake-ups per
 * unary call. On a 2-core machine that halved the proxy's CPU per request (see bench/README.md).
 *
 * <p>Running transforms on an event loop is right only when they never wait: local providers. KMS v1 calls its
 * plugin on every write and KMS v2 on every read that misses its DEK cache (for the whole timeout while the plugin
 * is down), so with any KMS provider {@code transformsMayBlock} moves calls to grpc-java's executor pool.
 *
 * @param eventLoopThreads threads of the shared event-loop group (one per core the proxy may use; 1 avoids every
 *     hand-off between the client and the etcd connection)
 * @param transformsMayBlock whether a value transform may wait on a remote call (a KMS plugin)
 */
public record Threading(int eventLoopThreads, boolean transformsMayBlock) {

  public Threading {
    if (eventLoopThreads < 1) {
      throw new IllegalArgumentException("--event-loop-threads must be at least 1");
    }
  }

  /** One event-loop thread, transforms on it. */
  public static Threading defaults() {
    return new Threading(1, false);
  }
}
