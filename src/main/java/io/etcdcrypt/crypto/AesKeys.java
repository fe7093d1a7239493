package io.etcdcrypt.crypto;

import javax.crypto.spec.SecretKeySpec;

/**
 * Validation shared by the AES providers: kube-apiserver accepts AES-128, AES-192 and AES-256 keys.
 */
final class AesKeys {

  private AesKeys() {}

  /** A ready JCE key; the caller's array is copied, never retained. */
  static SecretKeySpec spec(byte[] key) {
    int n = key.length;
    if (n != 16 && n != 24 && n != 32) {
      throw new IllegalArgumentException(
          "invalid AES key size "
              + n
              + " bytes: use a 16, 24 or 32 byte key (base64 of 16/24/32 random bytes)");
    }
    return new SecretKeySpec(key, "AES");
  }
}
