package io.etcdcrypt.testing;

import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.TransformObserver;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Builds the production codec from EncryptionConfiguration text, as {@code serve} does from a file.
 */
public final class TestCodecs {
  private static final SecureRandom RANDOM = new SecureRandom();

  private TestCodecs() {}

  public static EncryptionCodec fromYaml(String yaml, KmsTransformerFactory kms) {
    return fromYaml(yaml, kms, TransformObserver.NONE);
  }

  /** {@link #fromYaml(String, KmsTransformerFactory)} reporting to {@code observer}. */
  public static EncryptionCodec fromYaml(
      String yaml, KmsTransformerFactory kms, TransformObserver observer) {
    try {
      return EncryptionCodec.create(
          EncryptionConfigLoader.parse(yaml, "test-config"),
          new ResourceResolver("/registry"),
          kms,
          observer);
    } catch (Exception e) {
      throw new IllegalStateException("test configuration rejected: " + e.getMessage(), e);
    }
  }

  /** Secrets under AES-GCM with one fresh key named {@code key1}; nothing else governed. */
  public static EncryptionCodec secretsUnderAesGcm() {
    return secretsUnderAesGcm(TransformObserver.NONE);
  }

  /** {@link #secretsUnderAesGcm()} reporting to {@code observer}. */
  public static EncryptionCodec secretsUnderAesGcm(TransformObserver observer) {
    return fromYaml(
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets]",
            "    providers: [{aesgcm: {keys: [{name: key1, secret: " + randomKey(32) + "}]}}]",
            ""),
        KmsTransformerFactory.UNAVAILABLE,
        observer);
  }

  /**
   * Counts decryptions that succeeded: one sample of the provider level ({@code prefix}, e.g.
   * {@code k8s:enc:aesgcm:v1:}) per value.
   */
  public static TransformObserver countingDecryptions(String prefix, AtomicLong count) {
    return new TransformObserver() {
      @Override
      public void transformed(
          String resource,
          Direction direction,
          String transformerPrefix,
          long nanos,
          TransformException error) {
        if (direction == Direction.FROM_STORAGE
            && prefix.equals(transformerPrefix)
            && error == null) {
          count.incrementAndGet();
        }
      }
    };
  }

  /** Base64 of {@code n} fresh random bytes: a key for the configuration. */
  public static String randomKey(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }
}
