package io.etcdcrypt.config;

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
