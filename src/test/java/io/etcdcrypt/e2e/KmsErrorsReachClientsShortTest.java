package io.etcdcrypt.e2e;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a client sees when the KMS plugin is not there: one short line that says so, with the
 * socket, never the proxy's stack frames (a 6.6 KB description with twenty frames before).
 */
@RealComponents
@Timeout(120)
class KmsErrorsReachClientsShortTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @Test
  void aMissingPluginSocketIsOneShortLineNamingTheSocket(@TempDir Path dir) throws Exception {
    Path socket = dir.resolve("no-plugin.sock");
    String yaml =
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets]",
            "    providers: [{kms: {apiVersion: v2, name: gone, endpoint: 'unix://"
                + socket
                + "', timeout: 1s}}]",
            "");
    try (KmsProviders kms = new KmsProviders();
        ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint())) {
      Command.Result put =
          new Etcdctl(proxy.endpoint()).run("put", "/registry/secrets/ns/s", "value");
      assertNotEquals(0, put.exitCode(), put::toString);
      String description = description(put.stderr());
      assertTrue(description.length() < 300, description.length() + " characters: " + description);
      assertFalse(description.contains("\tat ") || description.contains("\n"), description);
      assertTrue(description.contains(socket.toString()), description);
      assertTrue(
          description.startsWith("etcd-crypt-proxy: cannot encrypt the value for key"),
          description);
    }
  }

  /**
   * etcdctl ends with {@code Error: rpc error: code = X desc = DESCRIPTION}; before it, its client
   * may log a retry warning (JSON) that quotes the same status.
   */
  private static String description(String stderr) {
    String error =
        stderr
            .lines()
            .filter(line -> line.startsWith("Error: "))
            .reduce((first, second) -> second)
            .orElseThrow(() -> new AssertionError("no Error: line in " + stderr));
    int at = error.indexOf("desc = ");
    assertTrue(at >= 0, error);
    return error.substring(at + "desc = ".length()).strip();
  }
}
