package io.etcdcrypt.crypto;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A transformer that never waits: it does its work in the calling thread and returns (identity,
 * aescbc, aesgcm, secretbox, and the data keys of KMS). Its synchronous {@link #seal} and {@link
 * #open} are what {@link PrefixTransformers} and the KMS providers call; the {@link Transformer}
 * stages merely carry their outcome.
 */
public abstract class LocalTransformer implements Transformer {

  /** Seals {@code plaintext} for storage. */
  public abstract byte[] seal(byte[] plaintext, byte[] associatedData) throws TransformException;

  /** Opens a stored value. */
  public abstract Decrypted open(byte[] stored, byte[] associatedData) throws TransformException;

  @Override
  public final CompletionStage<byte[]> encrypt(byte[] plaintext, byte[] associatedData) {
    try {
      return CompletableFuture.completedFuture(seal(plaintext, associatedData));
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public final CompletionStage<Decrypted> decrypt(byte[] stored, byte[] associatedData) {
    try {
      return CompletableFuture.completedFuture(open(stored, associatedData));
    } catch (TransformException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
