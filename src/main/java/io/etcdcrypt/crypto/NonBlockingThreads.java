package io.etcdcrypt.crypto;

/**
 * Threads that must never wait on a remote call: the proxy's event loops, each of which serves many connections.
 *
 * <p>Value transforms run on the event loop that read the message, which costs no thread hand-off. The few that
 * would wait on a KMS plugin (a KMS v1 write, a read whose DEK is not cached) call {@link #checkMayWait} before
 * they wait; on a marked thread that throws {@link WouldBlockException} and the proxy runs the whole transform
 * again on a thread that may wait. Nothing has waited or been sent by then, so the retry is safe.
 */
public final class NonBlockingThreads {

  private static final ThreadLocal<Boolean> MARKED = new ThreadLocal<>();

  private NonBlockingThreads() {}

  /** Marks the calling thread as one that must not wait; called once when an event-loop thread starts. */
  public static void markCurrent() {
    MARKED.set(Boolean.TRUE);
  }

  /** Whether the calling thread must not wait. */
  public static boolean isCurrent() {
    return MARKED.get() == Boolean.TRUE;
  }

  /**
   * Returns when the calling thread may wait for {@code what}; throws {@link WouldBlockException} on a thread that
   * must not.
   */
  public static void checkMayWait(String what) {
    if (isCurrent()) {
      throw new WouldBlockException(what);
    }
  }
}
