package io.etcdcrypt.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.EncryptionConfiguration;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compose demo's topology without Docker: a real etcd, the bundled KMS plugin, the proxy
 * running the example configuration (only its socket path moved into a temp dir), and the demo
 * client script itself, run with sh and etcdctl. What the script prints is what a new user sees in
 * {@code docker compose logs client}.
 */
@RealComponents
class DemoClientScriptTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final Path SCRIPT = Path.of("deploy", "client", "demo.sh").toAbsolutePath();
  private static final Path EXAMPLE_CONFIG =
      Path.of("config", "encryption-config.yaml").toAbsolutePath();
  private static final String COMPOSE_SOCKET = "unix:///var/run/kmsplugin/socket.sock";

  @TempDir Path dir;

  @Test
  void demoClientShowsCiphertextInEtcdAndPlaintextThroughTheProxy() throws Exception {
    try (KmsPluginFixture plugin = KmsPluginFixture.start(dir);
        KmsProviders kms = new KmsProviders()) {
      String yaml = Files.readString(EXAMPLE_CONFIG);
      assertTrue(yaml.contains(COMPOSE_SOCKET));
      EncryptionConfiguration config =
          EncryptionConfigLoader.parse(
              yaml.replace(COMPOSE_SOCKET, "unix://" + dir.resolve("plugin.sock")), "example");
      try (ProxyFixture proxy =
          ProxyFixture.start(
              EncryptionCodec.create(config, new ResourceResolver("/registry"), kms),
              etcd.endpoint())) {

        String out = runScript(proxy.url(), etcdUrl());

        String raw =
            section(out, "== what etcd itself stores", "== the same keys read through the proxy");
        assertTrue(raw.contains("\"Value\" : \"k8s:enc:kms:v2:bundled-kms:"), out);
        assertTrue(raw.contains("\"Value\" : \"k8s:enc:secretbox:v1:demo-only-not-secret:"), out);
        assertFalse(
            raw.contains("hunter2") || raw.contains("color=blue"), "plain text in etcd: " + out);

        String readBack =
            section(out, "== the same keys read through the proxy", "== where to look");
        assertTrue(readBack.contains("password=hunter2 (written by the demo client)"), out);
        assertTrue(readBack.contains("color=blue (written by the demo client)"), out);

        String whereToLook = section(out, "== where to look", null);
        assertTrue(whereToLook.contains("http://localhost:23791/metrics"), out);
        assertTrue(
            whereToLook.contains(
                "sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) /"
                    + " (sum(rate(etcd_crypt_proxy_dek_cache_hits_total[5m])) +"
                    + " sum(rate(etcd_crypt_proxy_dek_cache_misses_total[5m])))"),
            out);
      }
    }
  }

  private String etcdUrl() {
    String e = etcd.endpoint();
    return e.contains("://") ? e : "http://" + e;
  }

  private String runScript(String proxyUrl, String etcdUrl) throws Exception {
    File output = dir.resolve("demo.out").toFile();
    ProcessBuilder pb =
        new ProcessBuilder("sh", SCRIPT.toString())
            .redirectErrorStream(true)
            .redirectOutput(output);
    Path etcdctl = Path.of(Etcdctl.binary()).toAbsolutePath().getParent();
    pb.environment()
        .put(
            "PATH",
            etcdctl + File.pathSeparator + System.getenv().getOrDefault("PATH", "/usr/bin"));
    pb.environment().put("ETCDCTL_API", "3");
    pb.environment().put("PROXY", proxyUrl);
    pb.environment().put("ETCD", etcdUrl);
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(
          "demo.sh did not finish within 120 s: " + Files.readString(output.toPath()));
    }
    String out = Files.readString(output.toPath(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  private static String section(String out, String start, String end) {
    int from = out.indexOf(start);
    assertTrue(from >= 0, "no section '" + start + "' in:\n" + out);
    int to = end == null ? out.length() : out.indexOf(end, from);
    assertTrue(to >= 0, "no section '" + end + "' in:\n" + out);
    return out.substring(from, to);
  }
}
