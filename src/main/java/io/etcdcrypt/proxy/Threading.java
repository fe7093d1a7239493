package io.etcdcrypt.proxy;

/**
 * How the proxy spends threads.
 *
 * <p>Every call runs on the event loop that read it (grpc {@code directExecutor}) and the listener and the upstream
 * channel share one event-loop group: relaying a call then costs no thread hand-off at all, where grpc-java's
 * defaults (a cached executor pool, separate event loops for server and channel) cost four wake-ups per unary call.
 * On a 2-core machine that halved the proxy's CPU per request (see bench/README.md).
 *
 * <p>A value transform that would wait on a KMS plugin (a KMS v1 write, a read whose DEK is not cached) never
 * waits on an event loop: it is detected before it waits ({@link io.etcdcrypt.crypto.NonBlockingThreads}) and that
 * one message is transformed on a small pool of waiting threads instead, then relayed from there. Everything else,
 * KMS v2 writes and cached reads included, stays on the event loop.
 *
 * @param eventLoopThreads threads of the shared event-loop group (one per core the proxy may use; 1 avoids every
 *     hand-off between the client and the etcd connection)
 * @param waitingThreads threads that run transforms waiting on a KMS plugin; at most this many plugin calls of
 *     the request path are outstanding at once, the other such messages queue
 */
public record Threading(int eventLoopThreads, int waitingThreads) {

  /** Plugin calls are sub-millisecond when the plugin is well; a few threads keep up with any write rate. */
  public static final int DEFAULT_WAITING_THREADS = 8;

  public Threading {
    if (eventLoopThreads < 1) {
      throw new IllegalArgumentException("--event-loop-threads must be at least 1");
    }
    if (waitingThreads < 1) {
      throw new IllegalArgumentException("waiting threads must be at least 1");
    }
  }

  /** One event-loop thread, and {@value #DEFAULT_WAITING_THREADS} threads for transforms that wait. */
  public static Threading defaults() {
    return new Threading(1, DEFAULT_WAITING_THREADS);
  }
}
