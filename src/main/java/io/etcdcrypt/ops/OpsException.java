package io.etcdcrypt.ops;

/**
 * An operation cannot start or go on; the message says why and what to do, and never holds key
 * material.
 */
public final class OpsException extends Exception {

  public OpsException(String message) {
    super(message);
  }

  public OpsException(String message, Throwable cause) {
    super(message, cause);
  }
}
