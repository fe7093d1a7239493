package io.etcdcrypt.ops;

/**
 * etcd could not be read or written even after retrying; the message says what failed and what to
 * check.
 */
public final class EtcdAccessException extends RuntimeException {

  public EtcdAccessException(String message, Throwable cause) {
    super(message, cause);
  }
}
