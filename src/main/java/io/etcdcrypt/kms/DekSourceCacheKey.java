package io.etcdcrypt.kms;

import com.google.protobuf.ByteString;
import io.etcdcrypt.kms.proto.v2.EncryptedDEKSourceType;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Identifies one decrypted DEK/seed: everything the plugin's Decrypt depends on (source type, encrypted DEK
 * source, key id, annotations), hashed to 32 bytes as kube-apiserver does. Two stored values with the same key
 * open with the same DEK/seed.
 */
public final class DekSourceCacheKey {

  private final byte[] digest;
  private final int hash;

  private DekSourceCacheKey(byte[] digest) {
    this.digest = digest;
    this.hash = Arrays.hashCode(digest);
  }

  /**
   * SHA-256 of {@code u32BE(type) || lp16(source) || lp16(keyId)} and, when there are annotations,
   * {@code || u32BE(count) || (lp16(key) || lp16(value)) sorted by key}; {@code lp16(x) = u16BE(len x) || x}.
   */
  public static DekSourceCacheKey of(
      EncryptedDEKSourceType type, ByteString encryptedDekSource, String keyId, Map<String, ByteString> annotations) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + encryptedDekSource.size());
    writeU32(out, type.getNumber());
    writeLp16(out, encryptedDekSource.toByteArray());
    writeLp16(out, keyId.getBytes(StandardCharsets.UTF_8));
    if (!annotations.isEmpty()) {
      writeU32(out, annotations.size());
      for (Map.Entry<String, ByteString> e : new TreeMap<>(annotations).entrySet()) {
        writeLp16(out, e.getKey().getBytes(StandardCharsets.UTF_8));
        writeLp16(out, e.getValue().toByteArray());
      }
    }
    return new DekSourceCacheKey(SHA256.get().digest(out.toByteArray()));
  }

  // Computed on every KMS v2 read: a per-thread digest saves a provider lookup each time.
  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  });

  private static void writeU32(ByteArrayOutputStream out, int v) {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }

  private static void writeLp16(ByteArrayOutputStream out, byte[] b) {
    // Sizes are validated before (<= 1 KiB for sources and ids, <= 32 KiB for all annotations together).
    out.write(b.length >>> 8);
    out.write(b.length);
    out.write(b, 0, b.length);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DekSourceCacheKey k && Arrays.equals(k.digest, digest);
  }

  @Override
  public int hashCode() {
    return hash;
  }

  @Override
  public String toString() {
    return "DekSourceCacheKey[" + String.format("%08x", hash) + "]";
  }
}
