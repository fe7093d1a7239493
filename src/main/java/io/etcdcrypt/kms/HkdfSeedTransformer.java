package io.etcdcrypt.kms;

import io.etcdcrypt.crypto.AesGcm;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.Hkdf;
import io.etcdcrypt.crypto.LocalTransformer;
import io.etcdcrypt.crypto.SecureRandoms;
import io.etcdcrypt.crypto.TransformException;
import java.util.Arrays;
import java.util.function.Consumer;
import javax.crypto.spec.SecretKeySpec;

/**
 * KMS v2's {@code HKDF_SHA256_XNONCE_AES_GCM_SEED} body: each write draws 32 random bytes of {@code
 * info}, derives {@code k = HKDF-Expand-SHA256(seed, info, 32)} (no extract step, no salt) and
 * stores {@code info(32) || nonce(12) || AES-256-GCM_k(plaintext, AAD = etcd key)}. A fresh key per
 * write removes any practical limit on writes per seed, so one seed serves a process for as long as
 * the KMS key id is unchanged.
 */
final class HkdfSeedTransformer extends LocalTransformer {

  static final int INFO_SIZE = 32;
  static final int MIN_SEED_SIZE = 32;

  private final Hkdf.Sha256Expander hkdf;
  private final Consumer<byte[]> random;

  HkdfSeedTransformer(byte[] seed) throws TransformException {
    this(seed, SecureRandoms.SHARED::nextBytes);
  }

  /** {@code random} fills the info and the nonce; tests pin it to reproduce recorded values. */
  HkdfSeedTransformer(byte[] seed, Consumer<byte[]> random) throws TransformException {
    if (seed.length < MIN_SEED_SIZE) {
      throw new TransformException(
          "KMS v2 seed is " + seed.length + " bytes; at least " + MIN_SEED_SIZE + " are required");
    }
    this.hkdf = new Hkdf.Sha256Expander(seed);
    this.random = random;
  }

  @Override
  public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
    byte[] info = new byte[INFO_SIZE];
    random.accept(info);
    byte[] nonce = new byte[AesGcm.NONCE_SIZE];
    random.accept(nonce);
    byte[] body = AesGcm.seal(derivedKey(info), nonce, plaintext, associatedData);
    byte[] out = new byte[INFO_SIZE + body.length];
    System.arraycopy(info, 0, out, 0, INFO_SIZE);
    System.arraycopy(body, 0, out, INFO_SIZE, body.length);
    return out;
  }

  @Override
  public Decrypted open(byte[] stored, byte[] associatedData) throws TransformException {
    if (stored.length < INFO_SIZE) {
      throw new TransformException("the stored data was shorter than the required size");
    }
    byte[] info = Arrays.copyOf(stored, INFO_SIZE);
    return Decrypted.fresh(AesGcm.open(derivedKey(info), stored, INFO_SIZE, associatedData));
  }

  private SecretKeySpec derivedKey(byte[] info) {
    return new SecretKeySpec(hkdf.expand(info, 32), "AES");
  }

  @Override
  public String toString() {
    return "HkdfSeedTransformer[seed redacted]";
  }
}
