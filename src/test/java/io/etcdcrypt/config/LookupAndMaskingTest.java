package io.etcdcrypt.config;

import static io.etcdcrypt.config.TestConfigs.KEY16;
import static io.etcdcrypt.config.TestConfigs.KEY32;
import static io.etcdcrypt.config.TestConfigs.doc;
import static io.etcdcrypt.config.TestConfigs.errors;
import static io.etcdcrypt.config.TestConfigs.parse;
import static io.etcdcrypt.config.TestConfigs.resource;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.ProviderConfig.AesCbc;
import io.etcdcrypt.config.ProviderConfig.AesGcm;
import io.etcdcrypt.config.ProviderConfig.Identity;
import io.etcdcrypt.config.ProviderConfig.Kms;
import io.etcdcrypt.config.ProviderConfig.Secretbox;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The masking check between rules and {@link EncryptionConfiguration#providersFor}'s lookup order.
 */
class LookupAndMaskingTest {

  /** A document with one rule per list, each rule having a lone identity provider. */
  private static String rules(String... resourceLists) {
    StringBuilder sb = new StringBuilder("resources:\n");
    for (String list : resourceLists) {
      sb.append("- resources: ").append(list).append("\n  providers: [{identity: {}}]\n");
    }
    return doc(sb.toString());
  }

  @ParameterizedTest(name = "{0} then {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "['*.'] | [secrets] | resource \"secrets\" is masked by earlier rule \"*.\"",
        "['*.*'] | [secrets] | resource \"secrets\" is masked by earlier rule \"*.*\"",
        "['*.apps'] | [deployments.apps] | resource \"deployments.apps\" is masked by earlier rule \"*.apps\"",
        "['*.*'] | ['*.apps'] | resource \"*.apps\" is masked by earlier rule \"*.*\"",
        "['*.'] | ['*.'] | resource \"*.\" is masked by earlier rule \"*.\"",
        "['*.*'] | ['*.*'] | resource \"*.*\" is masked by earlier rule \"*.*\"",
        "['*.*'] | [widgets.example.com] | resource \"widgets.example.com\" is masked by earlier rule \"*.*\"",
      })
  void aResourceCoveredByAnEarlierWildcardIsMasked(String first, String second, String message) {
    List<ConfigError> errors = errors(rules(first, second));
    assertEquals(List.of(new ConfigError("resources[1].resources[0]", message)), errors);
  }

  @Test
  void maskingIsReportedForEveryMaskedResource() {
    List<ConfigError> errors =
        errors(
            rules(
                "['*.apps']",
                "[configmaps, deployments.apps]",
                "['*.*']",
                "[secrets, jobs.batch]"));
    assertEquals(
        List.of(
            "resources[1].resources[1]", "resources[3].resources[0]", "resources[3].resources[1]"),
        errors.stream().map(ConfigError::path).toList());
  }

  @ParameterizedTest(name = "{0} then {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "[events] | ['*.*']",
        "[secrets] | ['*.']",
        "[deployments.apps] | ['*.apps']",
        "['*.apps'] | [secrets]",
        "['*.'] | [deployments.apps]",
        "['*.apps'] | ['*.batch']",
        "[secrets] | [secrets]",
      })
  void specificBeforeWildcardOrOtherGroupsAreFine(String first, String second) {
    assertDoesNotThrow(() -> parse(rules(first, second)));
  }

  @Test
  void lookupOrderIsExactThenGroupWildcardThenEverything() throws Exception {
    EncryptionConfiguration config =
        EncryptionConfigLoader.parse(
            resource("valid/wildcards.yaml"), "wildcards.yaml", LoadOptions.defaults());

    assertRule(config, "events", "events", Identity.class);
    assertRule(config, "secrets", "secrets", AesGcm.class);
    assertRule(config, "widgets.example.com", "widgets.example.com", AesGcm.class);
    assertRule(config, "deployments.apps", "*.apps", Secretbox.class);
    assertRule(config, "foos.apps", "*.apps", Secretbox.class);
    assertRule(config, "configmaps", "*.", AesCbc.class);
    assertRule(config, "leases.coordination.k8s.io", "*.*", Kms.class);
    assertRule(config, "gadgets.example.com", "*.*", Kms.class);
    assertEquals(
        2, config.providersFor(GroupResource.parse("jobs.batch")).orElseThrow().providers().size());
  }

  @Test
  void anUnconfiguredResourceHasNoRule() throws Exception {
    EncryptionConfiguration config = parse(rules("[secrets]", "['*.apps']"));
    assertTrue(config.providersFor(GroupResource.parse("configmaps")).isEmpty());
    assertTrue(config.providersFor(GroupResource.parse("jobs.batch")).isEmpty());
    assertTrue(config.providersFor(GroupResource.parse("deployments.apps")).isPresent());
  }

  @Test
  void providersOfAResourceListedInSeveralRulesAreConcatenatedInFileOrder() throws Exception {
    EncryptionConfiguration config =
        parse(
            doc(
                "resources:\n"
                    + "- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: a, secret: '"
                    + KEY16
                    + "'}]}}]\n"
                    + "- resources: [configmaps, secrets]\n  providers: [{aescbc: {keys: [{name: b, secret: '"
                    + KEY32
                    + "'}]}},"
                    + " {identity: {}}]\n"));

    ResolvedRule secrets = config.providersFor(GroupResource.parse("secrets")).orElseThrow();
    assertEquals("secrets", secrets.configName());
    assertEquals(3, secrets.providers().size());
    assertInstanceOf(AesGcm.class, secrets.providers().get(0));
    assertInstanceOf(AesCbc.class, secrets.providers().get(1));
    assertInstanceOf(Identity.class, secrets.providers().get(2));

    ResolvedRule configmaps = config.providersFor(GroupResource.parse("configmaps")).orElseThrow();
    assertEquals(2, configmaps.providers().size());
    assertInstanceOf(AesCbc.class, configmaps.providers().get(0));
    assertThrows(UnsupportedOperationException.class, () -> configmaps.providers().clear());
  }

  @Test
  void resourceSpellingsOfTheSameGroupResourceShareARule() throws Exception {
    EncryptionConfiguration config = parse(rules("['secrets.']"));
    assertEquals(
        "secrets", config.providersFor(GroupResource.parse("secrets")).orElseThrow().configName());
  }

  private static void assertRule(
      EncryptionConfiguration config,
      String resource,
      String rule,
      Class<? extends ProviderConfig> firstProvider) {
    ResolvedRule resolved = config.providersFor(GroupResource.parse(resource)).orElseThrow();
    assertEquals(rule, resolved.configName(), resource);
    assertInstanceOf(firstProvider, resolved.providers().get(0), resource);
  }
}
