package io.etcdcrypt.observe;

import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceRule;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsHealth;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.kms.KmsProviders;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * kube-apiserver's KMS health checks for {@code /readyz} and {@code /healthz} (never {@code
 * /livez}: a dead plugin makes the proxy unready, not dead). Every KMS provider of the file, in
 * file order, v1 and v2 alike, is member {@code kms-provider-<index>}. With at least one KMS v1
 * provider each member is a check of its own; with only KMS v2 providers (or with automatic reload)
 * they form one check, {@code kms-providers}, which reports {@code <member>: <error>} for each
 * failing member.
 *
 * <p>Providers cache their health ({@link KmsProvider#health()}); the check itself calls nothing
 * more often. The providers log when their plugin becomes unhealthy and when it recovers; the
 * checks log nothing more.
 */
public final class KmsHealthChecks {

  /**
   * How long a passing KMS health result is reused. kube-apiserver keeps it 20 s; the proxy keeps
   * it 10 s so that, with the plugin call timeout (3 s by default), a dead plugin fails {@code
   * /readyz} within about 15 s. A failing result is kept 3 s, as upstream, so a plugin that comes
   * back is noticed as quickly.
   */
  public static final Duration PASSING_RESULT_TTL = Duration.ofSeconds(10);

  private KmsHealthChecks() {}

  private record Member(String name, KmsProvider provider) {}

  /**
   * The checks for {@code config} loaded once (no automatic reload): none without KMS providers.
   * Providers come from {@code kms}, which must have built them already (the codec has).
   */
  public static List<HealthCheck> forConfig(EncryptionConfiguration config, KmsProviders kms) {
    List<Member> members = new ArrayList<>();
    boolean anyV1 = false;
    for (ResourceRule rule : config.rules()) {
      for (ProviderConfig p : rule.providers()) {
        if (p instanceof ProviderConfig.Kms k) {
          members.add(new Member(MetricNames.kmsProviderCheck(members.size()), providerOf(kms, k)));
          anyV1 |= k.apiVersion() == KmsApiVersion.V1;
        }
      }
    }
    if (members.isEmpty()) {
      return List.of();
    }
    if (!anyV1) {
      return List.of(HealthCheck.of(MetricNames.CHECK_KMS_PROVIDERS, () -> aggregate(members)));
    }
    return members.stream()
        .map(m -> HealthCheck.of(m.name(), () -> failure(m.provider().health())))
        .toList();
  }

  /**
   * The single {@code kms-providers} check used with automatic reload: it checks whichever
   * providers {@code current} returns (those of the configuration loaded now), and passes when
   * there are none.
   */
  public static HealthCheck forReloadedConfig(Supplier<List<KmsProvider>> current) {
    return HealthCheck.of(
        MetricNames.CHECK_KMS_PROVIDERS,
        () -> {
          List<KmsProvider> providers = current.get();
          List<Member> members = new ArrayList<>(providers.size());
          for (KmsProvider p : providers) {
            members.add(new Member(MetricNames.kmsProviderCheck(members.size()), p));
          }
          return aggregate(members);
        });
  }

  /**
   * Runs every member; one failure reads as itself, several as {@code [a, b]} (upstream's error
   * aggregate).
   */
  private static Optional<String> aggregate(List<Member> members) {
    List<String> failures = new ArrayList<>();
    for (Member m : members) {
      failure(m.provider().health()).ifPresent(error -> failures.add(m.name() + ": " + error));
    }
    if (failures.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        failures.size() == 1 ? failures.get(0) : "[" + String.join(", ", failures) + "]");
  }

  private static Optional<String> failure(KmsHealth health) {
    return health.ok() ? Optional.empty() : Optional.of(health.text());
  }

  private static KmsProvider providerOf(KmsProviders kms, ProviderConfig.Kms config) {
    try {
      return kms.create(config); // returns the provider the codec already created for this entry
    } catch (TransformException e) {
      throw new IllegalStateException(
          "KMS provider "
              + config.name()
              + " is not available for health checks: "
              + e.getMessage(),
          e);
    }
  }
}
