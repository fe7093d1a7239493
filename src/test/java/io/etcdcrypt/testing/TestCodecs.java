package io.etcdcrypt.testing;

import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Builds the production codec from EncryptionConfiguration text, as {@code serve} does from a file.
 */
public final class TestCodecs {
  private static final SecureRandom RANDOM = new SecureRandom();

  private TestCodecs() {}

  public static EncryptionCodec fromYaml(String yaml, KmsTransformerFactory kms) {
    try {
      return EncryptionCodec.create(
          EncryptionConfigLoader.parse(yaml, "test-config"),
          new ResourceResolver("/registry"),
          kms);
    } catch (Exception e) {
      throw new IllegalStateException("test configuration rejected: " + e.getMessage(), e);
    }
  }

  /** Secrets under AES-GCM with one fresh key named {@code key1}; nothing else governed. */
  public static EncryptionCodec secretsUnderAesGcm() {
    return fromYaml(
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets]",
            "    providers: [{aesgcm: {keys: [{name: key1, secret: " + randomKey(32) + "}]}}]",
            ""),
        KmsTransformerFactory.UNAVAILABLE);
  }

  /** Base64 of {@code n} fresh random bytes: a key for the configuration. */
  public static String randomKey(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }
}
