package io.etcdcrypt.crypto;

import com.google.protobuf.ByteString;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The single value hook of the proxy. Every value that crosses the proxy, in either direction and
 * in every message that carries one, is passed here together with the etcd key it is stored under.
 *
 * <p>The proxy knows nothing about ciphers; implementations know nothing about gRPC or threads.
 * Results are stages: complete when returned unless a KMS plugin has to be asked. A stage that
 * completes with {@code null} means "the value stays as it is" (the key is not governed by the
 * configuration, or the identity provider read it), so callers keep the instance they have and
 * rebuild nothing; {@link #UNCHANGED} is that stage. A failure completes the stage with a {@link
 * TransformException}.
 */
public interface ValueCodec {

  /** The complete stage of a value that stays as it is. */
  CompletionStage<ByteString> UNCHANGED = CompletableFuture.completedFuture(null);

  /** The bytes to use after a transform of {@code value} that completed with {@code result}. */
  static ByteString valueOf(ByteString result, ByteString value) {
    return result == null ? value : result;
  }

  /**
   * Whether any key of the etcd interval {@code [key, rangeEnd)} may be protected. An empty {@code
   * rangeEnd} means the single key; a single zero byte means every key from {@code key} on (etcd's
   * conventions).
   */
  boolean mayProtectRange(ByteString key, ByteString rangeEnd);

  /** The bytes to store for {@code value} at {@code key}, or null: store it as it is. */
  CompletionStage<ByteString> toStorage(ByteString key, ByteString value);

  /**
   * The plaintext of the stored {@code value} at {@code key} (never ciphertext), or null: it is its
   * own plaintext. {@code modRevision} is the revision etcd returned it at; {@code listener} hears
   * of it when it is stale (written by a provider or key that is no longer the first), so it can be
   * rewritten under the current key.
   */
  CompletionStage<ByteString> fromStorage(
      ByteString key, ByteString value, long modRevision, StaleListener listener);

  /**
   * {@link #fromStorage(ByteString, ByteString, long, StaleListener)} where staleness does not
   * matter.
   */
  default CompletionStage<ByteString> fromStorage(ByteString key, ByteString value) {
    return fromStorage(key, value, 0, StaleListener.NONE);
  }

  /**
   * The codec that does the work now: this one, unless it stands for a configuration that is
   * replaced on reload ({@code SwappableCodec}), whose current generation it answers. What is
   * derived from a codec's results and kept (a shared decryption) belongs to the instance returned
   * here, and must not outlive it.
   */
  default ValueCodec current() {
    return this;
  }

  /**
   * Hears of stored values that were stale when read. Called on the request path: must not block.
   */
  @FunctionalInterface
  interface StaleListener {
    void stale(ByteString key, long modRevision);

    StaleListener NONE = (key, modRevision) -> {};
  }

  /** The codec that leaves every value as it is: etcd-crypt-proxy as a plain proxy. */
  ValueCodec IDENTITY =
      new ValueCodec() {
        @Override
        public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
          return false;
        }

        @Override
        public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
          return UNCHANGED;
        }

        @Override
        public CompletionStage<ByteString> fromStorage(
            ByteString key, ByteString value, long modRevision, StaleListener listener) {
          return UNCHANGED;
        }
      };
}
