package io.etcdcrypt.kms;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * How KMS key ids appear in messages and metrics: {@code sha256:<hex>} (empty for an empty id), as
 * upstream.
 */
public final class KeyIds {

  private KeyIds() {}

  public static String hash(String keyId) {
    if (keyId == null || keyId.isEmpty()) {
      return "";
    }
    try {
      byte[] d =
          MessageDigest.getInstance("SHA-256").digest(keyId.getBytes(StandardCharsets.UTF_8));
      return "sha256:" + HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
