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
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Transformers and codecs as tests call them: each waits (at most {@link #LIMIT}) for the stage and
 * throws the {@link TransformException} it failed with, so {@code
 * assertThrows(UnreadableValueException.class, ...)} reads as before the API went asynchronous. The
 * proxy itself never waits this way.
 */
public final class Sync {

  /** Longer than any KMS timeout a test configures. */
  static final Duration LIMIT = Duration.ofSeconds(30);

  private Sync() {}

  /**
   * The stage's outcome, or the TransformException it failed with; fails the test if it takes over
   * a limit.
   */
  public static <T> T await(CompletionStage<T> stage) throws TransformException {
    try {
      return stage.toCompletableFuture().get(LIMIT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw Stages.asTransformException(e);
    } catch (TimeoutException e) {
      throw new AssertionError("a transform did not complete within " + LIMIT.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for a transform", e);
    }
  }

  public static byte[] encrypt(Transformer t, byte[] plaintext, byte[] associatedData)
      throws TransformException {
    return await(t.encrypt(plaintext, associatedData));
  }

  public static Decrypted decrypt(Transformer t, byte[] stored, byte[] associatedData)
      throws TransformException {
    return await(t.decrypt(stored, associatedData));
  }

  public static DecryptedDetail decryptDetailed(
      PrefixTransformers t, byte[] stored, byte[] associatedData) throws TransformException {
    return await(t.decryptDetailed(stored, associatedData));
  }

  /**
   * The bytes the codec stores for {@code value}: {@code value} itself when it leaves it as it is.
   */
  public static ByteString toStorage(ValueCodec codec, ByteString key, ByteString value)
      throws TransformException {
    return ValueCodec.valueOf(await(codec.toStorage(key, value)), value);
  }

  /**
   * The plaintext the codec opens {@code value} to: {@code value} itself when it is its own
   * plaintext.
   */
  public static ByteString fromStorage(ValueCodec codec, ByteString key, ByteString value)
      throws TransformException {
    return ValueCodec.valueOf(await(codec.fromStorage(key, value)), value);
  }

  public static ByteString fromStorage(
      ValueCodec codec,
      ByteString key,
      ByteString value,
      long modRevision,
      ValueCodec.StaleListener listener)
      throws TransformException {
    return ValueCodec.valueOf(await(codec.fromStorage(key, value, modRevision, listener)), value);
  }

  public static Optional<EncryptionCodec.Inspection> inspect(
      EncryptionCodec codec, ByteString key, ByteString value) throws TransformException {
    return await(codec.inspect(key, value));
  }
}
