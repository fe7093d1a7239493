package io.etcdcrypt.kms;

import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.crypto.TransformException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the KMS providers of one loaded EncryptionConfiguration and owns them: {@link #create}
 * picks KMS v1 or v2 by {@code apiVersion}; {@link #providers()} lists them (for health checks, in
 * configuration order); {@link #close()} stops them all. Use one instance per configuration
 * generation, and close it when that configuration is replaced.
 *
 * <p>The same {@code kms} entry listed again (equal name, endpoint, version, cache size and
 * timeout) gets the same provider, so it shares one plugin connection and one DEK cache.
 */
public final class KmsProviders implements KmsTransformerFactory, AutoCloseable {

  private final KmsProviderOptions options;
  private final Map<ProviderConfig.Kms, KmsProvider> providers = new LinkedHashMap<>();
  private boolean closed;

  public KmsProviders(KmsProviderOptions options) {
    this.options = options;
  }

  /** Providers with kube-apiserver's timings, the system clock and no observer. */
  public KmsProviders() {
    this(KmsProviderOptions.defaults());
  }

  /**
   * Creates (or returns the already created) provider for {@code kms}. A KMS v2 provider runs its
   * first Status check before returning (at most {@code timeout}); a plugin that is down does not
   * make this fail.
   */
  @Override
  public synchronized KmsProvider create(ProviderConfig.Kms kms) throws TransformException {
    if (closed) {
      throw new TransformException(
          "KMS providers of this configuration were closed; cannot create " + kms.describe());
    }
    KmsProvider existing = providers.get(kms);
    if (existing != null) {
      return existing;
    }
    KmsProvider created;
    try {
      created =
          switch (kms.apiVersion()) {
            case V2 -> KmsV2Transformer.start(kms, options);
            case V1 -> KmsV1Transformer.create(kms, options);
          };
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new TransformException(
          "could not configure KMS plugin \"" + kms.name() + "\": " + e.getMessage(), e);
    }
    providers.put(kms, created);
    return created;
  }

  /** The providers created so far, in creation (configuration) order. */
  public synchronized List<KmsProvider> providers() {
    return List.copyOf(providers.values());
  }

  /** Closes every provider; later {@link #create} calls fail. Idempotent. */
  @Override
  public synchronized void close() {
    closed = true;
    List<RuntimeException> failures = new ArrayList<>();
    for (KmsProvider p : providers.values()) {
      try {
        p.close();
      } catch (RuntimeException e) {
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      RuntimeException first = failures.get(0);
      failures.subList(1, failures.size()).forEach(first::addSuppressed);
      throw first;
    }
  }
}
