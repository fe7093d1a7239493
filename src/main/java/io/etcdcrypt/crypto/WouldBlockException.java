package io.etcdcrypt.crypto;

/**
 * A transform was about to wait on a remote call on a thread that must not wait (see {@link NonBlockingThreads}).
 * Not an error: the caller runs the transform again on a thread that may wait. Unchecked, so that it passes the
 * provider chain, which tries the next provider on a {@link TransformException} but must not on this.
 */
public final class WouldBlockException extends RuntimeException {

  WouldBlockException(String what) {
    // No stack trace: this is control flow, thrown once per DEK-cache miss or KMS v1 write on an event loop.
    super("would wait on an event-loop thread for " + what, null, false, false);
  }
}
