package io.etcdcrypt.kmsplugin;

import io.etcdcrypt.crypto.TransformException;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The plugin's core, independent of gRPC: wrap with the current KEK, unwrap with the KEK a
 * ciphertext names.
 */
public final class KeyWrapper {

  /** A wrapped key and the id of the KEK that wrapped it. */
  public record Wrapped(String kekId, byte[] ciphertext) {}

  /** Thrown when a ciphertext names a KEK the store does not (or no longer) hold. */
  public static final class UnknownKekException extends TransformException {
    UnknownKekException(String message) {
      super(message);
    }
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private final KekStore store;

  public KeyWrapper(KekStore store) {
    this.store = store;
  }

  public KekStore store() {
    return store;
  }

  public String currentKekId() {
    return store.ring().current().id();
  }

  public Wrapped wrap(byte[] plaintext) throws TransformException {
    Kek kek = store.ring().current();
    return new Wrapped(kek.id(), WrappedKey.wrap(kek, plaintext));
  }

  /**
   * Unwraps {@code ciphertext}. {@code expectedKekId} (KMS v2's key_id, stored beside the
   * ciphertext) must match the KEK the ciphertext names when it is given; KMS v1 passes {@code
   * null}.
   */
  public byte[] unwrap(byte[] ciphertext, String expectedKekId) throws TransformException {
    String id = WrappedKey.kekId(ciphertext);
    if (expectedKekId != null && !expectedKekId.isEmpty() && !expectedKekId.equals(id)) {
      throw new TransformException(
          "the ciphertext was wrapped by KEK "
              + id
              + " but the request names key_id "
              + expectedKekId);
    }
    Kek kek = store.ring().get(id);
    if (kek == null) {
      throw new UnknownKekException(
          "KEK "
              + id
              + " is not in the plugin's "
              + store.describe()
              + "; restore it to read data it wrapped");
    }
    return WrappedKey.unwrap(kek, ciphertext);
  }

  /**
   * Wraps and unwraps 32 random bytes with the current KEK; null when that works, else what failed.
   */
  public String selfTest() {
    try {
      byte[] probe = new byte[32];
      RANDOM.nextBytes(probe);
      Wrapped w = wrap(probe);
      byte[] back = unwrap(w.ciphertext(), w.kekId());
      return Arrays.equals(back, probe) ? null : "wrap/unwrap round trip returned different bytes";
    } catch (TransformException | RuntimeException e) {
      return "wrap/unwrap round trip with KEK "
          + currentKekIdOrUnknown()
          + " failed: "
          + e.getMessage();
    }
  }

  private String currentKekIdOrUnknown() {
    try {
      return currentKekId();
    } catch (RuntimeException e) {
      return "<none>";
    }
  }
}
