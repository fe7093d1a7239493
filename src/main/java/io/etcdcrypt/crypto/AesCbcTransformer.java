package io.etcdcrypt.crypto;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.IvParameterSpec;

/**
 * kube-apiserver's {@code aescbc} provider body for one key: AES-CBC with PKCS#7 padding and a
 * random IV, stored as {@code IV(16) || AES-CBC(plaintext || padding)}. There is no MAC and no
 * associated data: tampering is detected only when it breaks the padding, and a value copied to
 * another etcd key still opens. Upstream rates this provider weak; prefer aesgcm, secretbox or KMS
 * v2.
 *
 * <p>Size overhead of a stored value: {@code len("k8s:enc:aescbc:v1:") + len(keyName) + 1} bytes of
 * prefix (added by the provider's {@link PrefixTransformers}) plus 16 bytes of IV plus 1..16 bytes
 * of padding (16 when the plaintext length is a multiple of 16), i.e. 19 + len(keyName) + 16 + (16
 * − len(plaintext) mod 16) bytes.
 *
 * <p>Reads apply upstream's checks in upstream's order, with its messages: length at least 16;
 * ciphertext a whole number of blocks; last byte p with 1 ≤ p ≤ length; the last p bytes all equal
 * p.
 */
public final class AesCbcTransformer extends LocalTransformer {

  private static final int BLOCK = 16;

  private final SecretKey key;
  private final int keyBits;
  private final NonceSource ivs;
  // JCE pads on the way in; on the way out we unpad ourselves so each malformed value gets
  // upstream's own error.
  private final ThreadLocal<Cipher> encryptors =
      ThreadLocal.withInitial(() -> newCipher("AES/CBC/PKCS5Padding"));
  private final ThreadLocal<Cipher> decryptors =
      ThreadLocal.withInitial(() -> newCipher("AES/CBC/NoPadding"));

  /** A transformer for a 16, 24 or 32 byte key; throws IllegalArgumentException for other sizes. */
  public AesCbcTransformer(byte[] key) {
    this(key, NonceSource.SECURE_RANDOM);
  }

  /** For tests that reproduce recorded values: the IV comes from {@code ivs}. */
  AesCbcTransformer(byte[] key, NonceSource ivs) {
    this.key = AesKeys.spec(key);
    this.keyBits = key.length * 8;
    this.ivs = ivs;
  }

  @Override
  public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
    byte[] iv = new byte[BLOCK];
    ivs.fill(iv);
    int padding = BLOCK - plaintext.length % BLOCK;
    byte[] out = new byte[BLOCK + plaintext.length + padding];
    System.arraycopy(iv, 0, out, 0, BLOCK);
    try {
      Cipher cipher = encryptors.get();
      cipher.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(iv));
      cipher.doFinal(plaintext, 0, plaintext.length, out, BLOCK);
      return out;
    } catch (GeneralSecurityException e) {
      throw new TransformException("AES-CBC encryption failed: " + e.getClass().getSimpleName(), e);
    }
  }

  @Override
  public Decrypted open(byte[] stored, byte[] associatedData) throws TransformException {
    if (stored.length < BLOCK) {
      throw new TransformException("the stored data was shorter than the required size");
    }
    int bodyLength = stored.length - BLOCK;
    if (bodyLength % BLOCK != 0) {
      throw new TransformException("the stored data is not a multiple of the block size");
    }
    if (bodyLength == 0) {
      // Upstream indexes the last byte of an empty slice here (a panic); an empty body can never be
      // valid PKCS#7.
      throw new TransformException("invalid PKCS7 data (empty or not padded)");
    }
    byte[] padded;
    try {
      Cipher cipher = decryptors.get();
      cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(stored, 0, BLOCK));
      padded = cipher.doFinal(stored, BLOCK, bodyLength);
    } catch (GeneralSecurityException e) {
      throw new TransformException("AES-CBC decryption failed: " + e.getClass().getSimpleName(), e);
    }
    int padding = padded[padded.length - 1] & 0xff;
    if (padding == 0 || padding > padded.length) {
      throw new TransformException("invalid PKCS7 data (empty or not padded)");
    }
    int size = padded.length - padding;
    for (int i = size; i < padded.length; i++) {
      if ((padded[i] & 0xff) != padding) {
        throw new TransformException("invalid padding on input");
      }
    }
    // Only the padding vouches for it: 1 in 256 corrupt or moved values passes (see Decrypted).
    return Decrypted.unauthenticated(Arrays.copyOf(padded, size));
  }

  private static Cipher newCipher(String transformation) {
    try {
      return Cipher.getInstance(transformation);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(
          "this JVM lacks " + transformation + ", which every Java 17 JDK provides", e);
    }
  }

  @Override
  public String toString() {
    return "AesCbcTransformer[AES-" + keyBits + "-CBC, key redacted]";
  }
}
