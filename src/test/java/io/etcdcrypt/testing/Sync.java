package io.etcdcrypt.testing;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.Decrypted;
import io.etcdcrypt.crypto.DecryptedDetail;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.PrefixTransformers;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.Transformer;
import io.etcdcrypt.crypto.ValueCodec;
import java.util.Optional;

/**
 * Transformers and codecs as tests call them: each waits for the stage and throws the {@link TransformException} it
 * failed with, so {@code assertThrows(UnreadableValueException.class, ...)} reads as before the API went
 * asynchronous. The proxy itself never waits this way.
 */
public final class Sync {

  private Sync() {}

  public static byte[] encrypt(Transformer t, byte[] plaintext, byte[] associatedData) throws TransformException {
    return Stages.join(t.encrypt(plaintext, associatedData));
  }

  public static Decrypted decrypt(Transformer t, byte[] stored, byte[] associatedData) throws TransformException {
    return Stages.join(t.decrypt(stored, associatedData));
  }

  public static DecryptedDetail decryptDetailed(PrefixTransformers t, byte[] stored, byte[] associatedData)
      throws TransformException {
    return Stages.join(t.decryptDetailed(stored, associatedData));
  }

  /** The bytes the codec stores for {@code value}: {@code value} itself when it leaves it as it is. */
  public static ByteString toStorage(ValueCodec codec, ByteString key, ByteString value) throws TransformException {
    return ValueCodec.valueOf(Stages.join(codec.toStorage(key, value)), value);
  }

  /** The plaintext the codec opens {@code value} to: {@code value} itself when it is its own plaintext. */
  public static ByteString fromStorage(ValueCodec codec, ByteString key, ByteString value) throws TransformException {
    return ValueCodec.valueOf(Stages.join(codec.fromStorage(key, value)), value);
  }

  public static ByteString fromStorage(ValueCodec codec, ByteString key, ByteString value, long modRevision,
      ValueCodec.StaleListener listener) throws TransformException {
    return ValueCodec.valueOf(Stages.join(codec.fromStorage(key, value, modRevision, listener)), value);
  }

  public static Optional<EncryptionCodec.Inspection> inspect(EncryptionCodec codec, ByteString key, ByteString value)
      throws TransformException {
    return Stages.join(codec.inspect(key, value));
  }
}
