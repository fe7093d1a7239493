package io.etcdcrypt.config;

import static io.etcdcrypt.config.TestConfigs.KEY16;
import static io.etcdcrypt.config.TestConfigs.KEY24;
import static io.etcdcrypt.config.TestConfigs.KEY32;
import static io.etcdcrypt.config.TestConfigs.doc;
import static io.etcdcrypt.config.TestConfigs.errors;
import static io.etcdcrypt.config.TestConfigs.parse;
import static io.etcdcrypt.config.TestConfigs.secretsWith;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Every rule of validation_encryption.go, each with the path it is reported at. */
class ValidationRulesTest {

  private static String rule(String resources, String... providers) {
    return secretsWith(providers).replace("[secrets]", resources);
  }

  private static String keys(String provider, String... keyEntries) {
    return "{" + provider + ": {keys: [" + String.join(", ", keyEntries) + "]}}";
  }

  static Stream<Arguments> invalidConfigs() {
    String id = "{identity: {}}";
    return Stream.of(
        // structure
        arguments("no rules", doc("resources: []\n"), "resources", "at least one resource rule"),
        arguments("rules missing", TestConfigs.HEADER, "resources", "at least one resource rule"),
        arguments(
            "empty resource list",
            rule("[]", id),
            "resources[0].resources",
            "at least one resource"),
        arguments(
            "no providers",
            doc("resources:\n- resources: [secrets]\n"),
            "resources[0].providers",
            "at least one provider"),
        arguments(
            "empty providers",
            doc("resources:\n- resources: [secrets]\n  providers: []\n"),
            "resources[0].providers",
            "at least one provider"),
        arguments(
            "provider naming nothing",
            rule("[secrets]", "{}"),
            "resources[0].providers[0]",
            "names no provider"),
        arguments(
            "identity: null is no provider",
            rule("[secrets]", "{identity: }"),
            "resources[0].providers[0]",
            "identity: {}"),
        arguments(
            "two providers in one entry",
            rule(
                "[secrets]",
                "{identity: {}, "
                    + keys("aesgcm", "{name: k, secret: '" + KEY16 + "'}").substring(1)),
            "resources[0].providers[0]",
            "more than one provider"),
        arguments(
            "identity with fields",
            rule("[secrets]", "{identity: {foo: 1}}"),
            "resources[0].providers[0].identity.foo",
            "unknown field"),
        // keys
        arguments(
            "no keys",
            rule("[secrets]", keys("aesgcm")),
            "resources[0].providers[0].aesgcm.keys",
            "at least one key"),
        arguments(
            "keys missing",
            rule("[secrets]", "{aescbc: {}}"),
            "resources[0].providers[0].aescbc.keys",
            "at least one key"),
        arguments(
            "key without name",
            rule("[secrets]", keys("secretbox", "{secret: '" + KEY32 + "'}")),
            "resources[0].providers[0].secretbox.keys[0].name",
            "name is required"),
        arguments(
            "key with empty name",
            rule("[secrets]", keys("aesgcm", "{name: '', secret: '" + KEY16 + "'}")),
            "resources[0].providers[0].aesgcm.keys[0].name",
            "name is required"),
        arguments(
            "key without secret",
            rule("[secrets]", keys("aesgcm", "{name: k}")),
            "resources[0].providers[0].aesgcm.keys[0].secret",
            "secret is required"),
        arguments(
            "secret not base64",
            rule("[secrets]", keys("aesgcm", "{name: k, secret: 'not*base64!'}")),
            "resources[0].providers[0].aesgcm.keys[0].secret",
            "standard base64"),
        arguments(
            "secret without padding",
            rule(
                "[secrets]", keys("aesgcm", "{name: k, secret: '" + KEY16.replace("=", "") + "'}")),
            "resources[0].providers[0].aesgcm.keys[0].secret",
            "standard base64"),
        arguments(
            "secret in url-safe base64",
            rule(
                "[secrets]",
                keys(
                    "secretbox",
                    "{name: k, secret: 'Bm-_rcmA46h_jg7R0l5FzTIXYsjy8ChRl7p_YgqFVas='}")),
            "resources[0].providers[0].secretbox.keys[0].secret",
            "standard base64"),
        arguments(
            "aescbc key of 20 bytes",
            rule(
                "[secrets]",
                keys(
                    "aescbc",
                    "{name: k1, secret: '" + KEY16 + "'}",
                    "{name: k2, secret: 'c2VjcmV0IGlzIHNlY3VyZSBmb28='}")),
            "resources[0].providers[0].aescbc.keys[1].secret",
            "secret must be base64 of 16, 24 or 32 bytes, got 20 bytes"),
        arguments(
            "aesgcm key of 31 bytes",
            rule("[secrets]", keys("aesgcm", "{name: k, secret: '" + "A".repeat(40) + "AA=='}")),
            "resources[0].providers[0].aesgcm.keys[0].secret",
            "secret must be base64 of 16, 24 or 32 bytes, got 31 bytes"),
        arguments(
            "secretbox key of 24 bytes",
            rule("[secrets]", keys("secretbox", "{name: k, secret: '" + KEY24 + "'}")),
            "resources[0].providers[0].secretbox.keys[0].secret",
            "secret must be base64 of 32 bytes, got 24 bytes"),
        // resource strings
        arguments(
            "capital letters",
            rule("[Secrets]", id),
            "resources[0].resources[0]",
            "capital letters"),
        arguments("bare star", rule("['*']", id), "resources[0].resources[0]", "use \"*.\""),
        arguments(
            "apiserveripinfo",
            rule("[apiserveripinfo]", id),
            "resources[0].resources[0]",
            "no REST API"),
        arguments(
            "serviceipallocations",
            rule("[configmaps, serviceipallocations]", id),
            "resources[0].resources[1]",
            "no REST API"),
        arguments(
            "servicenodeportallocations",
            rule("[servicenodeportallocations]", id),
            "resources[0].resources[0]",
            "no REST API"),
        arguments(
            "events.k8s.io",
            rule("[events.events.k8s.io]", id),
            "resources[0].resources[0]",
            "write \"events\" instead"),
        arguments(
            "*.events.k8s.io",
            rule("['*.events.k8s.io']", id),
            "resources[0].resources[0]",
            "write \"events\" instead"),
        arguments(
            "extensions",
            rule("[deployments.extensions]", id),
            "resources[0].resources[0]",
            "extensions group has been removed"),
        arguments(
            "resource across groups",
            rule("['secrets.*']", id),
            "resources[0].resources[0]",
            "across all groups"),
        arguments(
            "duplicate resource",
            rule("[secrets, configmaps, secrets]", id),
            "resources[0].resources",
            "more than once"),
        arguments(
            "duplicate via trailing dot",
            rule("[secrets, 'secrets.']", id),
            "resources[0].resources",
            "more than once"),
        arguments(
            "resource with *. in one list",
            rule("[secrets, '*.']", id),
            "resources[0].resources",
            "may not share one list"),
        arguments(
            "*.* with anything",
            rule("['*.*', widgets.example.com]", id),
            "resources[0].resources",
            "may not share one list"),
        arguments(
            "*.apps with deployments.apps",
            rule("[deployments.apps, '*.apps']", id),
            "resources[0].resources",
            "may not share one list"),
        // kms
        arguments(
            "kms without name",
            rule("[secrets]", "{kms: {endpoint: 'unix:///a.sock'}}"),
            "resources[0].providers[0].kms.name",
            "name is required"),
        arguments(
            "kms v2 name with colon",
            rule("[secrets]", "{kms: {apiVersion: v2, name: 'a:b', endpoint: 'unix:///a.sock'}}"),
            "resources[0].providers[0].kms.name",
            "must not contain ':'"),
        arguments(
            "kms v2 name used by an earlier v1",
            rule(
                "[secrets]",
                "{kms: {name: same, endpoint: 'unix:///a.sock'}}",
                "{kms: {apiVersion: v2, name: same, endpoint: 'unix:///b.sock'}}"),
            "resources[0].providers[1].kms.name",
            "duplicate KMS provider name \"same\""),
        arguments(
            "kms v2 names unique across rules",
            doc(
                "resources:\n"
                    + "- resources: [secrets]\n  providers: [{kms: {apiVersion: v2, name: k, endpoint: 'unix:///a'}}]\n"
                    + "- resources: [configmaps]\n  providers: [{kms: {apiVersion: v2, name: k, endpoint: 'unix:///a'}}]\n"),
            "resources[1].providers[0].kms.name",
            "duplicate KMS provider name"),
        arguments(
            "kms without endpoint",
            rule("[secrets]", "{kms: {name: a}}"),
            "resources[0].providers[0].kms.endpoint",
            "endpoint is required"),
        arguments(
            "kms tcp endpoint",
            rule("[secrets]", "{kms: {name: a, endpoint: 'tcp://127.0.0.1:80'}}"),
            "resources[0].providers[0].kms.endpoint",
            "unsupported scheme \"tcp\""),
        arguments(
            "kms endpoint without scheme",
            rule("[secrets]", "{kms: {name: a, endpoint: '/var/kms.sock'}}"),
            "resources[0].providers[0].kms.endpoint",
            "no scheme"),
        arguments(
            "kms endpoint without path",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix://'}}"),
            "resources[0].providers[0].kms.endpoint",
            "names no socket"),
        arguments(
            "kms opaque endpoint",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:kms.sock'}}"),
            "resources[0].providers[0].kms.endpoint",
            "names no socket"),
        arguments(
            "kms v1 cachesize 0",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:///a', cachesize: 0}}"),
            "resources[0].providers[0].kms.cachesize",
            "0 is not allowed"),
        arguments(
            "kms v2 with cachesize",
            rule(
                "[secrets]",
                "{kms: {apiVersion: v2, name: a, endpoint: 'unix:///a', cachesize: 1000}}"),
            "resources[0].providers[0].kms.cachesize",
            "only supported with apiVersion v1"),
        arguments(
            "kms apiVersion v3",
            rule("[secrets]", "{kms: {apiVersion: v3, name: a, endpoint: 'unix:///a'}}"),
            "resources[0].providers[0].kms.apiVersion",
            "unsupported KMS apiVersion \"v3\""),
        arguments(
            "kms timeout 0",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:///a', timeout: 0s}}"),
            "resources[0].providers[0].kms.timeout",
            "must be positive"),
        arguments(
            "kms negative timeout",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:///a', timeout: -1s}}"),
            "resources[0].providers[0].kms.timeout",
            "must be positive"),
        arguments(
            "kms timeout bad unit",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:///a', timeout: 3x}}"),
            "resources[0].providers[0].kms.timeout",
            "unknown unit \"x\""),
        arguments(
            "kms timeout without unit",
            rule("[secrets]", "{kms: {name: a, endpoint: 'unix:///a', timeout: '30'}}"),
            "resources[0].providers[0].kms.timeout",
            "missing unit"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidConfigs")
  void invalidConfigIsRejectedAtItsPath(String name, String yaml, String path, String message) {
    List<ConfigError> errors = errors(yaml);
    assertEquals(1, errors.size(), () -> "expected exactly one error, got " + errors);
    assertEquals(path, errors.get(0).path());
    assertTrue(
        errors.get(0).message().contains(message),
        () -> "message \"" + errors.get(0).message() + "\" lacks \"" + message + "\"");
  }

  @Test
  void kmsV1NamesMayRepeatWithoutAutomaticReload() {
    String yaml =
        secretsWith(
            "{kms: {name: same, endpoint: 'unix:///a'}}",
            "{kms: {name: same, endpoint: 'unix:///b'}}");
    assertDoesNotThrow(() -> parse(yaml));
    List<ConfigError> errors = errors(yaml, new LoadOptions(true));
    assertEquals(1, errors.size());
    assertEquals("resources[0].providers[1].kms.name", errors.get(0).path());
    assertTrue(errors.get(0).message().contains("automatic reload"));
  }

  @Test
  void aV1NameAfterAV2OfTheSameNameIsOnlyCheckedWithAutomaticReload() {
    // kube-apiserver checks a v1 name against earlier names only when reloading; the order matters.
    String yaml =
        secretsWith(
            "{kms: {apiVersion: v2, name: same, endpoint: 'unix:///a'}}",
            "{kms: {name: same, endpoint: 'unix:///b'}}");
    assertDoesNotThrow(() -> parse(yaml));
    assertEquals(
        "resources[0].providers[1].kms.name", errors(yaml, new LoadOptions(true)).get(0).path());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "unix:///var/run/kms.sock",
        "unix:///@abstract-kms",
        "UNIX:///tmp/kms.sock",
        "unix:/tmp/kms.sock",
        "unix:///tmp/kms%20plugin.sock"
      })
  void acceptedKmsEndpoints(String endpoint) {
    assertDoesNotThrow(
        () -> parse(secretsWith("{kms: {apiVersion: v2, name: a, endpoint: '" + endpoint + "'}}")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"-1", "-1000", "1", "2147483647"})
  void nonZeroCacheSizesAreAcceptedForV1(String size) {
    assertDoesNotThrow(
        () ->
            parse(secretsWith("{kms: {name: a, endpoint: 'unix:///a', cachesize: " + size + "}}")));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "secrets.",
        "widgets.example.com",
        "*.",
        "*.apps",
        "*.*",
        "deployments.apps",
        "events",
        "pandas.awesome.bears.example",
        "apiserveripinfo.foo"
      })
  void acceptedResourceStrings(String resource) {
    assertDoesNotThrow(() -> parse(rule("['" + resource + "']", "{identity: {}}")));
  }

  @Test
  void everyKeyProblemOfAProviderIsReported() {
    List<ConfigError> errors =
        errors(
            rule(
                "[secrets]",
                keys(
                    "aesgcm",
                    "{name: a, secret: '" + KEY24 + "'}",
                    "{secret: 'x'}",
                    "{name: c, secret: '" + KEY32 + "'}",
                    "{}")));
    assertEquals(
        List.of(
            "resources[0].providers[0].aesgcm.keys[1].name",
            "resources[0].providers[0].aesgcm.keys[1].secret",
            "resources[0].providers[0].aesgcm.keys[3].name",
            "resources[0].providers[0].aesgcm.keys[3].secret"),
        errors.stream().map(ConfigError::path).toList());
  }

  @Test
  void everyProblemOfAKmsProviderIsReported() {
    List<ConfigError> errors =
        errors(
            rule(
                "[secrets]",
                "{kms: {apiVersion: v2, name: 'a:b', endpoint: 'http://x', cachesize: 5, timeout: 0s}}"));
    assertEquals(
        List.of(
            "resources[0].providers[0].kms.name",
            "resources[0].providers[0].kms.timeout",
            "resources[0].providers[0].kms.endpoint",
            "resources[0].providers[0].kms.cachesize"),
        errors.stream().map(ConfigError::path).toList());
  }

  @Test
  void duplicateKeyNamesAreAWarningNotAnError() throws Exception {
    EncryptionConfiguration config =
        parse(
            rule(
                "[secrets]",
                keys(
                    "aesgcm",
                    "{name: k, secret: '" + KEY16 + "'}",
                    "{name: k, secret: '" + KEY32 + "'}")));
    assertEquals("resources[0].providers[0].aesgcm.keys[1].name", config.warnings().get(0).path());
  }

  @Test
  void kmsV1IsAcceptedWithAWarningThatKubeApiserverNeedsItsFeatureGate() throws Exception {
    for (String version : List.of("", "apiVersion: v1, ", "apiVersion: '', ")) {
      EncryptionConfiguration config =
          parse(
              rule(
                  "[secrets]",
                  "{kms: {" + version + "name: a, endpoint: 'unix:///var/run/kms.sock'}}"));
      assertEquals(1, config.warnings().size(), version);
      assertEquals(
          "resources[0].providers[0].kms.apiVersion", config.warnings().get(0).path(), version);
      assertTrue(
          config
              .warnings()
              .get(0)
              .message()
              .contains(
                  "kube-apiserver 1.29 and later refuses this file unless started with"
                      + " --feature-gates=KMSv1=true"),
          version);
      assertTrue(config.warnings().get(0).message().contains("use apiVersion: v2"), version);
    }
    EncryptionConfiguration v2 =
        parse(
            rule(
                "[secrets]",
                "{kms: {apiVersion: v2, name: a, endpoint: 'unix:///var/run/kms.sock'}}"));
    assertTrue(v2.warnings().isEmpty(), v2.warnings()::toString);
  }

  @Test
  void endpointHostIsAWarningAndIgnoredLikeKubeApiserver() throws Exception {
    EncryptionConfiguration config =
        parse(
            rule(
                "[secrets]",
                "{kms: {apiVersion: v2, name: a, endpoint: 'unix://var/run/kms.sock'}}"));
    assertEquals(1, config.warnings().size());
    assertEquals("resources[0].providers[0].kms.endpoint", config.warnings().get(0).path());
    assertTrue(
        config.warnings().get(0).message().contains("\"/run/kms.sock\""),
        config.warnings().get(0).message());
  }

  @Test
  void unknownBuiltInResourcesAreWarnedAbout() throws Exception {
    EncryptionConfiguration config =
        parse(
            rule("[secret, foos.apps, secrets, widgets.example.com, '*.batch']", "{identity: {}}"));
    assertEquals(
        List.of("resources[0].resources[0]", "resources[0].resources[1]"),
        config.warnings().stream().map(ConfigError::path).toList());
  }
}
