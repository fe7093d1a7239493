package io.etcdcrypt.crypto;

/**
 * The plaintext of a stored value, whether it is stale (written by a provider or key that is no
 * longer the first one, so a rewrite would re-encrypt it under the current key), and whether it was
 * opened without authentication.
 *
 * @param unauthenticated opened by a format without integrity (aescbc, KMS v1's AES-CBC fallback):
 *     a corrupt or tampered value can open "successfully" as garbage, so nothing may re-encrypt
 *     this plaintext into an authenticated format without asking (see {@code ops.Laundering}).
 */
public record Decrypted(byte[] plaintext, boolean stale, boolean unauthenticated) {

  public static Decrypted fresh(byte[] plaintext) {
    return new Decrypted(plaintext, false, false);
  }

  /** A plaintext that only padding, not a MAC, vouches for. */
  public static Decrypted unauthenticated(byte[] plaintext) {
    return new Decrypted(plaintext, false, true);
  }

  public Decrypted markStale(boolean alsoStale) {
    return alsoStale && !stale ? new Decrypted(plaintext, true, unauthenticated) : this;
  }

  @Override
  public String toString() {
    // Never print plaintext: it is the secret this project exists to protect.
    return "Decrypted["
        + plaintext.length
        + " bytes, stale="
        + stale
        + (unauthenticated ? ", unauthenticated" : "")
        + "]";
  }
}
