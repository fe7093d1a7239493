package io.etcdcrypt.config;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/** Small helpers for writing configurations inline in tests. */
final class TestConfigs {

  static final String HEADER =
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n";

  /** 16, 24 and 32 random bytes, base64; test-only keys. */
  static final String KEY16 = "P3fqRREKNdXNRpKj2cvsBA==";

  static final String KEY24 = "IUZNvmQ9V4p97H84HIGapOr9JnOh52Eh";
  static final String KEY32 = "DoKJyPzloQdKfNdybeAfpdMzYIWxYHepxH7XbvX8xFw=";

  private TestConfigs() {}

  /** A full document: the header plus the given {@code resources:} section. */
  static String doc(String resourcesSection) {
    return HEADER + resourcesSection;
  }

  static EncryptionConfiguration parse(String yaml) throws ConfigException {
    return EncryptionConfigLoader.parse(yaml, "test.yaml");
  }

  static List<ConfigError> errors(String yaml) {
    return errors(yaml, LoadOptions.defaults());
  }

  static List<ConfigError> errors(String yaml, LoadOptions options) {
    return assertThrows(
            ConfigException.class, () -> EncryptionConfigLoader.parse(yaml, "test.yaml", options))
        .errors();
  }

  static byte[] resource(String name) {
    try (InputStream in = TestConfigs.class.getResourceAsStream("/config/" + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no test resource " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One rule for {@code secrets} with the given provider entries (each a YAML flow mapping). */
  static String secretsWith(String... providers) {
    StringBuilder sb =
        new StringBuilder(HEADER).append("resources:\n- resources: [secrets]\n  providers:\n");
    for (String p : providers) {
      sb.append("  - ").append(p).append('\n');
    }
    return sb.toString();
  }
}
