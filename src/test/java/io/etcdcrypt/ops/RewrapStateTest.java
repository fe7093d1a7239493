package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.KEY1;
import static io.etcdcrypt.ops.OpsFixtures.KEY2;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.key;
import static io.etcdcrypt.ops.OpsFixtures.withRule;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RewrapStateTest {

  private static final Scope SECRETS =
      Scope.ofPrefix("/registry/secrets/", ResourceSelection.all());
  private static final Scope CONFIGMAPS =
      Scope.ofPrefix("/registry/configmaps/", ResourceSelection.all());
  private static final List<String> TARGETS = List.of("secrets=aesgcm:key2");

  @TempDir Path dir;

  private RewrapState saved(Path file) throws Exception {
    RewrapState s = RewrapState.load(file, "/registry/", TARGETS);
    s.bind(0xabcL);
    s.completedThrough(SECRETS, key("/registry/secrets/ns/s-7"));
    s.rangeComplete(CONFIGMAPS);
    s.save();
    return s;
  }

  @Test
  void progressSurvivesARestartOfTheSameRewrap() throws Exception {
    Path file = dir.resolve("sub/state.json");
    saved(file);

    RewrapState again = RewrapState.load(file, "/registry/", TARGETS);
    again.bind(0xabcL);
    assertEquals(key("/registry/secrets/ns/s-7"), again.resumeAfter(SECRETS));
    assertFalse(again.isComplete(SECRETS));
    assertTrue(again.isComplete(CONFIGMAPS));
    assertEquals(
        List.of("state.json"),
        List.of(file.getParent().toFile().list()),
        "no temporary file is left");
    String json = Files.readString(file);
    assertTrue(json.contains("\"after\": \"/registry/secrets/ns/s-7\""), json);
    assertTrue(json.contains("\"clusterId\": \"abc\""), json);
  }

  @Test
  void progressOfAnotherClusterPrefixOrConfigurationIsIgnored() throws Exception {
    Path file = dir.resolve("state.json");
    saved(file);

    RewrapState otherCluster = RewrapState.load(file, "/registry/", TARGETS);
    otherCluster.bind(0xdefL);
    assertNull(otherCluster.resumeAfter(SECRETS));
    assertFalse(otherCluster.isComplete(CONFIGMAPS));

    RewrapState otherPrefix = RewrapState.load(file, "/other/", TARGETS);
    otherPrefix.bind(0xabcL);
    assertNull(otherPrefix.resumeAfter(SECRETS));

    RewrapState otherTargets = RewrapState.load(file, "/registry/", List.of("secrets=aesgcm:key3"));
    otherTargets.bind(0xabcL);
    assertNull(otherTargets.resumeAfter(SECRETS));

    RewrapState fresh = RewrapState.fresh(file, "/registry/", TARGETS);
    fresh.bind(0xabcL);
    assertNull(fresh.resumeAfter(SECRETS));
  }

  @Test
  void anUnreadableFileMeansStartingOver() throws Exception {
    Path file = dir.resolve("state.json");
    Files.writeString(file, "{ not json");
    RewrapState s = RewrapState.load(file, "/registry/", TARGETS);
    s.bind(1);
    assertNull(s.resumeAfter(SECRETS));
    s.delete();
    assertFalse(Files.exists(file));
  }

  @Test
  void targetsNameProvidersAndKeysButHoldNoKeyMaterial() throws Exception {
    String yaml =
        withRule(
            config("secrets,configmaps", AESGCM_KEY2_KEY1),
            "'*.apps'",
            OpsFixtures.kmsV2("vault", "unix:///tmp/kms.sock"),
            OpsFixtures.AESCBC_KEY1);
    List<String> targets = RewrapTargets.of(OpsFixtures.parse(yaml));
    assertEquals(
        List.of("*.apps=kms:v2:vault", "configmaps=aesgcm:key2", "secrets=aesgcm:key2"), targets);
    assertFalse(
        String.join(",", targets).contains(KEY1) || String.join(",", targets).contains(KEY2));
  }

  @Test
  void theDefaultFileIsUnderXdgStateHomeOrTheWorkingDirectory() {
    assertEquals(
        Path.of("/var/lib/me/etcd-crypt-proxy/rewrap-state.json"),
        RewrapState.defaultFile(Map.of("XDG_STATE_HOME", "/var/lib/me")));
    assertEquals(Path.of("etcd-crypt-proxy-rewrap-state.json"), RewrapState.defaultFile(Map.of()));
  }
}
