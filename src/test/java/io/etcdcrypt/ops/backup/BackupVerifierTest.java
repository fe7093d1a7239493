package io.etcdcrypt.ops.backup;

import static io.etcdcrypt.ops.OpsFixtures.AESCBC_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.IDENTITY;
import static io.etcdcrypt.ops.OpsFixtures.KEY2;
import static io.etcdcrypt.ops.OpsFixtures.SECRETBOX;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.withRule;
import static io.etcdcrypt.ops.backup.BackupFixtures.census;
import static io.etcdcrypt.ops.backup.BackupFixtures.deleteRaw;
import static io.etcdcrypt.ops.backup.BackupFixtures.putRaw;
import static io.etcdcrypt.ops.backup.BackupFixtures.save;
import static io.etcdcrypt.ops.backup.BackupFixtures.verify;
import static io.etcdcrypt.ops.backup.BackupFixtures.writeThrough;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.ops.CensusResult;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.ops.backup.BackupFixtures.Live;
import io.etcdcrypt.snapshot.EtcdSnapshot;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@RealComponents
@Timeout(180)
class BackupVerifierTest {

  /** Before encryption: secrets stored as plaintext. */
  private static final String BEFORE = config("secrets", IDENTITY);

  /** Encryption on, with identity kept to read the old plaintext. */
  private static final String KEY1_ONLY = config("secrets", AESGCM_KEY1, IDENTITY);

  /** Rotated to key2; every provider of the project in use. */
  private static final String ROTATED =
      withRule(
          withRule(config("secrets", AESGCM_KEY2_KEY1, IDENTITY), "configmaps", AESCBC_KEY1),
          "serviceaccounts",
          SECRETBOX);

  /** key1 and identity retired. */
  private static final String KEY2_ONLY =
      withRule(
          withRule(
              config("secrets", "aesgcm: {keys: [{name: key2, secret: '" + KEY2 + "'}]}"),
              "configmaps",
              AESCBC_KEY1),
          "serviceaccounts",
          SECRETBOX);

  @TempDir Path dir;

  /**
   * A cluster's life on one etcd release: plaintext secrets, then encryption, a rotation, a value
   * no key opens, a deletion; the snapshot etcdctl saves and the stopped member's db both give the
   * live census's counts, and the history names what older revisions hold.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(EtcdRelease.class)
  void snapshotsOfEveryReleaseCountAsTheLiveCensusAndKeepTheirHistory(EtcdRelease release)
      throws Exception {
    try (Live live = Live.start(release)) {
      EtcdProcess etcd = live.etcd();
      ManagedChannel raw = live.raw();
      String endpoint = etcd.endpoint();
      writeThrough(codec(BEFORE), endpoint, "/registry/secrets/a/early", "plain");
      writeThrough(
          codec(KEY1_ONLY),
          endpoint,
          "/registry/secrets/a/early",
          "now encrypted",
          "/registry/secrets/b/rotated",
          "v1",
          "/registry/secrets/b/deleted",
          "gone soon");
      writeThrough(
          codec(ROTATED),
          endpoint,
          "/registry/secrets/b/rotated",
          "v2",
          "/registry/secrets/c/new",
          "v",
          "/registry/configmaps/kube-system/cm",
          "{}",
          "/registry/serviceaccounts/default/default",
          "{}");
      putRaw(raw, "/registry/secrets/c/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789");
      putRaw(raw, "/registry/pods/default/p", "{}");
      putRaw(raw, "compact_rev_key", "not an object");
      deleteRaw(raw, "/registry/secrets/b/deleted");

      EncryptionCodec rotated = codec(ROTATED);
      CensusResult liveCensus = census(rotated, raw);
      BackupReport saved = verify(save(etcd, dir.resolve("snap.db")), rotated, true);

      assertEquals(liveCensus.counts(), saved.latest().counts(), "etcdctl snapshot save vs census");
      assertEquals(EtcdSnapshot.Checksum.VERIFIED, saved.checksum());
      assertEquals(1, saved.latest().undecryptableCount());
      assertEquals("/registry/secrets/c/lost", saved.latest().undecryptable().get(0).key());
      assertEquals(1, saved.deletedKeys());
      assertEquals(0, saved.plaintextCount(), "identity first wrote nothing that is still latest");
      assertEquals(BackupReport.Outcome.UNDECRYPTABLE, saved.outcome());
      assertEquals(
          Map.of(
              "/registry/secrets/a/early", "plaintext",
              "/registry/secrets/b/deleted", "none"),
          exposures(saved.history(), "/registry/secrets/a/early", "/registry/secrets/b/deleted"),
          "the plaintext revision before encryption is named; the deleted key's encrypted one not");
      History.Finding early = findings(saved.history()).get("/registry/secrets/a/early");
      assertEquals(1, early.revisions());
      assertTrue(early.fromRevision() < saved.revision(), early.toString());

      // With key1 retired, the rotated secret's first revision is what only a retired key opens.
      BackupReport retired = verify(dir.resolve("snap.db"), codec(KEY2_ONLY), true);
      History.Finding rotatedOld = findings(retired.history()).get("/registry/secrets/b/rotated");
      assertEquals("undecryptable", rotatedOld.kind(), rotatedOld.toString());
      assertEquals(
          "no matching key was found for the provided AES transformer", rotatedOld.reason());

      etcd.stop();
      BackupReport member = verify(etcd.dataDir().resolve("member/snap/db"), rotated, true);
      assertEquals(liveCensus.counts(), member.latest().counts(), "member/snap/db vs census");
      assertEquals(EtcdSnapshot.Checksum.ABSENT, member.checksum());
      assertEquals(saved.revision(), member.revision());
    }
  }

  /** Latest values: plaintext where the configuration now encrypts is found. */
  @Test
  void plaintextLatestValuesOfAnEncryptedResourceAreNamed() throws Exception {
    try (Live live = Live.start(EtcdRelease.current())) {
      EtcdProcess etcd = live.etcd();
      ManagedChannel raw = live.raw();
      writeThrough(codec(BEFORE), etcd.endpoint(), "/registry/secrets/a/plain", "p");
      writeThrough(codec(KEY1_ONLY), etcd.endpoint(), "/registry/secrets/a/sealed", "s");

      BackupReport r = verify(save(etcd, dir.resolve("s.db")), codec(KEY1_ONLY), false);

      assertEquals(BackupReport.Outcome.PLAINTEXT, r.outcome());
      assertEquals(
          List.of(new BackupReport.PlaintextValue("/registry/secrets/a/plain", "secrets")),
          r.plaintext());
      assertEquals(null, r.history());
      assertEquals(census(codec(KEY1_ONLY), raw).counts(), r.latest().counts());
    }
  }

  /**
   * Compaction drops old revisions from the tree but leaves their bytes in free pages, which a
   * snapshot copies; only a defragmentation removes them.
   */
  @Test
  void compactedPlaintextStaysInFreePagesUntilADefragmentation() throws Exception {
    try (Live live = Live.start(EtcdRelease.current())) {
      EtcdProcess etcd = live.etcd();
      ManagedChannel raw = live.raw();
      writeThrough(codec(BEFORE), etcd.endpoint(), "/registry/secrets/a/s", "plain");
      writeThrough(codec(KEY1_ONLY), etcd.endpoint(), "/registry/secrets/a/s", "sealed");
      EncryptionCodec codec = codec(KEY1_ONLY);
      long rev = census(codec, raw).revision();
      Etcdctl etcdctl = new Etcdctl(etcd.endpoint());

      BackupReport before = verify(save(etcd, dir.resolve("before.db")), codec, true);
      etcdctl.run("compact", Long.toString(rev)).assertOk();
      BackupReport compacted = verify(save(etcd, dir.resolve("compacted.db")), codec, true);
      etcdctl.run("defrag").assertOk();
      BackupReport defragmented = verify(save(etcd, dir.resolve("defrag.db")), codec, true);

      History.Finding old = findings(before.history()).get("/registry/secrets/a/s");
      assertEquals("plaintext", old.kind());
      assertEquals(false, old.freed());
      assertEquals(BackupReport.Outcome.PLAINTEXT, before.outcome());

      History.Finding freed = findings(compacted.history()).get("/registry/secrets/a/s");
      assertEquals(true, freed.freed(), "compacted, but still in the file: " + freed);
      assertEquals(old.fromRevision(), freed.fromRevision());
      assertEquals(rev, compacted.compactedRevision());
      assertEquals(BackupReport.Outcome.PLAINTEXT, compacted.outcome());

      assertEquals(0, defragmented.history().findingCount(), "defragmentation drops them");
      assertEquals(0, defragmented.history().freedRecords());
      assertEquals(BackupReport.Outcome.OK, defragmented.outcome());
      assertEquals(census(codec, raw).counts(), defragmented.latest().counts());
    }
  }

  /**
   * KMS v2: every value under one seed costs one Decrypt, whatever the number of values; KMS v1
   * values are read too.
   */
  @Test
  void kmsV2ValuesCostOneDecryptPerSeed() throws Exception {
    try (Live live = Live.start(EtcdRelease.current());
        KmsPluginFixture plugin = KmsPluginFixture.start(dir)) {
      EtcdProcess etcd = live.etcd();
      ManagedChannel raw = live.raw();
      String yaml =
          withRule(
              config("secrets", OpsFixtures.kmsV2("kms1", plugin.endpoint().url())),
              "configmaps",
              "kms: {name: kmsv1, endpoint: '" + plugin.endpoint().url() + "', timeout: 2s}");
      String[] kvs = new String[2 * 220];
      for (int i = 0; i < 200; i++) {
        kvs[2 * i] = OpsFixtures.secretKey(i);
        kvs[2 * i + 1] = "value " + i;
      }
      for (int i = 200; i < 220; i++) {
        kvs[2 * i] = "/registry/configmaps/ns/cm-" + i;
        kvs[2 * i + 1] = "{}";
      }
      try (KmsProviders writer = new KmsProviders()) {
        writeThrough(codec(yaml, writer), etcd.endpoint(), kvs);
      }
      Path snap = save(etcd, dir.resolve("kms.db"));

      AtomicInteger decrypts = new AtomicInteger();
      KmsObserver counting =
          new KmsObserver() {
            @Override
            public void pluginCall(
                String provider, String fullMethod, Status.Code code, long nanos) {
              if (fullMethod.startsWith("/v2.") && fullMethod.endsWith("/Decrypt")) {
                decrypts.incrementAndGet();
              }
            }
          };
      try (KmsProviders reader =
          new KmsProviders(KmsProviderOptions.defaults().withObserver(counting))) {
        EncryptionCodec codec = codec(yaml, reader);
        BackupReport r = verify(snap, codec, true);
        assertEquals(
            Map.of(
                "secrets",
                Map.of("k8s:enc:kms:v2:kms1: key_id=kek-1", 200L),
                "configmaps",
                Map.of("k8s:enc:kms:v1:kmsv1:", 20L)),
            r.latest().counts());
        assertEquals(BackupReport.Outcome.OK, r.outcome());
        assertEquals(1, decrypts.get(), "one seed, one Decrypt, across latest and history");
        assertEquals(census(codec, raw).counts(), r.latest().counts());
      }
    }
  }

  private static Map<String, History.Finding> findings(History h) {
    return h.findings().stream().collect(Collectors.toMap(History.Finding::key, f -> f));
  }

  private static Map<String, String> exposures(History h, String... keys) {
    Map<String, History.Finding> f = findings(h);
    return java.util.Arrays.stream(keys)
        .collect(Collectors.toMap(k -> k, k -> f.containsKey(k) ? f.get(k).kind() : "none"));
  }
}
