package io.etcdcrypt.ops.backup;

import com.google.protobuf.ByteString;
import io.etcdcrypt.ops.StoredAs;
import java.nio.charset.StandardCharsets;

/** What a stored value gives away to whoever holds the backup, beyond what the census says. */
enum Exposure {
  /** Nothing more than the configuration intends. */
  NONE,
  /** Plaintext of a resource whose rule encrypts (its first provider is not identity). */
  PLAINTEXT,
  /** Encrypted, but no provider or key of the configuration opens it (a retired or lost key). */
  UNDECRYPTABLE;

  private static final ByteString ENCRYPTED =
      ByteString.copyFrom("k8s:enc:", StandardCharsets.US_ASCII);

  static Exposure of(StoredAs v, ByteString value) {
    boolean encrypted = value.startsWith(ENCRYPTED);
    return switch (v.state()) {
      case CURRENT, NO_RULE -> NONE;
      // a stale plaintext value is read by a trailing identity; an undecryptable one by nothing
      case STALE -> encrypted ? NONE : PLAINTEXT;
      case UNDECRYPTABLE -> encrypted ? UNDECRYPTABLE : PLAINTEXT;
    };
  }
}
