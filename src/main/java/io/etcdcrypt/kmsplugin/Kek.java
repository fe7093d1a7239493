package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.crypto.TransformException;

/**
 * One key-encryption key of the bundled plugin: AES-256-GCM that seals and opens DEKs/seeds. {@link
 * #seal} returns {@code nonce(12) || ciphertext || tag(16)} with a fresh random nonce. Where the
 * key lives (in memory from a key file, or on a PKCS#11 token that never releases it) is up to the
 * implementation. Thread-safe.
 */
public interface Kek {

  /** The KEK's id: the KMS key_id under which the plugin reports and uses it. */
  String id();

  byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException;

  byte[] open(byte[] sealed, byte[] associatedData) throws TransformException;
}
