package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.ValueCodec;
import java.util.Optional;

/**
 * The codec's answers as the tools use them: they run on threads of their own and may wait while a
 * KMS plugin decrypts a data key, which the proxy's request path never does.
 */
final class Waits {

  private Waits() {}

  /**
   * What the value stored at {@code key} is; {@link EncryptionCodec#inspect} reports failures in
   * the result.
   */
  static Optional<EncryptionCodec.Inspection> inspect(
      EncryptionCodec codec, ByteString key, ByteString value) {
    return codec.inspect(key, value).toCompletableFuture().join();
  }

  /**
   * The bytes to store for {@code plaintext} at {@code key} under the codec's current providers,
   * whatever it looks like ({@link EncryptionCodec#seal}): a rewrite never changes what clients
   * read.
   */
  static ByteString seal(EncryptionCodec codec, ByteString key, ByteString plaintext)
      throws TransformException {
    return ValueCodec.valueOf(Stages.join(codec.seal(key, plaintext)), plaintext);
  }
}
