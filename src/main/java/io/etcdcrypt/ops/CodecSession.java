package io.etcdcrypt.ops;

import io.etcdcrypt.config.ConfigException;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The EncryptionConfiguration the tools apply and its codec, with every KMS provider healthy.
 * Closing it closes the KMS providers.
 */
public final class CodecSession implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CodecSession.class);

  private final EncryptionConfiguration config;
  private final ResourceResolver resolver;
  private final KmsProviders kms;
  private final EncryptionCodec codec;

  private CodecSession(
      EncryptionConfiguration config,
      ResourceResolver resolver,
      KmsProviders kms,
      EncryptionCodec codec) {
    this.config = config;
    this.resolver = resolver;
    this.kms = kms;
    this.codec = codec;
  }

  /**
   * Loads {@code configFile}, builds its providers and waits for its KMS providers to be healthy
   * (at most {@code kmsWait}). With {@link Access#READ_ONLY}, KMS plugins are asked for Status and
   * Decrypt only, never Encrypt, and the codec cannot write.
   *
   * @throws OpsException when the configuration is invalid, a provider cannot be built, or a KMS
   *     provider does not become healthy; nothing is left open then
   */
  public static CodecSession open(
      Path configFile, String etcdPrefix, Duration kmsWait, Access access)
      throws OpsException, InterruptedException {
    EncryptionConfiguration config;
    try {
      config = EncryptionConfigLoader.load(configFile);
    } catch (ConfigException e) {
      throw new OpsException("invalid --encryption-provider-config: " + e.getMessage(), e);
    }
    config
        .warnings()
        .forEach(w -> log.warn("encryption configuration: {}: {}", w.path(), w.message()));
    ResourceResolver resolver = new ResourceResolver(etcdPrefix);
    KmsProviderOptions options = KmsProviderOptions.defaults();
    KmsProviders kms =
        new KmsProviders(access == Access.READ_ONLY ? options.readingOnly() : options);
    try {
      EncryptionCodec codec = EncryptionCodec.create(config, resolver, kms);
      List<String> unhealthy = KmsReadiness.await(kms, kmsWait);
      if (!unhealthy.isEmpty()) {
        throw new OpsException(
            "KMS providers did not become healthy within "
                + kmsWait.toSeconds()
                + " s: "
                + String.join("; ", unhealthy)
                + ". Check that the plugins run and their sockets are reachable.");
      }
      return new CodecSession(config, resolver, kms, codec);
    } catch (TransformException e) {
      kms.close();
      throw new OpsException(
          "cannot build the providers of " + configFile + ": " + e.getMessage(), e);
    } catch (OpsException | InterruptedException | RuntimeException e) {
      kms.close();
      throw e;
    }
  }

  /** Whether a tool writes values (rewrap) or only reads them (census, verify-backup, dry runs). */
  public enum Access {
    READ_ONLY,
    READ_WRITE
  }

  public EncryptionConfiguration config() {
    return config;
  }

  public ResourceResolver resolver() {
    return resolver;
  }

  public EncryptionCodec codec() {
    return codec;
  }

  @Override
  public void close() {
    kms.close();
  }
}
