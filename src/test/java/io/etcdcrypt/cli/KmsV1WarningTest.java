package io.etcdcrypt.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.FreePorts;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} warns about a KMS v1 provider, also one whose apiVersion is left out, when it
 * starts and on every reload: kube-apiserver 1.29+ refuses such a file without its KMSv1 feature
 * gate.
 */
@RealComponents
@Timeout(120)
class KmsV1WarningTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @TempDir Path dir;

  private static String v1(String endpoint, String timeout) {
    return OpsFixtures.config(
        "secrets", "kms: {name: legacy, endpoint: '" + endpoint + "', timeout: " + timeout + "}");
  }

  private static long warnings(String log) {
    return log.lines()
        .filter(l -> l.contains("WARN") && l.contains("kms.apiVersion: KMS v1 (apiVersion v1, or"))
        .filter(l -> l.contains("--feature-gates=KMSv1=true") && l.contains("use apiVersion: v2"))
        .count();
  }

  @Test
  void serveWarnsAtStartAndOnReload() throws Exception {
    try (KmsPluginFixture plugin = KmsPluginFixture.start(dir)) {
      String endpoint = plugin.endpoint().url();
      Path config = OpsFixtures.write(dir.resolve("enc.yaml"), v1(endpoint, "3s"));
      try (JavaProcess serve =
          JavaProcess.start(
              dir.resolve("serve.log"),
              Map.of(),
              "serve",
              "--listen-addr",
              "127.0.0.1:" + FreePorts.next(),
              "--endpoints",
              etcd.endpoint(),
              "--encryption-provider-config",
              config.toString(),
              "--encryption-provider-config-automatic-reload")) {
        Await.until(
            "a warning at start:\n" + serve.output(),
            Duration.ofSeconds(30),
            () -> warnings(serve.output()) == 1);
        OpsFixtures.write(config, v1(endpoint, "4s"));
        Await.until(
            "a warning on reload:\n" + serve.output(),
            Duration.ofSeconds(60),
            () -> warnings(serve.output()) >= 2);
        assertTrue(serve.isAlive(), serve::output);
      }
    }
  }
}
