package io.etcdcrypt.kms;

import io.etcdcrypt.crypto.LocalTransformer;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * The seed a KMS v2 provider writes with now: its transformer, the EncryptedObject fields every
 * write repeats (key id, encrypted seed, annotations, type; no data), its read-cache key, and the
 * instant after which it must not encrypt any more (3 minutes after the plugin last answered Status
 * well).
 */
record KmsV2WriteState(
    LocalTransformer writer,
    CompletableFuture<LocalTransformer> cacheEntry,
    EncryptedObject template,
    DekSourceCacheKey cacheKey,
    Instant expiresAt) {

  /**
   * A new seed's state; {@code cacheEntry} is its writer as a read-cache entry, made once per seed.
   */
  static KmsV2WriteState of(
      LocalTransformer writer,
      EncryptedObject template,
      DekSourceCacheKey cacheKey,
      Instant expiresAt) {
    return new KmsV2WriteState(
        writer, CompletableFuture.completedFuture(writer), template, cacheKey, expiresAt);
  }

  /**
   * The state of a provider that only reads: the key id its plugin's Status reports and the source
   * type a write would use, for telling stale values; no seed, so {@link #writer()} is null.
   */
  static KmsV2WriteState readOnly(String keyId, Instant expiresAt) {
    EncryptedObject current =
        EncryptedObject.newBuilder()
            .setKeyID(keyId)
            .setEncryptedDEKSourceType(EncryptedDEKSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED)
            .build();
    return new KmsV2WriteState(null, null, current, null, expiresAt);
  }

  String keyId() {
    return template.getKeyID();
  }

  KmsV2WriteState withExpiry(Instant newExpiry) {
    return new KmsV2WriteState(writer, cacheEntry, template, cacheKey, newExpiry);
  }

  @Override
  public String toString() {
    return "KmsV2WriteState[keyIdHash="
        + KeyIds.hash(keyId())
        + ", expiresAt="
        + expiresAt
        + ", seed redacted]";
  }
}
