package io.etcdcrypt.crypto;

import java.nio.charset.StandardCharsets;

/**
 * kube-apiserver's {@code identity} provider: stores values as they are.
 *
 * <p>Reading refuses values that start with the reserved marker {@code k8s:enc:}, so encrypted data
 * is never handed out as if it were plaintext. Inside a provider list that refusal is skipped
 * silently (see {@link PrefixTransformers}), which is what lets {@code [identity, aesgcm]} read
 * both plaintext and encrypted objects.
 *
 * <p>Size overhead: none (no prefix, no nonce, no tag).
 */
public final class IdentityTransformer extends LocalTransformer {

  /**
   * The marker every encrypted value starts with; plaintext objects start with {@code k8s\0} or a
   * JSON brace.
   */
  public static final byte[] ENCRYPTED_MARKER = "k8s:enc:".getBytes(StandardCharsets.US_ASCII);

  /** Stateless, so one instance serves everybody. */
  public static final IdentityTransformer INSTANCE = new IdentityTransformer();

  @Override
  public byte[] seal(byte[] plaintext, byte[] associatedData) {
    return plaintext;
  }

  /** Returns {@code stored} itself (not a copy) unless it is encrypted data. */
  @Override
  public Decrypted open(byte[] stored, byte[] associatedData) throws TransformException {
    if (isEncrypted(stored)) {
      throw new TransformException("identity transformer tried to read encrypted data");
    }
    return Decrypted.fresh(stored);
  }

  /** Whether {@code value} carries the {@code k8s:enc:} marker of an encrypted value. */
  public static boolean isEncrypted(byte[] value) {
    return Bytes.startsWith(value, ENCRYPTED_MARKER);
  }

  @Override
  public String toString() {
    return "IdentityTransformer";
  }
}
