package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.ValueCodec;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * The proxy's codec when the configuration may be reloaded: every call goes to the codec current
 * when the call starts, and {@link #swap} replaces it atomically. A call already running finishes
 * with the instance it started with, which stays usable until its KMS providers are closed after
 * the grace period (see {@link ConfigReloader}).
 *
 * <p>Code that needs one codec for several steps (open every value of one response, or inspect then
 * rewrite) should take {@link #current()} once and use that instance throughout.
 */
public final class SwappableCodec implements ValueCodec {

  private volatile EncryptionCodec current;

  public SwappableCodec(EncryptionCodec initial) {
    this.current = Objects.requireNonNull(initial, "initial");
  }

  /** The codec new calls use now. */
  @Override
  public EncryptionCodec current() {
    return current;
  }

  /**
   * Makes {@code next} the codec of every call that starts from now on; returns the one it
   * replaces.
   */
  public EncryptionCodec swap(EncryptionCodec next) {
    Objects.requireNonNull(next, "next");
    synchronized (this) {
      EncryptionCodec previous = current;
      current = next;
      return previous;
    }
  }

  @Override
  public boolean mayProtectRange(ByteString key, ByteString rangeEnd) {
    return current.mayProtectRange(key, rangeEnd);
  }

  @Override
  public CompletionStage<ByteString> toStorage(ByteString key, ByteString value) {
    return current.toStorage(key, value);
  }

  @Override
  public CompletionStage<ByteString> fromStorage(
      ByteString key, ByteString value, long modRevision, StaleListener listener) {
    return current.fromStorage(key, value, modRevision, listener);
  }

  @Override
  public String toString() {
    return "SwappableCodec[" + current.config() + "]";
  }
}
