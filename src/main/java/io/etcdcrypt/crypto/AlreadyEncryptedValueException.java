package io.etcdcrypt.crypto;

/**
 * A client wrote a value that already carries a {@code k8s:enc:} prefix, and the encryption
 * configuration cannot open it: storing it would leave a value nothing reads, and wrapping it again
 * would hand the writer ciphertext as its data. The write is refused; the message names the prefix,
 * the resource, what to do and the key (last, so that a cut description keeps the cause).
 */
public final class AlreadyEncryptedValueException extends TransformException {

  AlreadyEncryptedValueException(String message) {
    super(message);
  }
}
