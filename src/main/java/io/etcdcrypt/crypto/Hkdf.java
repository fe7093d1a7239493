package io.etcdcrypt.crypto;

import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF-Expand (RFC 5869 §2.3) with HMAC-SHA256, without the extract step: KMS v2's
 * {@code HKDF_SHA256_XNONCE_AES_GCM_SEED} mode derives each write's AES-256 key as
 * {@code expandSha256(seed, info, 32)}, where the seed is used directly as the PRK and {@code info} is the 32 random
 * bytes stored in front of the GCM body. With L = 32 this is a single {@code HMAC(prk, info || 0x01)}.
 *
 * <p>JCE's HmacSHA256 is used because it runs on the JDK's SHA-256 intrinsics.
 */
public final class Hkdf {

  private static final int HASH_LEN = 32;

  private Hkdf() {}

  /**
   * Returns {@code length} bytes of output keying material. {@code prk} must not be empty; {@code length} is
   * 1..8160 (255 × 32), as RFC 5869 allows.
   */
  public static byte[] expandSha256(byte[] prk, byte[] info, int length) {
    if (prk.length == 0) {
      throw new IllegalArgumentException("HKDF-Expand needs a non-empty PRK (the KMS v2 seed)");
    }
    if (length < 1 || length > 255 * HASH_LEN) {
      throw new IllegalArgumentException("HKDF-Expand output length must be 1.." + 255 * HASH_LEN + ", got " + length);
    }
    Mac mac = newMac(prk);
    byte[] okm = new byte[length];
    byte[] previous = new byte[0];
    int written = 0;
    for (int counter = 1; written < length; counter++) {
      // T(i) = HMAC(PRK, T(i-1) || info || i); the Mac resets itself after doFinal.
      mac.update(previous);
      mac.update(info);
      mac.update((byte) counter);
      previous = mac.doFinal();
      int n = Math.min(HASH_LEN, length - written);
      System.arraycopy(previous, 0, okm, written, n);
      written += n;
    }
    return okm;
  }

  private static Mac newMac(byte[] prk) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(prk, "HmacSHA256"));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM lacks HmacSHA256, which every Java 17 JDK provides", e);
    }
  }
}
