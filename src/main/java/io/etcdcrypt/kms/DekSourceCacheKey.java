package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import io.etcdcrypt.kms.proto.v2.EncryptedObject;
import java.util.Map;

/**
 * Identifies one decrypted DEK/seed: everything the plugin's Decrypt depends on (source type,
 * encrypted DEK source, key id, annotations). Two stored values with equal keys open with the same
 * DEK/seed. kube-apiserver keys its cache by a SHA-256 over these fields; comparing the fields
 * themselves is the same relation, without hashing a digest on every read.
 */
public record DekSourceCacheKey(
    EncryptedDEKSourceType type,
    ByteString encryptedDekSource,
    String keyId,
    Map<String, ByteString> annotations) {

  public DekSourceCacheKey {
    annotations = Map.copyOf(annotations);
  }

  /** The key of the DEK/seed that opens {@code o}. */
  public static DekSourceCacheKey of(EncryptedObject o) {
    return new DekSourceCacheKey(
        o.getEncryptedDEKSourceType(),
        o.getEncryptedDEKSource(),
        o.getKeyID(),
        o.getAnnotationsMap());
  }

  public static DekSourceCacheKey of(
      EncryptedDEKSourceType type,
      ByteString encryptedDekSource,
      String keyId,
      Map<String, ByteString> annotations) {
    return new DekSourceCacheKey(type, encryptedDekSource, keyId, annotations);
  }

  /** The key id's hash only: the rest is ciphertext nobody needs in a log. */
  @Override
  public String toString() {
    return "DekSourceCacheKey[" + type + ", keyIdHash=" + KeyIds.hash(keyId) + "]";
  }
}
