package io.etcdcrypt.crypto;

import com.google.protobuf.ByteString;

/**
 * The single value hook of the proxy. Every value that crosses the proxy, in either direction and in every
 * message that carries one, is passed here together with the etcd key it is stored under.
 *
 * <p>The proxy knows nothing about ciphers; implementations know nothing about gRPC.
 */
public interface ValueCodec {

  /**
   * Whether any key of the etcd interval {@code [key, rangeEnd)} may be protected. An empty {@code rangeEnd}
   * means the single key; a single zero byte means every key from {@code key} on (etcd's conventions).
   */
  boolean mayProtectRange(ByteString key, ByteString rangeEnd);

  /**
   * Returns the bytes to store for {@code value} at {@code key}: the very same instance when the key is not
   * governed by the configuration, so callers can skip rebuilding messages without a second lookup.
   */
  ByteString toStorage(ByteString key, ByteString value) throws TransformException;

  /**
   * Returns the plaintext of the stored {@code value} at {@code key}, never ciphertext; the very same instance
   * when the key is not governed by the configuration.
   */
  ByteString fromStorage(ByteString key, ByteString value) throws TransformException;

  /**
   * {@link #fromStorage(ByteString, ByteString)} for a value etcd returned at {@code modRevision}, telling
   * {@code listener} when the value is stale (written by a provider or key that is no longer the first), so it
   * can be rewritten under the current key.
   */
  default ByteString fromStorage(ByteString key, ByteString value, long modRevision, StaleListener listener)
      throws TransformException {
    return fromStorage(key, value);
  }

  /** Hears of stored values that were stale when read. Called on the request path: must not block. */
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
        public ByteString toStorage(ByteString key, ByteString value) {
          return value;
        }

        @Override
        public ByteString fromStorage(ByteString key, ByteString value) {
          return value;
        }
      };
}
