package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.grpc.StatusException;

/**
 * Where a message walk gets each value's transform from, in message order. The walk asks for every
 * value it meets and builds the message from the answers; it never learns whether a transform
 * waited.
 */
interface ValueSource {

  /**
   * The bytes to store for {@code value} at {@code key}: {@code value} itself when the key is not
   * governed.
   */
  ByteString seal(ByteString key, ByteString value) throws StatusException;

  /**
   * The plaintext of the stored {@code value} at {@code key}: {@code value} itself when it is its
   * own plaintext. {@code current} values (not history such as a watch event's previous value) are
   * reported when stale.
   */
  ByteString open(ByteString key, ByteString value, long modRevision, boolean current)
      throws StatusException;
}
