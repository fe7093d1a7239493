package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.IDENTITY;
import static io.etcdcrypt.ops.OpsFixtures.KEY1;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.ops.backup.BackupFixtures;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
@Timeout(120)
class VerifyBackupCommandTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final String SECRET_VALUE = "s3cr3t-value-never-printed";

  @TempDir static Path shared;
  @TempDir Path dir;

  /** Encrypted secrets, one plaintext secret written before encryption, one value no key opens. */
  private static Path mixed;

  /** Every secret encrypted with key1. */
  private static Path clean;

  @BeforeAll
  static void snapshots() throws Exception {
    raw.beforeEach(null);
    BackupFixtures.writeThrough(
        codec(config("secrets", AESGCM_KEY1)),
        etcd.endpoint(),
        "/registry/secrets/a/ok",
        SECRET_VALUE);
    clean = BackupFixtures.save(etcd.process(), shared.resolve("clean.db"));
    BackupFixtures.writeThrough(
        codec(config("secrets", IDENTITY)),
        etcd.endpoint(),
        "/registry/secrets/a/plain",
        SECRET_VALUE);
    raw.put("/registry/secrets/a/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789");
    mixed = BackupFixtures.save(etcd.process(), shared.resolve("mixed.db"));
  }

  private CliRun verify(Path snapshot, String yaml, String... more) throws Exception {
    Path config = write(dir.resolve("enc.yaml"), yaml);
    List<String> args =
        new ArrayList<>(
            List.of(
                "verify-backup",
                snapshot.toString(),
                "--encryption-provider-config",
                config.toString()));
    args.addAll(List.of(more));
    return CliRun.of(args);
  }

  private static void assertNoTrace(CliRun r) {
    assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r::toString);
  }

  @Test
  void exitCodesSayWhatWasFound() throws Exception {
    CliRun ok = verify(clean, config("secrets", AESGCM_KEY1));
    assertEquals(0, ok.exitCode(), ok::toString);
    assertTrue(ok.out().contains("RESULT: ok"), ok::toString);

    CliRun plaintextOnly =
        verify(mixed, config("secrets", AESGCM_KEY1, IDENTITY), "--resources", "configmaps");
    assertEquals(0, plaintextOnly.exitCode(), "no configmaps at all: " + plaintextOnly);

    CliRun undecryptable = verify(mixed, config("secrets", AESGCM_KEY1, IDENTITY));
    assertEquals(1, undecryptable.exitCode(), undecryptable::toString);
    assertTrue(
        undecryptable.out().contains("undecryptable: /registry/secrets/a/lost: "),
        undecryptable::toString);
    assertTrue(
        undecryptable.out().contains("plaintext: /registry/secrets/a/plain"),
        undecryptable::toString);

    CliRun history = verify(clean, config("secrets", AESGCM_KEY1), "--all-revisions");
    assertEquals(0, history.exitCode(), history::toString);

    for (CliRun r : List.of(ok, undecryptable, history)) {
      assertFalse(r.out().contains(SECRET_VALUE) || r.err().contains(SECRET_VALUE), r::toString);
      assertFalse(r.out().contains(KEY1) || r.err().contains(KEY1), r::toString);
    }
  }

  @Test
  void plaintextWhereTheConfigurationEncryptsExitsThree() throws Exception {
    raw.put("/registry/configmaps/ns/cm", "plain config");
    Path snap = BackupFixtures.save(etcd.process(), dir.resolve("cm.db"));
    CliRun r =
        verify(snap, config("configmaps", AESGCM_KEY1, IDENTITY), "--resources", "configmaps");
    assertEquals(3, r.exitCode(), r::toString);
    assertTrue(r.out().contains("plaintext: /registry/configmaps/ns/cm"), r::toString);
    assertFalse(r.out().contains("plain config"), r::toString);
  }

  @Test
  void jsonIsTheDocumentedDocument() throws Exception {
    CliRun r =
        verify(
            mixed, config("secrets", AESGCM_KEY1, IDENTITY), "--output", "json", "--all-revisions");
    assertEquals(1, r.exitCode(), r::toString);
    JsonObject doc = JsonParser.parseString(r.out()).getAsJsonObject();
    assertEquals(
        List.of("outcome", "exitCode", "snapshot", "latest", "history"), List.copyOf(doc.keySet()));
    assertEquals("undecryptable", doc.get("outcome").getAsString());
    assertEquals(1, doc.get("exitCode").getAsInt());
    assertEquals(
        List.of("file", "bytes", "checksum", "revision", "compactedRevision"),
        List.copyOf(doc.getAsJsonObject("snapshot").keySet()));
    assertEquals("verified", doc.getAsJsonObject("snapshot").get("checksum").getAsString());
    JsonObject latest = doc.getAsJsonObject("latest");
    assertEquals(
        List.of(
            "values",
            "deletedKeys",
            "counts",
            "undecryptableCount",
            "undecryptable",
            "plaintextCount",
            "plaintext"),
        List.copyOf(latest.keySet()));
    assertEquals(1, latest.get("undecryptableCount").getAsInt());
    assertEquals(
        "/registry/secrets/a/plain",
        latest.getAsJsonArray("plaintext").get(0).getAsJsonObject().get("key").getAsString());
    assertEquals(
        List.of(
            "records",
            "freedRecords",
            "deletions",
            "counts",
            "plaintextRevisions",
            "undecryptableRevisions",
            "findingCount",
            "findings"),
        List.copyOf(doc.getAsJsonObject("history").keySet()));
  }

  @Test
  void unreadableCorruptAndForeignFilesExitFourWithAClearMessage() throws Exception {
    byte[] good = Files.readAllBytes(clean);
    List<Path> bad = new ArrayList<>();
    bad.add(dir.resolve("missing.db"));
    bad.add(Files.write(dir.resolve("empty.db"), new byte[0]));
    byte[] noise = new byte[64 * 1024];
    new Random(1).nextBytes(noise);
    bad.add(Files.write(dir.resolve("noise.db"), noise));
    bad.add(Files.write(dir.resolve("config.yaml"), config("secrets", IDENTITY).getBytes()));
    bad.add(
        Files.write(dir.resolve("truncated.db"), java.util.Arrays.copyOf(good, good.length / 2)));
    byte[] flipped = good.clone();
    flipped[good.length / 2] ^= 0x5a;
    bad.add(Files.write(dir.resolve("flipped.db"), flipped));
    // Without etcd's checksum (a member's db), damaged page headers must be found by the reader.
    byte[] db = java.util.Arrays.copyOf(good, good.length - 32);
    for (int page = 2; page * 4096 < db.length; page++) {
      db[page * 4096] ^= 0x5a; // the low byte of each page's stored id
    }
    bad.add(Files.write(dir.resolve("damaged-db"), db));

    for (Path p : bad) {
      CliRun r = verify(p, config("secrets", AESGCM_KEY1));
      assertEquals(4, r.exitCode(), p + ": " + r);
      assertTrue(r.err().startsWith("verify-backup: "), r::toString);
      assertTrue(r.out().isEmpty(), "no counts from a bad file: " + r);
      assertNoTrace(r);
    }
    CliRun flippedRun = verify(dir.resolve("flipped.db"), config("secrets", AESGCM_KEY1));
    assertTrue(flippedRun.err().contains("SHA-256"), flippedRun::toString);
    CliRun missing = verify(dir.resolve("missing.db"), config("secrets", AESGCM_KEY1));
    assertTrue(missing.err().contains("no such file"), missing::toString);
  }

  @Test
  void aLiveSnapshotIsStreamedVerifiedAndSavedAsEtcdctlSavesIt() throws Exception {
    raw.put("/registry/secrets/a/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789");
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1, IDENTITY));
    Path saved = dir.resolve("live.db");
    CliRun live =
        CliRun.of(
            "verify-backup",
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            config.toString(),
            "--save",
            saved.toString(),
            "--output",
            "json");
    CliRun fromFile = verify(saved, config("secrets", AESGCM_KEY1, IDENTITY), "--output", "json");

    assertEquals(1, live.exitCode(), "the lost value: " + live);
    JsonObject liveDoc = JsonParser.parseString(live.out()).getAsJsonObject();
    JsonObject fileDoc = JsonParser.parseString(fromFile.out()).getAsJsonObject();
    assertEquals("verified", liveDoc.getAsJsonObject("snapshot").get("checksum").getAsString());
    assertEquals(fileDoc.get("latest"), liveDoc.get("latest"));
    new io.etcdcrypt.testing.Etcdctl(etcd.endpoint())
        .run("snapshot", "status", saved.toString())
        .assertOk();
    assertFalse(Files.exists(dir.resolve("live.db.part")));

    CliRun twoMembers =
        CliRun.of(
            "verify-backup",
            "--endpoints",
            etcd.endpoint() + "," + etcd.endpoint(),
            "--encryption-provider-config",
            config.toString());
    assertEquals(2, twoMembers.exitCode(), twoMembers::toString);
    assertTrue(twoMembers.err().contains("exactly one endpoint"), twoMembers::toString);

    CliRun both =
        CliRun.of(
            "verify-backup",
            saved.toString(),
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            config.toString());
    assertEquals(2, both.exitCode(), both::toString);
  }

  @Test
  void saveDirKeepsTheNewestSnapshotsOnceOneVerifies() throws Exception {
    Path backups = Files.createDirectory(dir.resolve("backups"));
    java.time.Instant now = java.time.Instant.now();
    Path oldest = io.etcdcrypt.ops.backup.SnapshotRotation.fileFor(backups, now.minusSeconds(7200));
    Path older = io.etcdcrypt.ops.backup.SnapshotRotation.fileFor(backups, now.minusSeconds(3600));
    Files.copy(clean, oldest);
    Files.copy(clean, older);
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1));
    List<String> args =
        List.of(
            "verify-backup",
            "--endpoints",
            etcd.endpoint(),
            "--encryption-provider-config",
            config.toString(),
            "--save-dir",
            backups.toString(),
            "--keep",
            "2");

    raw.put("/registry/secrets/a/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789");
    CliRun failing = CliRun.of(args);
    assertEquals(1, failing.exitCode(), failing::toString);
    assertTrue(Files.exists(oldest), "a snapshot that fails deletes none");

    raw.clear();
    CliRun ok = CliRun.of(args);
    assertEquals(0, ok.exitCode(), ok::toString);
    try (java.util.stream.Stream<Path> left = Files.list(backups)) {
      List<Path> kept = left.sorted().toList();
      assertEquals(2, kept.size(), kept.toString());
      assertFalse(kept.contains(oldest), kept.toString());
      assertTrue(kept.stream().allMatch(p -> p.compareTo(older) >= 0), "the newest: " + kept);
    }
    assertTrue(ok.err().contains("deleted " + oldest), ok::toString);
  }

  @Test
  void usageErrorsExitTwo() throws Exception {
    CliRun noFile = CliRun.of("verify-backup", "--encryption-provider-config", "x.yaml");
    assertEquals(2, noFile.exitCode(), noFile::toString);
    CliRun badConfig = verify(clean, "not: a configuration");
    assertEquals(2, badConfig.exitCode(), badConfig::toString);
    assertNoTrace(badConfig);
    CliRun badResource =
        verify(clean, config("secrets", AESGCM_KEY1), "--resources", "nosuch.example.com/x");
    assertEquals(2, badResource.exitCode(), badResource::toString);
  }
}
