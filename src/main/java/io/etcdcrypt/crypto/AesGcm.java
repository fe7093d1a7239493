package io.etcdcrypt.crypto;

import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;

/**
 * The AES-GCM body every GCM-based format shares: {@code nonce(12) || ciphertext || tag(16)}, with
 * the etcd key as associated data. This is the aesgcm provider's payload, the KMS v1 data body, the
 * KMS v2 {@code AES_GCM_KEY} {@code encryptedData}, and (after its 32-byte info) the KMS v2 HKDF
 * {@code encryptedData}.
 *
 * <p>Two ways to use it:
 *
 * <ul>
 *   <li>{@link #forKey(byte[])} for a long-lived key: the instance keeps one warm {@link Cipher}
 *       per thread, so the JDK's AES key schedule is reused across calls.
 *   <li>the static {@link #seal(SecretKey, byte[], byte[], byte[])} / {@link #open(SecretKey,
 *       byte[], byte[])} for a key used once (a per-write DEK, an HKDF-derived key).
 * </ul>
 *
 * <p>Size overhead: 28 bytes (12 nonce + 16 tag). Error messages match kube-apiserver's.
 *
 * <p>Nonce reuse: the JDK refuses to encrypt twice in a row with the same key and nonce on one
 * {@link Cipher}; that refusal surfaces as a {@link TransformException} rather than being worked
 * around.
 */
public final class AesGcm {

  public static final int NONCE_SIZE = 12;
  public static final int TAG_SIZE = 16;
  public static final int OVERHEAD = NONCE_SIZE + TAG_SIZE;

  private static final String TRANSFORMATION = "AES/GCM/NoPadding";
  private static final String AUTHENTICATION_FAILED = "cipher: message authentication failed";
  private static final int TAG_BITS = TAG_SIZE * 8;

  private final SecretKey key;
  private final int keyBits;
  private final NonceSource nonces;
  // Cipher objects are not thread-safe; one per thread keeps them warm without locking.
  private final ThreadLocal<Cipher> ciphers = ThreadLocal.withInitial(AesGcm::newCipher);
  // The one-shot methods take a new key each time, but the Cipher object itself is reusable:
  // Cipher.getInstance
  // (a provider lookup) cost more than the AES-GCM work on a 1 KiB value when it ran per call.
  private static final ThreadLocal<Cipher> ONE_SHOT_CIPHERS =
      ThreadLocal.withInitial(AesGcm::newCipher);

  private AesGcm(SecretKey key, NonceSource nonces) {
    this.key = key;
    this.keyBits = key.getEncoded().length * 8;
    this.nonces = nonces;
  }

  /**
   * An AES-GCM sealer/opener for a 16, 24 or 32 byte key; throws IllegalArgumentException for other
   * sizes.
   */
  public static AesGcm forKey(byte[] key) {
    return new AesGcm(AesKeys.spec(key), NonceSource.SECURE_RANDOM);
  }

  static AesGcm forKey(byte[] key, NonceSource nonces) {
    return new AesGcm(AesKeys.spec(key), nonces);
  }

  /** Seals with a fresh random 96-bit nonce; returns {@code nonce || ciphertext || tag}. */
  public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
    byte[] nonce = new byte[NONCE_SIZE];
    nonces.fill(nonce);
    return seal(nonce, plaintext, associatedData);
  }

  /**
   * Seals with the given nonce; returns {@code nonce || ciphertext || tag}. The caller guarantees
   * the nonce is never used twice with this key (random, or a counter as in KMS v2).
   */
  public byte[] seal(byte[] nonce, byte[] plaintext, byte[] associatedData)
      throws TransformException {
    return seal(ciphers.get(), key, nonce, plaintext, associatedData);
  }

  /** Opens {@code nonce || ciphertext || tag}. */
  public byte[] open(byte[] body, byte[] associatedData) throws TransformException {
    return open(body, 0, associatedData);
  }

  /** Opens the body that starts at {@code offset} of {@code data} and runs to its end. */
  public byte[] open(byte[] data, int offset, byte[] associatedData) throws TransformException {
    return open(ciphers.get(), key, data, offset, associatedData);
  }

  /** One-shot seal for a key used once; returns {@code nonce || ciphertext || tag}. */
  public static byte[] seal(SecretKey key, byte[] nonce, byte[] plaintext, byte[] associatedData)
      throws TransformException {
    return seal(ONE_SHOT_CIPHERS.get(), key, nonce, plaintext, associatedData);
  }

  /** One-shot open of {@code nonce || ciphertext || tag} for a key used once. */
  public static byte[] open(SecretKey key, byte[] body, byte[] associatedData)
      throws TransformException {
    return open(key, body, 0, associatedData);
  }

  /**
   * One-shot open of the {@code nonce || ciphertext || tag} that starts at {@code offset} of {@code
   * data}.
   */
  public static byte[] open(SecretKey key, byte[] data, int offset, byte[] associatedData)
      throws TransformException {
    return open(ONE_SHOT_CIPHERS.get(), key, data, offset, associatedData);
  }

  private static byte[] seal(
      Cipher cipher, SecretKey key, byte[] nonce, byte[] plaintext, byte[] aad)
      throws TransformException {
    if (nonce.length != NONCE_SIZE) {
      throw new IllegalArgumentException(
          "AES-GCM nonce must be " + NONCE_SIZE + " bytes, got " + nonce.length);
    }
    byte[] out = new byte[NONCE_SIZE + plaintext.length + TAG_SIZE];
    System.arraycopy(nonce, 0, out, 0, NONCE_SIZE);
    try {
      cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
    } catch (InvalidAlgorithmParameterException e) {
      throw new TransformException("refusing to reuse an AES-GCM nonce with the same key", e);
    } catch (GeneralSecurityException e) {
      throw new TransformException(
          "AES-GCM encryption could not start: " + e.getClass().getSimpleName(), e);
    }
    try {
      cipher.updateAAD(aad);
      cipher.doFinal(plaintext, 0, plaintext.length, out, NONCE_SIZE);
      return out;
    } catch (GeneralSecurityException e) {
      throw new TransformException("AES-GCM encryption failed: " + e.getClass().getSimpleName(), e);
    }
  }

  private static byte[] open(Cipher cipher, SecretKey key, byte[] data, int offset, byte[] aad)
      throws TransformException {
    int length = data.length - offset;
    if (length < NONCE_SIZE) {
      throw new TransformException("the stored data was shorter than the required size");
    }
    if (length < NONCE_SIZE + TAG_SIZE) {
      // No room for a tag: Go's GCM fails authentication; the JDK would throw a ProviderException
      // instead.
      throw new TransformException(AUTHENTICATION_FAILED);
    }
    try {
      cipher.init(
          Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, offset, NONCE_SIZE));
      cipher.updateAAD(aad);
      return cipher.doFinal(data, offset + NONCE_SIZE, length - NONCE_SIZE);
    } catch (AEADBadTagException e) {
      // Wrong key, wrong etcd key (AAD), or tampered bytes: GCM cannot tell which. Go's text, as
      // upstream logs it.
      throw new TransformException(AUTHENTICATION_FAILED);
    } catch (GeneralSecurityException e) {
      throw new TransformException("AES-GCM decryption failed: " + e.getClass().getSimpleName(), e);
    }
  }

  private static Cipher newCipher() {
    try {
      return Cipher.getInstance(TRANSFORMATION);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(
          "this JVM lacks " + TRANSFORMATION + ", which every Java 17 JDK provides", e);
    }
  }

  @Override
  public String toString() {
    return "AesGcm[AES-" + keyBits + "-GCM, key redacted]";
  }
}
