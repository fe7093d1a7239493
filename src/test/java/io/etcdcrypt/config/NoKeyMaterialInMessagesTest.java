package io.etcdcrypt.config;

import static io.etcdcrypt.config.TestConfigs.KEY24;
import static io.etcdcrypt.config.TestConfigs.KEY32;
import static io.etcdcrypt.config.TestConfigs.doc;
import static io.etcdcrypt.config.TestConfigs.parse;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whatever is wrong with a secret, neither it nor its decoded bytes may appear in an error or in
 * toString.
 */
class NoKeyMaterialInMessagesTest {

  /** Looks like a key: 20 bytes, so of no allowed length. */
  private static final String WRONG_LENGTH = "c2VjcmV0IGlzIHNlY3VyZSBmb28=";

  private static final String NOT_BASE64 = "hunter2-is-my-password!";

  private static void assertNoSecretIn(String text, String... secrets) {
    for (String secret : secrets) {
      assertFalse(text.contains(secret), () -> "secret leaked into: " + text);
      byte[] decoded = ProviderReader.decodeStdBase64(secret);
      if (decoded != null) {
        String raw = new String(decoded, StandardCharsets.ISO_8859_1);
        assertFalse(text.contains(raw), () -> "decoded secret leaked into: " + text);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"aescbc", "aesgcm", "secretbox"})
  void badSecretsAreNotEchoed(String provider) {
    String yaml =
        doc(
            "resources:\n- resources: [secrets]\n  providers:\n  - "
                + provider
                + ":\n      keys:\n"
                + "      - {name: a, secret: '"
                + WRONG_LENGTH
                + "'}\n"
                + "      - {name: b, secret: '"
                + NOT_BASE64
                + "'}\n"
                + "      - {name: c, secret: "
                + KEY32
                + ", secrte: "
                + KEY32
                + "}\n"
                + "      - {name: d, "
                + KEY32
                + ": x}\n");
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
    assertTrue(e.errors().size() >= 4, e::getMessage);
    assertNoSecretIn(e.getMessage(), WRONG_LENGTH, NOT_BASE64, KEY32);
    assertTrue(e.getMessage().contains("got 20 bytes"), e.getMessage());
  }

  @Test
  void aSecretOnALineWithASyntaxErrorIsNotEchoed() {
    String yaml =
        doc(
            "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n"
                + "      - {name: a, secret: '"
                + KEY32
                + "\n");
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
    assertTrue(e.getMessage().contains("YAML syntax error"), e.getMessage());
    assertNoSecretIn(e.getMessage(), KEY32);
  }

  @Test
  void aSecretOfTheWrongTypeIsNotEchoed() {
    String yaml =
        doc(
            "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n"
                + "      - {name: a, secret: 1234567890123456789012}\n");
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
    assertNoSecretIn(e.getMessage(), "1234567890123456789012");
  }

  @Test
  void anAliasNamedAfterASecretIsNotEchoed() {
    // 'found undefined alias <name>' named the key: 5 of 20,000 fuzzed configs leaked this way.
    String yaml =
        doc(
            "resources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n"
                + "      - {name: a, secret: *"
                + KEY32
                + "}\n");
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
    assertTrue(e.getMessage().contains("undefined alias"), e.getMessage());
    assertNoSecretIn(e.getMessage(), KEY32);
  }

  /**
   * A seeded fuzzer over a valid file with a key of each provider: deletes, inserts (YAML's own
   * indicators, also where a value starts), duplicates and swaps characters, and checks that no
   * error or warning of any result holds a run of 12 characters of a key. Without the fix of {@code
   * withoutDocumentText} it finds an alias named after a key.
   */
  @Test
  void noMutationOfAValidFileEchoesItsKeys() {
    String valid =
        doc(
            "resources:\n- resources: [secrets, configmaps]\n  providers:\n"
                + "  - aesgcm: {keys: [{name: k1, secret: "
                + KEY32
                + "}]}\n"
                + "  - aescbc:\n      keys:\n      - name: k2\n        secret: '"
                + KEY24
                + "'\n"
                + "  - secretbox: {keys: [{name: k3, secret: \""
                + KEY32.substring(0, 43)
                + "=\"}]}\n  - identity: {}\n");
    java.util.Random random = new java.util.Random(20_000);
    String indicators = "*&!|>'\"{}[],:#%@`-?\n\t \\";
    int failed = 0;
    for (int i = 0; i < 10_000; i++) {
      StringBuilder yaml = new StringBuilder(valid);
      for (int m = 1 + random.nextInt(3); m > 0; m--) {
        int at = random.nextInt(yaml.length());
        switch (random.nextInt(5)) {
          case 4 -> {
            // An indicator where a value starts (an alias, an anchor, a tag, a block scalar).
            int value = yaml.indexOf(": ", at);
            if (value >= 0) {
              yaml.insert(value + 2, indicators.charAt(random.nextInt(indicators.length())));
            }
          }
          case 0 -> yaml.deleteCharAt(at);
          case 1 -> yaml.insert(at, indicators.charAt(random.nextInt(indicators.length())));
          case 2 -> yaml.insert(at, yaml.substring(at, Math.min(yaml.length(), at + 12)));
          default -> {
            int to = random.nextInt(yaml.length());
            char c = yaml.charAt(at);
            yaml.setCharAt(at, yaml.charAt(to));
            yaml.setCharAt(to, c);
          }
        }
      }
      String text;
      try {
        text = parse(yaml.toString()).warnings().toString();
      } catch (ConfigException e) {
        text = e.getMessage();
        failed++;
      }
      for (String key : new String[] {KEY32, KEY24}) {
        for (int from = 0; from + 12 <= key.length(); from++) {
          String run = key.substring(from, from + 12);
          String leaked = text;
          assertFalse(
              leaked.contains(run), () -> "a key leaked for input:\n" + yaml + "\ninto: " + leaked);
        }
      }
    }
    assertTrue(failed > 2_000, "the fuzzer should break most inputs, broke " + failed);
  }

  @Test
  void theLoadedModelDoesNotPrintKeys() throws Exception {
    EncryptionConfiguration config =
        parse(
            doc(
                "resources:\n- resources: [secrets]\n  providers:\n"
                    + "  - aesgcm: {keys: [{name: a, secret: '"
                    + KEY32
                    + "'}]}\n"
                    + "  - secretbox: {keys: [{name: b, secret: '"
                    + KEY32
                    + "'}]}\n"));
    String printed =
        config + " " + config.rules() + " " + config.providersFor(GroupResource.parse("secrets"));
    assertTrue(printed.contains("redacted"), printed);
    assertNoSecretIn(printed, KEY32);
    assertFalse(
        printed.contains(java.util.Arrays.toString(Base64.getDecoder().decode(KEY32))), printed);
  }
}
