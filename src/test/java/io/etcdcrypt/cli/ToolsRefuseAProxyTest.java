package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * census, rewrap and verify-backup read (and rewrap writes) stored values: pointed at the proxy
 * instead of etcd, they would see plaintext and double-encrypt. Each refuses it and says what to
 * give instead; the same flags with etcd's address work.
 */
@RealComponents
@Timeout(120)
class ToolsRefuseAProxyTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @TempDir Path dir;

  @Test
  void everyToolRefusesAProxyEndpoint() throws Exception {
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1));
    try (ProxyFixture proxy =
        ProxyFixture.start(codec(config("secrets", AESGCM_KEY1)), etcd.endpoint())) {
      for (List<String> tool :
          List.of(
              List.of("census"),
              List.of("rewrap", "--state-file", dir.resolve("state.json").toString()),
              List.of("verify-backup", "--save", dir.resolve("snap.db").toString()))) {
        List<String> common =
            List.of("--encryption-provider-config", config.toString(), "--endpoints");
        CliRun throughProxy =
            CliRun.of(
                CliRun.args(CliRun.args(tool, common.toArray(String[]::new)), proxy.endpoint()));
        assertEquals(2, throughProxy.exitCode(), tool + ": " + throughProxy);
        assertTrue(
            throughProxy.err().contains(proxy.endpoint() + " is an etcd-crypt-proxy (")
                && throughProxy.err().contains("give etcd's own address"),
            tool + ": " + throughProxy);
        assertFalse(Files.exists(dir.resolve("snap.db")), "no snapshot through the proxy");

        CliRun direct =
            CliRun.of(
                CliRun.args(CliRun.args(tool, common.toArray(String[]::new)), etcd.endpoint()));
        assertEquals(0, direct.exitCode(), tool + " on etcd: " + direct);
      }
    }
  }
}
