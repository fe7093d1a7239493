package io.etcdcrypt.crypto;

/**
 * What {@link PrefixTransformers#decryptDetailed} learned while opening a value: the plaintext,
 * whether it is stale, and which entry opened it.
 *
 * @param matchedPrefix the full prefix of the value's writer, across every nested level, e.g.
 *     {@code k8s:enc:aesgcm:v1:key1:} or {@code k8s:enc:kms:v2:my-kms:}; {@value #IDENTITY} when
 *     the identity provider read it. Census and rewrap use it to say which provider and key wrote a
 *     value.
 * @param providerPrefix the prefix of the outermost entry that opened it, e.g. {@code
 *     k8s:enc:aesgcm:v1:}, or {@value #IDENTITY}: kube-apiserver's {@code transformer_prefix}
 *     metric label.
 * @param unauthenticated see {@link Decrypted#unauthenticated()}: some level of the value was
 *     opened without a MAC.
 */
public record DecryptedDetail(
    byte[] plaintext,
    boolean stale,
    String matchedPrefix,
    String providerPrefix,
    boolean unauthenticated) {

  /**
   * The label kube-apiserver uses for values read by the identity provider (whose prefix is empty).
   */
  public static final String IDENTITY = "identity";

  public Decrypted toDecrypted() {
    return new Decrypted(plaintext, stale, unauthenticated);
  }

  /** Whether the identity provider read the value, i.e. it was stored as plaintext. */
  public boolean readAsPlaintext() {
    return IDENTITY.equals(matchedPrefix);
  }

  @Override
  public String toString() {
    // Never print plaintext: it is the secret this project exists to protect.
    return "DecryptedDetail["
        + plaintext.length
        + " bytes, stale="
        + stale
        + ", matchedPrefix="
        + matchedPrefix
        + (unauthenticated ? ", unauthenticated" : "")
        + "]";
  }
}
