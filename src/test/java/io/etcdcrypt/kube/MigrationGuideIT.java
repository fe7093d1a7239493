package io.etcdcrypt.kube;

import static io.etcdcrypt.kube.KubeObjects.assertStoredUnder;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.KubeTestBed;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Testenv;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Runs the migration walkthrough of {@code docs/operations.md} (section 3) as written: every block
 * marked {@code <!-- doc-test: NAME -->} is taken from the file, configuration files are used as
 * the proxy's, shell blocks run in bash with the guide's variables ({@code ETCD}, {@code TLS}) set
 * for this cluster, and a block's {@code # ...} lines are the output its last command must print. A
 * cluster that starts with plain-text Secrets ends with every one under KMS v2, kube-apiserver
 * serving them throughout.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealComponents
class MigrationGuideIT {

  @RegisterExtension static final KubeTestBed bed = KubeTestBed.withoutProxy();

  /**
   * The guide's KMS endpoint, which the chart's sidecar serves; here the bed's plugin socket
   * replaces it.
   */
  private static final String GUIDE_KMS_ENDPOINT = "unix:///var/run/kmsplugin/socket.sock";

  /** {@code <!-- doc-test: NAME [exit=N] -->}, then a fenced block. */
  private static final Pattern BLOCK =
      Pattern.compile(
          "<!-- doc-test: (\\S+)(?: exit=(\\d+))? -->\\s*\\n```(\\w+)\\n(.*?)\\n```",
          Pattern.DOTALL);

  /** A tested block: its text and the exit code its shell commands end with. */
  private record Block(String text, int exit) {}

  @Test
  void theMigrationGuideRunsAsWritten() throws Exception {
    Map<String, Block> blocks = blocks(Path.of("docs", "operations.md"));
    assertEquals(
        List.of(
            "stored-before",
            "step-1-config",
            "step-2-config",
            "step-2-check",
            "step-3-dry-run",
            "step-3-rewrap",
            "step-3-census",
            "stored-after"),
        new ArrayList<>(blocks.keySet()),
        "the guide's tested blocks changed");
    Path work = Files.createDirectories(bed.dir().resolve("guide"));
    Files.createSymbolicLink(
        work.resolve("etcd-crypt-proxy.jar"), Path.of(System.getProperty("proxy.jar")));
    Path config = work.resolve("encryption-config.yaml");

    // Before: a cluster whose Secrets are stored as plain text.
    KubernetesClient k = bed.client();
    for (String name : List.of("db-password", "api-token", "tls-key")) {
      k.secrets()
          .inNamespace("default")
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .addToStringData("value", name + "-value")
                  .build())
          .create();
    }
    run(work, blocks.get("stored-before"));

    // Step 1: the proxies with identity first; kube-apiserver through them. Nothing changes on
    // disk.
    Files.writeString(config, forThisCluster(blocks.get("step-1-config")));
    bed.startProxy(config);
    bed.apiserver().restart(bed.throughProxy());
    assertEquals("db-password-value", value(k, "db-password"));
    k.secrets()
        .inNamespace("default")
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("during-step-1")
                .endMetadata()
                .addToStringData("value", "still plain")
                .build())
        .create();
    assertTrue(
        KubeObjects.startsWith(
            bed.rawValue("/registry/secrets/default/during-step-1"), KubeObjects.K8S_PROTOBUF));

    // Step 2: encrypt first, identity still readable.
    Files.writeString(config, forThisCluster(blocks.get("step-2-config")));
    bed.proxy().restart();
    run(work, blocks.get("step-2-check"));
    assertEquals("db-password-value", value(k, "db-password"));
    assertTrue(
        KubeObjects.startsWith(
            bed.rawValue("/registry/secrets/default/db-password"), KubeObjects.K8S_PROTOBUF),
        "step 2 alone rewrites nothing");

    // Step 3: rewrap, then census.
    run(work, blocks.get("step-3-dry-run"));
    assertTrue(
        KubeObjects.startsWith(
            bed.rawValue("/registry/secrets/default/db-password"), KubeObjects.K8S_PROTOBUF),
        "the dry run wrote nothing");
    String rewrap = run(work, blocks.get("step-3-rewrap"));
    assertTrue(rewrap.contains("nothing stale remains"), rewrap);
    String census = run(work, blocks.get("step-3-census"));
    List<String> secretRows =
        census.lines().filter(l -> l.startsWith("secrets ")).collect(Collectors.toList());
    assertEquals(1, secretRows.size(), "secrets stored more than one way:\n" + census);
    assertTrue(
        secretRows.get(0).contains("k8s:enc:kms:v2:bundled-kms:")
            && secretRows.get(0).endsWith("current"),
        census);
    assertTrue(
        census.strip().endsWith("every value is written the way the configuration writes it now"),
        census);
    run(work, blocks.get("stored-after"));
    for (String name :
        List.of("db-password", "api-token", "tls-key", "during-step-1", "encryption-check")) {
      assertStoredUnder(bed.rawValue("/registry/secrets/default/" + name), KubeTestBed.KMS_PREFIX);
    }
    assertEquals("db-password-value", value(k, "db-password"));
    assertEquals("still plain", value(k, "during-step-1"));
  }

  /** The tested blocks of a Markdown file, by name, in the order they appear. */
  private static Map<String, Block> blocks(Path markdown) throws IOException {
    Map<String, Block> blocks = new LinkedHashMap<>();
    Matcher m = BLOCK.matcher(Files.readString(markdown, StandardCharsets.UTF_8));
    while (m.find()) {
      blocks.put(
          m.group(1), new Block(m.group(4), m.group(2) == null ? 0 : Integer.parseInt(m.group(2))));
    }
    return blocks;
  }

  private static String forThisCluster(Block config) {
    String yaml = config.text();
    assertTrue(yaml.contains(GUIDE_KMS_ENDPOINT), yaml);
    return yaml.replace(GUIDE_KMS_ENDPOINT, bed.kms().endpoint().toString());
  }

  /**
   * Runs a shell block in {@code dir} with the guide's variables and kubectl's configuration set,
   * stopping at the first failing command, and checks its exit code and that the output ends with
   * the block's {@code # } lines. Returns the output.
   */
  private static String run(Path dir, Block tested) throws Exception {
    String block = tested.text();
    List<String> tls =
        bed.etcdToolArgs().subList(2, 8); // --cacert, --cert and --key with their files
    // Output to a file: a pipe could fill and stall the block, or be held open by a process the
    // block started.
    Path output = Files.createTempFile("guide-block", ".out");
    ProcessBuilder pb =
        new ProcessBuilder("bash", "-euo", "pipefail", "-c", block)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    pb.environment().put("ETCD", bed.etcd().clientUrl());
    pb.environment().put("TLS", String.join(" ", tls));
    pb.environment().put("KUBECONFIG", bed.apiserver().kubeconfig().toString());
    pb.environment()
        .put("PATH", Testenv.require("kubectl").getParent() + ":" + System.getenv("PATH"));
    Process p = pb.start();
    if (!p.waitFor(3, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError(
          "the block did not finish within 3 minutes:\n"
              + block
              + "\n--- output:\n"
              + new String(Files.readAllBytes(output), StandardCharsets.UTF_8));
    }
    String out = new String(Files.readAllBytes(output), StandardCharsets.UTF_8);
    Files.delete(output);
    assertEquals(
        tested.exit(), p.exitValue(), "the block's exit code:\n" + block + "\n--- output:\n" + out);
    List<String> expected =
        block
            .lines()
            .filter(l -> l.startsWith("# "))
            .map(l -> l.substring(2))
            .collect(Collectors.toList());
    List<String> lines = out.lines().collect(Collectors.toList());
    assertTrue(lines.size() >= expected.size(), out);
    assertEquals(
        expected,
        lines.subList(lines.size() - expected.size(), lines.size()),
        "the guide shows other output than the block prints:\n" + block);
    return out;
  }

  private static String value(KubernetesClient k, String name) {
    return KubeObjects.secretValue(
        k.secrets().inNamespace("default").withName(name).get(), "value");
  }
}
