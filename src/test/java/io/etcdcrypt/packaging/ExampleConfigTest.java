package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.cli.Main;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.KeyConfig;
import io.etcdcrypt.config.KmsApiVersion;
import io.etcdcrypt.config.ProviderConfig;
import io.etcdcrypt.config.ResourceRule;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** config/encryption-config.yaml: accepted by check-config, and shaped as the issue describes. */
class ExampleConfigTest {

  private static final Path EXAMPLE_CONFIG =
      Path.of("config", "encryption-config.yaml").toAbsolutePath();

  @Test
  void checkConfigAcceptsTheExampleWithoutWarnings() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));

    int exit = cl.execute("check-config", EXAMPLE_CONFIG.toString());

    assertEquals(0, exit, err::toString);
    assertEquals("", err.toString(), "warnings");
    assertEquals(
        List.of(
            "secrets: kms(apiVersion: v2, name: bundled-kms, endpoint: unix:///var/run/kmsplugin/socket.sock,"
                + " timeout: 3s) -> identity",
            "configmaps: secretbox(keys: demo-only-not-secret) -> identity"),
        out.toString().lines().toList());
  }

  @Test
  void secretsGoThroughKmsV2AndEveryRuleEndsWithIdentity() throws Exception {
    List<ResourceRule> rules = EncryptionConfigLoader.load(EXAMPLE_CONFIG).rules();

    ResourceRule secrets =
        rules.stream().filter(r -> r.resources().contains("secrets")).findFirst().orElseThrow();
    ProviderConfig.Kms kms = assertInstanceOf(ProviderConfig.Kms.class, secrets.providers().get(0));
    assertEquals(KmsApiVersion.V2, kms.apiVersion());
    assertTrue(
        rules.stream()
            .anyMatch(
                r ->
                    r.providers().get(0) instanceof ProviderConfig.Secretbox
                        || r.providers().get(0) instanceof ProviderConfig.AesGcm),
        "a local provider encrypts some resource");
    for (ResourceRule rule : rules) {
      assertInstanceOf(
          ProviderConfig.Identity.class,
          rule.providers().get(rule.providers().size() - 1),
          "identity last in "
              + rule.resources()
              + ", so that data written before encryption stays readable");
    }
  }

  @Test
  void everyLocalKeyIsAnObviousDemoKey() throws Exception {
    List<KeyConfig> keys =
        EncryptionConfigLoader.load(EXAMPLE_CONFIG).rules().stream()
            .flatMap(r -> r.providers().stream())
            .flatMap(
                p ->
                    p instanceof ProviderConfig.Secretbox s
                        ? s.keys().stream()
                        : p instanceof ProviderConfig.AesGcm g
                            ? g.keys().stream()
                            : p instanceof ProviderConfig.AesCbc c
                                ? c.keys().stream()
                                : Stream.empty())
            .toList();

    assertTrue(!keys.isEmpty());
    for (KeyConfig key : keys) {
      assertTrue(
          key.name().startsWith("demo-only"),
          "a published key must say so in its name: " + key.name());
      String text = new String(key.secret(), StandardCharsets.US_ASCII);
      assertTrue(
          text.startsWith("DEMO-ONLY"),
          "a published key must be recognisable, not random-looking: " + key.name());
    }
  }
}
