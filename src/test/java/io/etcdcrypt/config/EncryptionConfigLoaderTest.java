package io.etcdcrypt.config;

import static io.etcdcrypt.config.TestConfigs.KEY16;
import static io.etcdcrypt.config.TestConfigs.KEY32;
import static io.etcdcrypt.config.TestConfigs.doc;
import static io.etcdcrypt.config.TestConfigs.errors;
import static io.etcdcrypt.config.TestConfigs.parse;
import static io.etcdcrypt.config.TestConfigs.resource;
import static io.etcdcrypt.config.TestConfigs.secretsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.ProviderConfig.AesCbc;
import io.etcdcrypt.config.ProviderConfig.AesGcm;
import io.etcdcrypt.config.ProviderConfig.Identity;
import io.etcdcrypt.config.ProviderConfig.Kms;
import io.etcdcrypt.config.ProviderConfig.Secretbox;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class EncryptionConfigLoaderTest {

  @TempDir Path dir;

  private static EncryptionConfiguration loadResource(String name) throws Exception {
    return EncryptionConfigLoader.parse(resource(name), name, LoadOptions.defaults());
  }

  @Test
  void legacyKindDecodesWithDefaults() throws Exception {
    EncryptionConfiguration config = loadResource("valid/legacy.yaml");

    ResourceRule rule = config.rules().get(0);
    assertEquals(List.of("secrets", "namespaces"), rule.resources());
    List<ProviderConfig> p = rule.providers();
    assertEquals(5, p.size());
    assertInstanceOf(Identity.class, p.get(0));
    AesGcm gcm = assertInstanceOf(AesGcm.class, p.get(1));
    assertEquals(List.of("key1", "key2"), gcm.keys().stream().map(KeyConfig::name).toList());
    assertArrayEquals(Base64.getDecoder().decode(KEY16), gcm.keys().get(0).secret());
    assertEquals(
        new Kms(
            KmsApiVersion.V1,
            "testprovider",
            "unix:///tmp/testprovider.sock",
            10,
            Duration.ofSeconds(3)),
        p.get(2));
    AesCbc cbc = assertInstanceOf(AesCbc.class, p.get(3));
    assertEquals(24, cbc.keys().get(1).secret().length);
    Secretbox box = assertInstanceOf(Secretbox.class, p.get(4));
    assertEquals(32, box.keys().get(0).secret().length);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "valid/identity-first.yaml, Identity, 6",
    "valid/aes-gcm-first.yaml, AesGcm, 6",
    "valid/aes-cbc-first.yaml, AesCbc, 6",
    "valid/secret-box-first.yaml, Secretbox, 6",
    "valid/kms-first.yaml, Kms, 6",
    "valid/kmsv2-first.yaml, Kms, 6",
    "valid/aes-cbc-multiple-keys.json, AesCbc, 2",
    "valid/kms-multiple-providers-kmsv2.yaml, Kms, 3",
  })
  void validConfigsLoad(String file, String firstProvider, int providerCount) throws Exception {
    EncryptionConfiguration config = loadResource(file);
    List<ProviderConfig> providers = config.rules().get(0).providers();
    assertEquals(providerCount, providers.size());
    assertEquals(firstProvider, providers.get(0).getClass().getSimpleName());
    assertTrue(
        config.warnings().stream()
            .allMatch(w -> w.message().equals(ProviderReader.KMS_V1_DEPRECATED)),
        () -> "only KMS v1 is warned about: " + config.warnings());
  }

  @Test
  void kmsV2FirstKeepsItsTimeoutAndHasNoCacheSize() throws Exception {
    Kms v2 =
        assertInstanceOf(
            Kms.class, loadResource("valid/kmsv2-first.yaml").rules().get(0).providers().get(0));
    assertEquals(
        new Kms(
            KmsApiVersion.V2,
            "testproviderv2",
            "unix:///tmp/testprovider-v2.sock",
            0,
            Duration.ofSeconds(15)),
        v2);
  }

  @Test
  void kmsDefaults() throws Exception {
    EncryptionConfiguration config =
        parse(
            secretsWith(
                "{kms: {name: a, endpoint: 'unix:///a.sock'}}",
                "{kms: {apiVersion: '', name: b, endpoint: 'unix:///b.sock', cachesize: -1}}",
                "{kms: {apiVersion: v2, name: c, endpoint: 'unix:///c.sock', timeout: 1m30s}}",
                "{kms: {apiVersion: v2, name: d, endpoint: 'unix:///d.sock', timeout: 500ms}}"));
    List<ProviderConfig> p = config.rules().get(0).providers();
    assertEquals(
        new Kms(KmsApiVersion.V1, "a", "unix:///a.sock", 1000, Duration.ofSeconds(3)), p.get(0));
    assertEquals(
        new Kms(KmsApiVersion.V1, "b", "unix:///b.sock", -1, Duration.ofSeconds(3)), p.get(1));
    assertEquals(
        new Kms(KmsApiVersion.V2, "c", "unix:///c.sock", 0, Duration.ofSeconds(90)), p.get(2));
    assertEquals(
        new Kms(KmsApiVersion.V2, "d", "unix:///d.sock", 0, Duration.ofMillis(500)), p.get(3));
  }

  @Test
  void jsonIsAccepted() throws Exception {
    String json =
        "{\"apiVersion\":\"apiserver.config.k8s.io/v1\",\"kind\":\"EncryptionConfiguration\","
            + "\"resources\":[{\"resources\":[\"secrets\"],\"providers\":[{\"identity\":{}}]}]}";
    assertInstanceOf(Identity.class, parse(json).rules().get(0).providers().get(0));
  }

  @Test
  void sha256IsOverTheRawFileBytes() throws Exception {
    byte[] bytes = resource("valid/wildcards.yaml");
    Path file = dir.resolve("enc.yaml");
    Files.write(file, bytes);

    EncryptionConfiguration config = EncryptionConfigLoader.load(file);
    String expected =
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    assertEquals(expected, config.sha256());

    Files.write(
        file,
        (new String(bytes, StandardCharsets.UTF_8) + "\n# a comment\n")
            .getBytes(StandardCharsets.UTF_8));
    assertNotEquals(config.sha256(), EncryptionConfigLoader.load(file).sha256());
  }

  @Test
  void automaticReloadOptionIsPassedThrough() throws Exception {
    Path file = dir.resolve("enc.yaml");
    Files.writeString(
        file,
        secretsWith(
            "{kms: {name: same, endpoint: 'unix:///a.sock'}}",
            "{kms: {name: same, endpoint: 'unix:///b.sock'}}"));
    EncryptionConfigLoader.load(file);
    ConfigException e =
        assertThrows(
            ConfigException.class, () -> EncryptionConfigLoader.load(file, new LoadOptions(true)));
    assertEquals("resources[0].providers[1].kms.name", e.errors().get(0).path());
  }

  @Test
  void missingFileIsAConfigException() {
    ConfigException e =
        assertThrows(
            ConfigException.class, () -> EncryptionConfigLoader.load(dir.resolve("nope.yaml")));
    assertTrue(e.getMessage().contains("nope.yaml"), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void secretMayBeSplitOverLinesLikeGoBase64Allows() throws Exception {
    String yaml =
        doc(
            "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: k\n"
                + "        secret: |\n          "
                + KEY32.substring(0, 20)
                + "\n          "
                + KEY32.substring(20)
                + "\n");
    AesGcm gcm = assertInstanceOf(AesGcm.class, parse(yaml).rules().get(0).providers().get(0));
    assertArrayEquals(Base64.getDecoder().decode(KEY32), gcm.keys().get(0).secret());
  }

  // ---- strict decoding
  // --------------------------------------------------------------------------------------

  @Test
  void unknownFieldIsAnErrorWithItsPath() {
    List<ConfigError> errors =
        errors(secretsWith("{kms: {name: a, endpoint: 'unix:///a.sock', pandas: 1}}"));
    assertEquals(1, errors.size(), errors::toString);
    assertEquals("resources[0].providers[0].kms.pandas", errors.get(0).path());
    assertTrue(errors.get(0).message().startsWith("unknown field"), errors.get(0).message());
  }

  @Test
  void fieldNamesAreCaseSensitive() {
    List<ConfigError> errors = errors(TestConfigs.HEADER + "Resources:\n- resources: [secrets]\n");
    assertEquals("Resources", errors.get(0).path());
    assertTrue(
        errors.get(0).message().contains("did you mean \"resources\""), errors.get(0).message());
  }

  @Test
  void unknownTopLevelFieldDoesNotHideOtherErrors() {
    List<ConfigError> errors =
        errors(
            TestConfigs.HEADER
                + "metadata: {name: x}\nresources:\n- resources: []\n"
                + "  providers: [{identity: {}}]\n");
    assertEquals(
        List.of("metadata", "resources[0].resources"),
        errors.stream().map(ConfigError::path).toList());
  }

  @Test
  void duplicateFieldIsAnError() {
    List<ConfigError> errors =
        errors(
            doc(
                "resources:\n- resources: [secrets]\n  resources: [configmaps]\n"
                    + "  providers: [{identity: {}}]\n"));
    assertEquals(1, errors.size(), errors::toString);
    assertEquals("resources[0].resources", errors.get(0).path());
    assertTrue(errors.get(0).message().contains("duplicate"), errors.get(0).message());
  }

  @Test
  void duplicateTopLevelFieldIsAnError() {
    List<ConfigError> errors =
        errors(
            TestConfigs.HEADER
                + "kind: EncryptionConfiguration\nresources:\n"
                + "- resources: [secrets]\n  providers: [{identity: {}}]\n");
    assertEquals("kind", errors.get(0).path());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\n  \n", "# only a comment\n"})
  void emptyFileIsAnError(String text) {
    List<ConfigError> errors = errors(text);
    assertEquals(1, errors.size());
    assertEquals("", errors.get(0).path());
  }

  @Test
  void invalidUtf8IsAnError() {
    byte[] bytes = {'k', 'i', 'n', 'd', ':', ' ', (byte) 0xC3, (byte) 0x28};
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> EncryptionConfigLoader.parse(bytes, "bad.yaml", LoadOptions.defaults()));
    assertTrue(e.errors().get(0).message().contains("UTF-8"));
  }

  @Test
  void multipleDocumentsAreAnError() {
    String one = secretsWith("{identity: {}}");
    List<ConfigError> errors = errors(one + "---\n" + one);
    assertEquals(1, errors.size());
    assertTrue(errors.get(0).message().startsWith("YAML syntax error"), errors.get(0).message());
  }

  @Test
  void syntaxErrorNamesTheLine() {
    List<ConfigError> errors = errors(TestConfigs.HEADER + "resources:\n- resources: [secrets\n");
    assertEquals(1, errors.size());
    assertTrue(
        errors.get(0).message().matches("YAML syntax error at line \\d+, column \\d+.*"),
        errors.get(0).message());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "apiVersion: v1\\nkind: EncryptionConfiguration\\n | kind",
        "apiVersion: apiserver.config.k8s.io/v1\\nkind: EncryptionConfig\\n | kind",
        "apiVersion: apiserver.config.k8s.io/v1beta1\\nkind: EncryptionConfiguration\\n | kind",
        "apiVersion: apiserver.config.k8s.io/v1\\nkind: AdmissionConfiguration\\n | kind",
        "kind: EncryptionConfiguration\\n | apiVersion",
        "apiVersion: apiserver.config.k8s.io/v1\\n | kind",
      })
  void onlyTheTwoKnownTypesAreAccepted(String header, String path) {
    List<ConfigError> errors =
        errors(
            header.replace("\\n", "\n")
                + "resources:\n- resources: [secrets]\n  providers: [{identity: {}}]\n");
    assertEquals(1, errors.size(), errors::toString);
    assertEquals(path, errors.get(0).path());
    assertTrue(
        errors.get(0).message().contains("apiserver.config.k8s.io/v1"), errors.get(0).message());
  }

  @Test
  void aForeignDocumentReportsOnlyItsType() {
    List<ConfigError> errors =
        errors("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 1}\n");
    assertEquals(List.of("spec", "kind"), errors.stream().map(ConfigError::path).toList());
  }

  @Test
  void topLevelMustBeAMapping() {
    assertEquals("", errors("- a\n- b\n").get(0).path());
  }

  @ParameterizedTest(name = "{1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "resources: secrets | resources | must be a list",
        "resources: [[secrets]] | resources[0] | must be an object",
        "resources: [{resources: secrets, providers: [{identity: {}}]}] | resources[0].resources | must be a list",
        "resources: [{resources: [1], providers: [{identity: {}}]}] | resources[0].resources[0] | must be a string",
        "resources: [{resources: [secrets], providers: [{kms: {name: 1, endpoint: 'unix:///a'}}]}]"
            + " | resources[0].providers[0].kms.name | must be a string",
        "resources: [{resources: [secrets], providers: [{kms: {name: a, endpoint: 'unix:///a', cachesize: '10'}}]}]"
            + " | resources[0].providers[0].kms.cachesize | must be an integer",
        "resources: [{resources: [secrets], providers: [{kms: {name: a, endpoint: 'unix:///a', cachesize: 1.5}}]}]"
            + " | resources[0].providers[0].kms.cachesize | must be an integer",
        "resources: [{resources: [secrets], providers: [{kms: {name: a, endpoint: 'unix:///a', cachesize: 4294967296}}]}]"
            + " | resources[0].providers[0].kms.cachesize | 32-bit",
        "resources: [{resources: [secrets], providers: [{kms: {name: a, endpoint: 'unix:///a', timeout: 3}}]}]"
            + " | resources[0].providers[0].kms.timeout | must be a string",
        "resources: [{resources: [secrets], providers: [{identity: []}]}] | resources[0].providers[0].identity"
            + " | must be an object",
        "resources: [{resources: [secrets], providers: [{aesgcm: {keys: [{name: true, secret: x}]}}]}]"
            + " | resources[0].providers[0].aesgcm.keys[0].name | must be a string",
      })
  void wrongTypesAreReportedOnceAtTheirPath(String body, String path, String message) {
    List<ConfigError> errors = errors(doc(body + "\n"));
    ConfigError first =
        errors.stream()
            .filter(e -> e.path().equals(path))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no error at " + path + " in " + errors));
    assertTrue(first.message().contains(message), first.message());
    assertEquals(1, errors.stream().filter(e -> e.path().equals(path)).count(), errors::toString);
  }

  @Test
  void aRuleOrKeyOfTheWrongTypeIsReportedOnlyOnce() {
    assertEquals(
        List.of("resources[0]"),
        errors(doc("resources: [secrets]\n")).stream().map(ConfigError::path).toList());
    assertEquals(
        List.of("resources[0].providers[0].aesgcm.keys[0]"),
        errors(secretsWith("{aesgcm: {keys: [k1]}}")).stream().map(ConfigError::path).toList());
  }

  @Test
  void aNullRuleIsAnEmptyRuleLikeGoZeroValues() {
    assertEquals(
        List.of("resources[0].resources", "resources[0].providers"),
        errors(doc("resources:\n-\n")).stream().map(ConfigError::path).toList());
  }

  @Test
  void allErrorsAreCollected() {
    List<ConfigError> errors =
        errors(
            doc(
                "resources:\n"
                    + "- resources: [Secrets]\n  providers: [{aesgcm: {keys: []}}]\n"
                    + "- resources: []\n  providers: [{kms: {name: x}}]\n"));
    assertEquals(
        List.of(
            "resources[0].resources[0]",
            "resources[0].providers[0].aesgcm.keys",
            "resources[1].resources",
            "resources[1].providers[0].kms.endpoint"),
        errors.stream().map(ConfigError::path).toList());
  }

  @Test
  void messageHasTheSourceAndOneLinePerError() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                EncryptionConfigLoader.parse(
                    doc(
                        "resources:\n- resources: [Secrets, 'secrets.*']\n  providers: [{identity: {}}]\n"),
                    "/etc/enc.yaml"));
    String[] lines = e.getMessage().split("\\R");
    assertEquals(3, lines.length, e.getMessage());
    assertTrue(lines[0].contains("/etc/enc.yaml"), lines[0]);
    assertTrue(lines[1].trim().startsWith("resources[0].resources[0]: "), lines[1]);
    assertTrue(lines[2].trim().startsWith("resources[0].resources[1]: "), lines[2]);
    assertEquals("/etc/enc.yaml", e.source());
  }

  @Test
  void theModelIsImmutable() throws Exception {
    EncryptionConfiguration config = loadResource("valid/identity-first.yaml");
    assertThrows(UnsupportedOperationException.class, () -> config.rules().clear());
    assertThrows(
        UnsupportedOperationException.class, () -> config.rules().get(0).providers().clear());
    assertThrows(
        UnsupportedOperationException.class, () -> config.rules().get(0).resources().add("x"));
    AesGcm gcm = assertInstanceOf(AesGcm.class, config.rules().get(0).providers().get(1));
    gcm.keys().get(0).secret()[0] ^= 1;
    assertArrayEquals(Base64.getDecoder().decode(KEY16), gcm.keys().get(0).secret());
  }
}
