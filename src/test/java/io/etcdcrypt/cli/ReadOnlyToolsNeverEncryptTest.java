package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.kmsV2;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kmsplugin.KeyFileKekStore;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 item 12: the tools that write nothing (census, rewrap --dry-run, verify-backup) never
 * ask the KMS plugin to Encrypt. The bundled plugin runs as operators run it, {@code kms-plugin} in
 * a JVM of its own at {@code --log-level debug}, which logs one line per Encrypt and Decrypt it
 * serves: the test counts them.
 */
@RealComponents
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ReadOnlyToolsNeverEncryptTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @TempDir Path dir;

  @Test
  void censusDryRunAndVerifyBackupAskForStatusAndDecryptOnly() throws Exception {
    Path keys = dir.resolve("keks");
    KeyFileKekStore.generateKey(keys, "kek-1", Clock.systemUTC());
    Path socket = dir.resolve("plugin.sock");
    try (JavaProcess plugin =
        JavaProcess.start(
            dir.resolve("plugin.log"),
            Map.of(),
            "kms-plugin",
            "--key-file",
            keys.toString(),
            "--listen",
            "unix://" + socket,
            "--log-level",
            "debug")) {
      Await.until(
          "the plugin's socket",
          Duration.ofSeconds(60),
          () -> Files.exists(socket) || !plugin.isAlive());
      assertTrue(plugin.isAlive(), plugin::output);
      String yaml = config("secrets", kmsV2("bundled", "unix://" + socket));

      // What kube-apiserver does through the proxy: the proxy's provider sends one Encrypt (its
      // seed).
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client client = proxy.client()) {
        OpsFixtures.putAll(client, 5, OpsFixtures::secretKey, i -> "v" + i);
      }
      Await.until(
          "the seed's Encrypt", Duration.ofSeconds(10), () -> calls(plugin, "v2 Encrypt") == 1);

      Path config = write(dir.resolve("enc.yaml"), yaml);
      List<String> tool = List.of("--encryption-provider-config", config.toString());
      CliRun census = CliRun.of(args("census", tool));
      assertEquals(0, census.exitCode(), census::toString);
      int decrypts = calls(plugin, "v2 Decrypt");
      assertTrue(decrypts >= 1, "census opened the values through the plugin: " + plugin.output());

      CliRun dryRun = CliRun.of(args("rewrap", tool, "--dry-run"));
      assertEquals(0, dryRun.exitCode(), dryRun::toString);
      CliRun verify = CliRun.of(args("verify-backup", tool));
      assertEquals(0, verify.exitCode(), verify::toString);
      assertTrue(calls(plugin, "v2 Decrypt") > decrypts, "each tool asked the plugin to Decrypt");

      assertEquals(1, calls(plugin, "v2 Encrypt"), "only the proxy's: " + plugin.output());
    }
  }

  private List<String> args(String command, List<String> tool, String... more) {
    return CliRun.args(
        CliRun.args(List.of(command, "--endpoints", etcd.endpoint()), tool.toArray(String[]::new)),
        more);
  }

  /** The calls the plugin logged at debug whose line holds {@code what}. */
  private static int calls(JavaProcess plugin, String what) {
    return (int) plugin.output().lines().filter(l -> l.contains(what + " uid=")).count();
  }
}
