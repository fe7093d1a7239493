package io.etcdcrypt.ops;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceRule;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.kms.KmsProviders;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/** Waiting for a configuration's KMS providers to become usable, with kube-apiserver's timings. */
public final class KmsReadiness {

  /** How often the health of new providers is checked while waiting (kube-apiserver: 100 ms). */
  static final Duration CHECK_INTERVAL = Duration.ofMillis(100);

  /** The least time new providers get to become healthy (kube-apiserver: 10 s). */
  public static final Duration MIN_WAIT = Duration.ofSeconds(10);

  private KmsReadiness() {}

  /**
   * Waits until every provider of {@code kms} is healthy, checking every 100 ms, for at most {@code
   * limit}. Returns the failures, one per unhealthy provider ({@code kms-provider <name>:
   * <error>}), or nothing when all are healthy; a configuration without KMS providers is healthy at
   * once.
   */
  public static List<String> await(KmsProviders kms, Duration limit) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (true) {
      List<String> failures = failures(kms.providers());
      if (failures.isEmpty() || System.nanoTime() >= deadline) {
        return failures;
      }
      Thread.sleep(CHECK_INTERVAL.toMillis());
    }
  }

  static List<String> failures(List<KmsProvider> providers) {
    return providers.stream()
        .filter(p -> !p.health().ok())
        .map(p -> "kms-provider " + p.name() + ": " + p.health().text())
        .collect(Collectors.toList());
  }

  /**
   * kube-apiserver's KMSCloseGracePeriod: twice the sum of every KMS provider's timeout, a v1
   * provider counting twice (its health check encrypts and decrypts). How long the providers of a
   * replaced configuration stay open for requests that started with them, and (at least {@link
   * #MIN_WAIT}) how long new ones get to become healthy.
   */
  public static Duration closeGracePeriod(EncryptionConfiguration config) {
    Duration sum = Duration.ZERO;
    for (ResourceRule rule : config.rules()) {
      for (ProviderConfig p : rule.providers()) {
        if (p instanceof ProviderConfig.Kms kms) {
          sum =
              sum.plus(
                  kms.apiVersion() == KmsApiVersion.V1
                      ? kms.timeout().multipliedBy(2)
                      : kms.timeout());
        }
      }
    }
    return sum.multipliedBy(2);
  }

  /**
   * How long new providers of {@code config} get to become healthy: the grace period, at least 10
   * s.
   */
  public static Duration healthWait(EncryptionConfiguration config) {
    Duration grace = closeGracePeriod(config);
    return grace.compareTo(MIN_WAIT) > 0 ? grace : MIN_WAIT;
  }
}
