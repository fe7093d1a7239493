package io.etcdcrypt.crypto;

/**
 * The plaintext of a stored value, and whether it is stale (written by a provider or key that is no
 * longer the first one, so a rewrite would re-encrypt it under the current key).
 */
public record Decrypted(byte[] plaintext, boolean stale) {

  public static Decrypted fresh(byte[] plaintext) {
    return new Decrypted(plaintext, false);
  }

  public Decrypted markStale(boolean alsoStale) {
    return alsoStale && !stale ? new Decrypted(plaintext, true) : this;
  }

  @Override
  public String toString() {
    // Never print plaintext: it is the secret this project exists to protect.
    return "Decrypted[" + plaintext.length + " bytes, stale=" + stale + "]";
  }
}
