package io.etcdcrypt.crypto;

import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF-Expand (RFC 5869 §2.3) with HMAC-SHA256, without the extract step: KMS v2's {@code
 * HKDF_SHA256_XNONCE_AES_GCM_SEED} mode derives each write's AES-256 key as {@code
 * expandSha256(seed, info, 32)}, where the seed is used directly as the PRK and {@code info} is the
 * 32 random bytes stored in front of the GCM body. With L = 32 this is a single {@code HMAC(prk,
 * info || 0x01)}.
 *
 * <p>JCE's HmacSHA256 is used because it runs on the JDK's SHA-256 intrinsics.
 */
public final class Hkdf {

  private static final int HASH_LEN = 32;

  private Hkdf() {}

  /**
   * Returns {@code length} bytes of output keying material. {@code prk} must not be empty; {@code
   * length} is 1..8160 (255 × 32), as RFC 5869 allows.
   */
  public static byte[] expandSha256(byte[] prk, byte[] info, int length) {
    requireUsablePrk(prk);
    return expand(newMac(prk), info, length);
  }

  /**
   * HKDF-Expand-SHA256 under one PRK, for deriving many keys from it (a KMS v2 seed derives one per
   * value): the HMAC key schedule is computed once per thread instead of on every call. Holds the
   * PRK; never printed.
   */
  public static final class Sha256Expander {
    private final ThreadLocal<Mac> macs;

    public Sha256Expander(byte[] prk) {
      requireUsablePrk(prk);
      byte[] key = prk.clone();
      this.macs = ThreadLocal.withInitial(() -> keyedMac(key));
    }

    /** {@code HKDF-Expand(prk, info, length)}; the same as {@link #expandSha256} with this PRK. */
    public byte[] expand(byte[] info, int length) {
      return Hkdf.expand(macs.get(), info, length);
    }

    @Override
    public String toString() {
      return "Hkdf.Sha256Expander[prk redacted]";
    }
  }

  private static void requireUsablePrk(byte[] prk) {
    if (prk.length == 0) {
      throw new IllegalArgumentException("HKDF-Expand needs a non-empty PRK (the KMS v2 seed)");
    }
  }

  /**
   * Expands with {@code mac}, already keyed with the PRK; a Mac resets to its keyed state after
   * doFinal.
   */
  private static byte[] expand(Mac mac, byte[] info, int length) {
    if (length < 1 || length > 255 * HASH_LEN) {
      throw new IllegalArgumentException(
          "HKDF-Expand output length must be 1.." + 255 * HASH_LEN + ", got " + length);
    }
    byte[] okm = new byte[length];
    byte[] previous = new byte[0];
    int written = 0;
    for (int counter = 1; written < length; counter++) {
      // T(i) = HMAC(PRK, T(i-1) || info || i)
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

  private static Mac keyedMac(byte[] prk) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(prk, "HmacSHA256"));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(
          "this JVM lacks HmacSHA256, which every Java 17 JDK provides", e);
    }
  }

  // KMS v2 derives a key per value: Mac.getInstance (a provider lookup) per call cost as much as
  // the HMAC itself.
  private static final ThreadLocal<Mac> MACS =
      ThreadLocal.withInitial(
          () -> {
            try {
              return Mac.getInstance("HmacSHA256");
            } catch (GeneralSecurityException e) {
              throw new IllegalStateException(
                  "this JVM lacks HmacSHA256, which every Java 17 JDK provides", e);
            }
          });

  private static Mac newMac(byte[] prk) {
    Mac mac = MACS.get();
    try {
      mac.init(new SecretKeySpec(prk, "HmacSHA256"));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 refused a " + prk.length + "-byte key", e);
    }
  }
}
