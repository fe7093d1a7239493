package io.etcdcrypt.crypto;

/**
 * A value could not be sealed or opened. The message says why in words an operator can act on; it
 * never contains a value, a plaintext or key material.
 */
public class TransformException extends Exception {

  public TransformException(String message) {
    super(message);
  }

  public TransformException(String message, Throwable cause) {
    super(message, cause);
  }
}
