package io.etcdcrypt.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The shared stored-value vectors ({@code shared/testdata/k8s-format-vectors.json}): values in
 * kube-apiserver's encryption-at-rest format with the keys that open them. JSON is YAML, so
 * snakeyaml-engine reads it.
 */
public final class FormatVectors {

  private FormatVectors() {}

  /**
   * One vector. {@code key} is null for KMS vectors (their key material comes from the mock
   * plugin).
   */
  public record Vector(
      String id,
      String source,
      String provider,
      String keyName,
      byte[] key,
      String etcdKey,
      byte[] plaintext,
      byte[] stored,
      String note) {

    /** The etcd key as bytes: the associated data of AAD-binding providers. */
    public byte[] associatedData() {
      return etcdKey.getBytes(StandardCharsets.UTF_8);
    }

    /** The vector documents a value that must NOT open (e.g. moved to another etcd key). */
    public boolean mustFail() {
      return note != null && note.contains("MUST fail");
    }

    @Override
    public String toString() {
      return id; // the display name of parameterized test cases
    }
  }

  /**
   * The team's shared copy ({@code ../shared/testdata}, where CI and the developer machines have
   * it) when present, else the copy committed with the tests, so a clone anywhere else still runs
   * the vector tests.
   */
  public static Path file() {
    String shared = System.getProperty("shared.dir");
    if (shared != null) {
      Path p = Path.of(shared, "testdata", "k8s-format-vectors.json");
      if (Files.exists(p)) {
        return p;
      }
    }
    try {
      return Path.of(FormatVectors.class.getResource("/testdata/k8s-format-vectors.json").toURI());
    } catch (java.net.URISyntaxException | NullPointerException e) {
      throw new IllegalStateException(
          "k8s-format-vectors.json is neither in shared/testdata nor on the test" + " classpath",
          e);
    }
  }

  public static List<Vector> load() throws IOException {
    Object document;
    try (InputStream in = Files.newInputStream(file())) {
      document = new Load(LoadSettings.builder().build()).loadFromInputStream(in);
    }
    List<Vector> out = new ArrayList<>();
    for (Object o : (List<?>) ((Map<?, ?>) document).get("vectors")) {
      Map<?, ?> v = (Map<?, ?>) o;
      out.add(
          new Vector(
              (String) v.get("id"),
              (String) v.get("source"),
              (String) v.get("provider"),
              (String) v.get("key_name"),
              v.get("key_base64") == null
                  ? null
                  : Base64.getDecoder().decode((String) v.get("key_base64")),
              (String) v.get("etcd_key"),
              HexFormat.of().parseHex((String) v.get("plaintext_hex")),
              HexFormat.of().parseHex((String) v.get("stored_hex")),
              (String) v.get("note")));
    }
    if (out.isEmpty()) {
      throw new IllegalStateException(file() + " holds no vectors");
    }
    return out;
  }
}
