package io.etcdcrypt.crypto;

/**
 * kube-apiserver's {@code aesgcm} provider body for one key: AES-GCM with a random 96-bit nonce and
 * the etcd key as associated data, stored as {@code nonce(12) || ciphertext || tag(16)}.
 *
 * <p>Size overhead of a stored value: {@code len("k8s:enc:aesgcm:v1:") + len(keyName) + 1} bytes of
 * prefix (added by the provider's {@link PrefixTransformers}) plus 28 bytes (12 nonce + 16 tag),
 * i.e. 19 + len(keyName) + 28 = 47 + len(keyName) bytes more than the plaintext.
 *
 * <p>Random nonces mean the key must be rotated long before nonces could collide; kube-apiserver's
 * documentation asks for a rotation every 200,000 writes. Values moved to another etcd key fail to
 * open (AAD binding).
 */
public final class AesGcmTransformer extends LocalTransformer {

  private final AesGcm gcm;

  /** A transformer for a 16, 24 or 32 byte key; throws IllegalArgumentException for other sizes. */
  public AesGcmTransformer(byte[] key) {
    this(key, NonceSource.SECURE_RANDOM);
  }

  /** For tests that reproduce recorded values: the nonce comes from {@code nonces}. */
  AesGcmTransformer(byte[] key, NonceSource nonces) {
    this.gcm = AesGcm.forKey(key, nonces);
  }

  @Override
  public byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException {
    return gcm.seal(plaintext, associatedData);
  }

  @Override
  public Decrypted open(byte[] stored, byte[] associatedData) throws TransformException {
    return Decrypted.fresh(gcm.open(stored, associatedData));
  }

  @Override
  public String toString() {
    return "AesGcmTransformer[" + gcm + "]";
  }
}
