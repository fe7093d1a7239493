package io.etcdcrypt.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.KmsPluginExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Check names and messages as kube-apiserver registers them (§4.3), over real providers and a real
 * plugin.
 */
@RealComponents
class KmsHealthChecksTest {

  @RegisterExtension static final KmsPluginExtension plugin = new KmsPluginExtension();

  private static String live;
  private static String dead;

  @BeforeAll
  static void endpoints() {
    live = plugin.endpoint().url();
    dead = "unix://" + plugin.dir().resolve("nobody-listens.sock");
  }

  private static String config(String... rules) {
    return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        + String.join("\n", rules)
        + "\n";
  }

  private static String rule(String resource, String... kms) {
    StringBuilder b = new StringBuilder("  - resources: [" + resource + "]\n    providers:\n");
    for (String k : kms) {
      b.append("      - kms: {").append(k).append("}\n");
    }
    return b.toString().stripTrailing();
  }

  private static List<HealthCheck> checksFor(String yaml, KmsProviders kms) throws Exception {
    TestCodecs.fromYaml(
        yaml, kms); // builds the providers, as serve does before registering the checks
    EncryptionConfiguration config = EncryptionConfigLoader.parse(yaml, "test");
    return KmsHealthChecks.forConfig(config, kms);
  }

  @Test
  void onlyKmsV2ProvidersMakeOneAggregatedCheckThatNamesEachFailingMember() throws Exception {
    String yaml =
        config(
            rule("secrets", "apiVersion: v2, name: a, endpoint: '" + live + "'"),
            rule(
                "configmaps",
                "apiVersion: v2, name: b, endpoint: '" + dead + "', timeout: 1s",
                "apiVersion: v2, name: c, endpoint: '" + live + "'"));
    try (KmsProviders kms = new KmsProviders()) {
      List<HealthCheck> checks = checksFor(yaml, kms);
      assertEquals(List.of("kms-providers"), checks.stream().map(HealthCheck::name).toList());
      Optional<String> failure = checks.get(0).check();
      assertTrue(failure.isPresent());
      assertTrue(
          failure.get().startsWith("kms-provider-1: kmsv2 Provider b is not healthy"),
          failure.get());
      assertTrue(
          !failure.get().contains("kms-provider-0") && !failure.get().contains("kms-provider-2"),
          failure.get());
    }
  }

  @Test
  void anyKmsV1ProviderMakesOneCheckPerProviderIndexedOverAllKmsProvidersInFileOrder()
      throws Exception {
    String yaml =
        config(
            rule("secrets", "apiVersion: v2, name: a, endpoint: '" + live + "'"),
            rule("configmaps", "apiVersion: v1, name: b, endpoint: '" + live + "', cachesize: 10"),
            rule("pods", "apiVersion: v1, name: b2, endpoint: '" + dead + "', timeout: 1s"));
    try (KmsProviders kms = new KmsProviders()) {
      List<HealthCheck> checks = checksFor(yaml, kms);
      assertEquals(
          List.of("kms-provider-0", "kms-provider-1", "kms-provider-2"),
          checks.stream().map(HealthCheck::name).toList());
      assertEquals(Optional.empty(), checks.get(0).check());
      assertEquals(Optional.empty(), checks.get(1).check());
      Optional<String> failure = checks.get(2).check();
      assertTrue(
          failure
              .orElse("")
              .startsWith(
                  "failed to perform encrypt section of the healthz check for KMS Provider b2"),
          failure.toString());
    }
  }

  @Test
  void noKmsProviderNoCheck() throws Exception {
    String yaml = config("  - resources: [secrets]\n    providers: [{identity: {}}]");
    try (KmsProviders kms = new KmsProviders()) {
      assertEquals(List.of(), checksFor(yaml, kms));
    }
  }

  @Test
  void withAutomaticReloadOneCheckFollowsTheCurrentProviders() throws Exception {
    HealthCheck none = KmsHealthChecks.forReloadedConfig(List::of);
    assertEquals("kms-providers", none.name());
    assertEquals(Optional.empty(), none.check());
    String yaml =
        config(
            rule("secrets", "apiVersion: v2, name: a, endpoint: '" + dead + "', timeout: 1s"),
            rule("configmaps", "apiVersion: v1, name: b, endpoint: '" + dead + "', timeout: 1s"));
    try (KmsProviders kms = new KmsProviders()) {
      TestCodecs.fromYaml(yaml, kms);
      Optional<String> failure = KmsHealthChecks.forReloadedConfig(kms::providers).check();
      assertTrue(
          failure.orElse("").startsWith("[kms-provider-0: kmsv2 Provider a is not healthy"),
          failure.toString());
      assertTrue(
          failure.get().contains(", kms-provider-1: failed to perform encrypt section"),
          failure.get());
    }
  }
}
