package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.ops.backup.BackupFixtures;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mistyped {@code --resources} name or {@code --etcd-prefix} makes census, rewrap and
 * verify-backup fail with the name and what it should probably be, instead of scanning an empty
 * range and reporting that all is well.
 */
@RealComponents
@Timeout(120)
class TyposAreRefusedTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  @TempDir Path dir;

  @BeforeEach
  void aPlaintextSecret() {
    raw.put("/registry/secrets/ns/s", "plain");
  }

  private CliRun run(String command, String target, String... more) throws Exception {
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1));
    List<String> args = new ArrayList<>(List.of(command));
    if (command.equals("verify-backup")) {
      args.add(target);
    } else {
      args.addAll(List.of("--endpoints", target));
    }
    args.addAll(List.of("--encryption-provider-config", config.toString()));
    if (command.equals("rewrap")) {
      args.addAll(List.of("--state-file", dir.resolve("state.json").toString()));
    }
    args.addAll(List.of(more));
    return CliRun.of(args);
  }

  private static void assertRefused(CliRun r, String command, String message) {
    assertEquals(2, r.exitCode(), r::toString);
    assertTrue(r.err().startsWith(command + ": ") && r.err().contains(message), r::toString);
    assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r::toString);
  }

  private List<CliRun> everyTool(String... more) throws Exception {
    Path snapshot = BackupFixtures.save(etcd.process(), dir.resolve("snap.db"));
    return List.of(
        run("census", etcd.endpoint(), more),
        run("rewrap", etcd.endpoint(), more),
        run(
            "rewrap",
            etcd.endpoint(),
            CliRun.args(List.of(more), "--dry-run").toArray(String[]::new)),
        run("verify-backup", snapshot.toString(), more));
  }

  @Test
  void aMistypedResourceIsRefusedWithTheNearestNames() throws Exception {
    List<CliRun> runs = everyTool("--resources", "secrets,sekrets");
    String[] commands = {"census", "rewrap", "rewrap", "verify-backup"};
    for (int i = 0; i < runs.size(); i++) {
      assertRefused(
          runs.get(i),
          commands[i],
          "--resources: \"sekrets\" is neither named in the configuration nor a built-in kube"
              + " resource; did you mean secrets?");
    }
    assertEquals("plain", raw.stored("/registry/secrets/ns/s"), "rewrap wrote nothing");
  }

  @Test
  void aPrefixWithNothingUnderItIsRefused() throws Exception {
    List<CliRun> runs = everyTool("--etcd-prefix", "/regsitry");
    String[] commands = {"census", "rewrap", "rewrap"};
    for (int i = 0; i < commands.length; i++) {
      assertRefused(
          runs.get(i),
          commands[i],
          "nothing is stored under --etcd-prefix /regsitry/ (etcd holds keys elsewhere, e.g. under"
              + " /registry/): give kube-apiserver's --etcd-prefix (default /registry)");
    }
    assertRefused(
        runs.get(3),
        "verify-backup",
        "holds nothing under --etcd-prefix /regsitry/: give kube-apiserver's --etcd-prefix (default"
            + " /registry)");
  }

  @Test
  void aKnownResourceWithNoObjectsIsStillFine() throws Exception {
    for (CliRun r : everyTool("--resources", "configmaps")) {
      assertEquals(0, r.exitCode(), r::toString);
    }
  }
}
