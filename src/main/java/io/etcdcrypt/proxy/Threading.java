package io.etcdcrypt.proxy;

/**
 * How the proxy spends threads.
 *
 * <p>Every call runs on the event loop that read it (grpc {@code directExecutor}) and the listener
 * and the upstream channel share one event-loop group: relaying a call then costs no thread
 * hand-off at all, where grpc-java's defaults (a cached executor pool, separate event loops for
 * server and channel) cost four wake-ups per unary call. On a 2-core machine that halved the
 * proxy's CPU per request (see bench/README.md).
 *
 * <p>No thread waits for a KMS plugin: a value transform that needs one (a KMS v1 write, a read
 * whose data key is not cached) returns a stage, the plugin call runs asynchronously, and the
 * call's {@link Relay} continues on its event loop when the plugin answers. Everything else, KMS v2
 * writes and cached reads included, completes on the spot.
 *
 * @param eventLoopThreads threads of the shared event-loop group (one per core the proxy may use; 1
 *     avoids every hand-off between the client and the etcd connection)
 */
public record Threading(int eventLoopThreads) {

  public Threading {
    if (eventLoopThreads < 1) {
      throw new IllegalArgumentException("--event-loop-threads must be at least 1");
    }
  }

  /** One event-loop thread. */
  public static Threading defaults() {
    return new Threading(1);
  }
}
