package io.etcdcrypt.ops;

import io.etcdcrypt.crypto.DecryptedDetail;
import java.util.Optional;

/**
 * Values that only a format without integrity opened: aescbc, and KMS v1's AES-CBC fallback for
 * values Kubernetes 1.24 and older wrote. Such a format cannot tell a corrupt or moved value from a
 * good one: about 1 in 256 of them decrypts "successfully" to garbage. Re-encrypting that garbage
 * under AES-GCM or KMS v2 would make it authentic and hide the damage from census for good, so the
 * tools that rewrite values (rewrap, rewriting on read) never do it on their own.
 *
 * <p>A second guard needs no operator: every value kube-apiserver stores is a Kubernetes object,
 * protobuf behind the {@code k8s\0} magic or JSON; garbage is neither.
 */
final class Unauthenticated {

  private static final byte[] PROTOBUF_MAGIC = {'k', '8', 's', 0};

  private Unauthenticated() {}

  /**
   * Why the plaintext of {@code d} must not be re-encrypted, or empty when it may be. {@code
   * operatorAllows} is rewrap's {@code --rewrite-unauthenticated}.
   */
  static Optional<String> whyNotRewrite(DecryptedDetail d, boolean operatorAllows) {
    if (!d.unauthenticated()) {
      return Optional.empty();
    }
    if (!looksLikeKubernetesObject(d.plaintext())) {
      return Optional.of(notAnObject(d));
    }
    if (operatorAllows) {
      return Optional.empty();
    }
    return Optional.of(
        "opened by "
            + d.matchedPrefix()
            + " without authentication (such a value, when corrupt or moved, can decrypt to"
            + " garbage); left as it is: once census shows nothing else wrong, run rewrap with"
            + " --rewrite-unauthenticated");
  }

  /** Why census and verify-backup count {@code d} as unreadable, or empty when it reads. */
  static Optional<String> whyUnreadable(DecryptedDetail d) {
    return d.unauthenticated() && !looksLikeKubernetesObject(d.plaintext())
        ? Optional.of(notAnObject(d))
        : Optional.empty();
  }

  private static String notAnObject(DecryptedDetail d) {
    return "opened by "
        + d.matchedPrefix()
        + " without authentication, and what came out is not a Kubernetes object: the value is"
        + " corrupt or was moved from another key; restore it from a backup or delete it";
  }

  /** Protobuf behind Kubernetes' magic, or a JSON object (CRDs and JSON-stored resources). */
  static boolean looksLikeKubernetesObject(byte[] plaintext) {
    if (plaintext.length >= PROTOBUF_MAGIC.length) {
      boolean magic = true;
      for (int i = 0; i < PROTOBUF_MAGIC.length && magic; i++) {
        magic = plaintext[i] == PROTOBUF_MAGIC[i];
      }
      if (magic) {
        return true;
      }
    }
    for (byte b : plaintext) {
      if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
        return b == '{';
      }
    }
    return false;
  }
}
