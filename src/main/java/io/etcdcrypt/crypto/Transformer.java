package io.etcdcrypt.crypto;

import java.util.concurrent.CompletionStage;

/**
 * One step of kube-apiserver's storage transformation: seals a value for etcd and opens it again.
 *
 * <p>Implementations are byte transformations with no knowledge of gRPC or etcd. The associated
 * data is always the full etcd key (for example {@code /registry/secrets/default/db}); providers
 * that authenticate it (aesgcm, KMS) bind the ciphertext to that key, the others ignore it.
 * Implementations are thread-safe.
 *
 * <p>Results are stages because a KMS provider may have to ask its plugin first (a KMS v1 write, a
 * read whose data key is not cached); every other transformer is a {@link LocalTransformer}, whose
 * stages are complete when they are returned. A failure completes the stage with a {@link
 * TransformException}; nothing is thrown.
 */
public interface Transformer {

  /**
   * Seals {@code plaintext} for storage. Never returns the plaintext unchanged unless this is
   * identity.
   */
  CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData);

  /**
   * Opens a stored value. The result is stale when it was not produced by the transformer
   * (provider, key or KMS key id) that {@link #encrypt} uses now, i.e. when rewriting it would
   * change how it is stored.
   */
  CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData);
}
