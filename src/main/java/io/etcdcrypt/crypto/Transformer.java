package io.etcdcrypt.crypto;

/**
 * One step of kube-apiserver's storage transformation: seals a value for etcd and opens it again.
 *
 * <p>Implementations are pure byte transformations with no knowledge of gRPC or etcd. The associated data is
 * always the full etcd key (for example {@code /registry/secrets/default/db}); providers that authenticate it
 * (aesgcm, KMS) bind the ciphertext to that key, the others ignore it. Implementations are thread-safe.
 */
public interface Transformer {

  /** Seals {@code plaintext} for storage. Never returns the plaintext unchanged unless this is identity. */
  byte[] encrypt(byte[] plaintext, byte[] associatedData) throws TransformException;

  /**
   * Opens a stored value. The result is stale when it was not produced by the transformer (provider, key or
   * KMS key id) that {@link #encrypt} uses now, i.e. when rewriting it would change how it is stored.
   */
  Decrypted decrypt(byte[] stored, byte[] associatedData) throws TransformException;
}
