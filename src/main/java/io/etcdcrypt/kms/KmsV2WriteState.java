package io.etcdcrypt.kms;

import io.etcdcrypt.crypto.Transformer;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.time.Instant;

/**
 * The seed a KMS v2 provider writes with now: its transformer, the EncryptedObject fields every write repeats
 * (key id, encrypted seed, annotations, type; no data), its read-cache key, and the instant after which it must
 * not encrypt any more (3 minutes after the plugin last answered Status well).
 */
record KmsV2WriteState(
    Transformer writer, EncryptedObject template, DekSourceCacheKey cacheKey, Instant expiresAt) {

  String keyId() {
    return template.getKeyID();
  }

  KmsV2WriteState withExpiry(Instant newExpiry) {
    return new KmsV2WriteState(writer, template, cacheKey, newExpiry);
  }

  @Override
  public String toString() {
    return "KmsV2WriteState[keyIdHash=" + KeyIds.hash(keyId()) + ", expiresAt=" + expiresAt + ", seed redacted]";
  }
}
