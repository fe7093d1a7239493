package io.etcdcrypt.cli;

import static io.etcdcrypt.ops.OpsFixtures.AESCBC_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.IDENTITY;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.bs;
import static io.etcdcrypt.ops.OpsFixtures.codec;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.counts;
import static io.etcdcrypt.ops.OpsFixtures.get;
import static io.etcdcrypt.ops.OpsFixtures.kmsV2;
import static io.etcdcrypt.ops.OpsFixtures.putAll;
import static io.etcdcrypt.ops.OpsFixtures.secretKey;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.JavaProcess;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rewrap} end to end: data written through a proxy with the old configuration, rewrapped
 * with the new.
 */
@RealComponents
class RewrapCommandTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final String OLD = config("secrets", AESGCM_KEY1);
  private static final String NEW = config("secrets", AESGCM_KEY2_KEY1);

  @TempDir Path dir;

  private List<String> base(String command, Path config) {
    List<String> args =
        new ArrayList<>(
            List.of(
                command,
                "--endpoints",
                etcd.endpoint(),
                "--encryption-provider-config",
                config.toString()));
    if (command.equals("rewrap")) {
      args.addAll(List.of("--state-file", dir.resolve("rewrap-state.json").toString()));
    }
    return args;
  }

  private CliRun rewrap(Path config, String... more) {
    return CliRun.of(CliRun.args(base("rewrap", config), more));
  }

  private Map<String, Map<String, Long>> census(Path config) {
    CliRun r = CliRun.of(CliRun.args(base("census", config), "--output", "json"));
    assertEquals(0, r.exitCode(), r::toString);
    return OpsFixtures.censusJson(r.out());
  }

  private static void populate(EncryptionCodec codec, int n, IntFunction<String> values)
      throws Exception {
    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client client = proxy.client()) {
      putAll(client, n, OpsFixtures::secretKey, values);
    }
  }

  /**
   * Clients updating secrets through a proxy while a rewrap runs; remembers each key's last written
   * value.
   */
  private static final class Writers implements AutoCloseable {
    final Map<String, String> last = new ConcurrentHashMap<>();
    final AtomicLong writes = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> threads = new ArrayList<>();
    private final List<Throwable> errors = new ArrayList<>();

    Writers(Client client, int count, int keys) {
      for (int t = 0; t < count; t++) {
        int id = t;
        Thread th =
            new Thread(
                () -> {
                  Random random = new Random(id);
                  for (long n = 0; running.get(); n++) {
                    int i =
                        random.nextInt(keys / count) * count
                            + id; // each key has one writer: "last" is well defined
                    String key = secretKey(i);
                    String value = "writer" + id + "-" + n;
                    try {
                      client.getKVClient().put(bs(key), bs(value)).get(10, TimeUnit.SECONDS);
                      last.put(key, value);
                      writes.incrementAndGet();
                    } catch (Exception e) {
                      synchronized (errors) {
                        errors.add(e);
                      }
                      return;
                    }
                  }
                },
                "writer-" + t);
        th.start();
        threads.add(th);
      }
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) {
        t.join(30_000);
        assertFalse(t.isAlive(), t.getName() + " still ran 30 s after it was told to stop");
      }
      assertEquals(List.of(), errors, "writers failed");
    }
  }

  private static void assertEveryValueIsTheLastWritten(
      Client client, int n, IntFunction<String> original, Map<String, String> last)
      throws Exception {
    Map<String, String> stored = OpsFixtures.getAll(client, "/registry/secrets/");
    assertEquals(n, stored.size());
    for (int i = 0; i < n; i++) {
      String key = secretKey(i);
      assertEquals(last.getOrDefault(key, original.apply(i)), stored.get(key), key);
    }
  }

  @Test
  void rotationFromKey1ToKey2WithConcurrentWritersLosesNoUpdate() throws Exception {
    int n = 3000;
    IntFunction<String> original = i -> "original-" + i;
    populate(codec(OLD), n, original);
    Path newConfig = write(dir.resolve("new.yaml"), NEW);
    assertEquals(counts("secrets", PREFIX_KEY1, n), census(newConfig));

    CliRun run;
    Writers writers;
    try (ProxyFixture proxy = ProxyFixture.start(codec(NEW), etcd.endpoint());
        Client client = proxy.client()) {
      try (Writers w = new Writers(client, 3, n)) {
        writers = w;
        Await.until("writers to get going", Duration.ofSeconds(20), () -> w.writes.get() > 50);
        run = rewrap(newConfig);
      }
      assertEquals(0, run.exitCode(), run::toString);
      assertEveryValueIsTheLastWritten(client, n, original, writers.last);
    }
    assertEquals(n, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    assertEquals(counts("secrets", PREFIX_KEY2, n), census(newConfig));
    assertTrue(run.out().contains("verified by a census at revision"), run.out());
    assertFalse(
        Files.exists(dir.resolve("rewrap-state.json")), "a completed run removes its state");
    System.out.println(
        "rotation with "
            + writers.writes.get()
            + " concurrent writes: "
            + run.out().lines().findFirst().orElse(""));
  }

  @Test
  void providerChangeFromAescbcToKmsV2ThenAKekRotation() throws Exception {
    int n = 200;
    // aescbc does not authenticate: rewrap moves its values only when told to, and only objects.
    IntFunction<String> objects = i -> "{\"cbc\":" + i + "}";
    populate(codec(config("secrets", AESCBC_KEY1)), n, objects);
    try (KmsPluginFixture plugin = KmsPluginFixture.start(dir)) {
      String kms = kmsV2("kms1", plugin.endpoint().url());
      Path newConfig = write(dir.resolve("kms.yaml"), config("secrets", kms, AESCBC_KEY1));
      assertEquals(counts("secrets", "k8s:enc:aescbc:v1:cbc1:", n), census(newConfig));

      CliRun run = rewrap(newConfig, "--rewrite-unauthenticated");
      assertEquals(0, run.exitCode(), run::toString);
      assertEquals(counts("secrets", "k8s:enc:kms:v2:kms1: key_id=kek-1", n), census(newConfig));

      plugin.addKek("kek-2");
      Await.until(
          "the plugin uses kek-2",
          Duration.ofSeconds(10),
          () -> plugin.currentKekId().equals("kek-2"));
      assertEquals(counts("secrets", "k8s:enc:kms:v2:kms1: key_id=kek-1", n), census(newConfig));
      run = rewrap(newConfig);
      assertEquals(0, run.exitCode(), run::toString);
      assertEquals(counts("secrets", "k8s:enc:kms:v2:kms1: key_id=kek-2", n), census(newConfig));

      try (KmsProviders factory = new KmsProviders();
          ProxyFixture proxy =
              ProxyFixture.start(codec(config("secrets", kms), factory), etcd.endpoint());
          Client client = proxy.client()) {
        for (int i = 0; i < n; i += 17) {
          assertEquals(objects.apply(i), get(client, secretKey(i)));
        }
      }
    }
  }

  @Test
  void plaintextIsMigratedToEncryptedAndResourcesWithoutARuleAreLeftAlone() throws Exception {
    for (int i = 0; i < 50; i++) {
      raw.put(secretKey(i), "plain-" + i);
    }
    raw.put("/registry/configmaps/ns/cm", "not covered");
    Path config = write(dir.resolve("enc.yaml"), config("secrets", AESGCM_KEY1, IDENTITY));
    assertEquals(counts("configmaps", "identity", 1, "secrets", "identity", 50), census(config));

    CliRun run = rewrap(config);

    assertEquals(0, run.exitCode(), run::toString);
    assertEquals(counts("configmaps", "identity", 1, "secrets", PREFIX_KEY1, 50), census(config));
    assertEquals("not covered", raw.stored("/registry/configmaps/ns/cm"));
    try (ProxyFixture proxy =
            ProxyFixture.start(codec(config("secrets", AESGCM_KEY1)), etcd.endpoint());
        Client client = proxy.client()) {
      assertEquals("plain-42", get(client, secretKey(42)));
    }
  }

  @Test
  void dryRunWritesNothing() throws Exception {
    populate(codec(OLD), 30, i -> "v" + i);
    Path config = write(dir.resolve("new.yaml"), NEW);
    long revision = raw.revision();

    CliRun run = rewrap(config, "--dry-run");

    assertEquals(1, run.exitCode(), run::toString);
    assertTrue(
        run.out().contains("dry run: 30 values would be rewritten, nothing was written"),
        run.out());
    assertEquals(revision, raw.revision(), "nothing was written");
    assertFalse(Files.exists(dir.resolve("rewrap-state.json")));

    assertEquals(0, rewrap(config).exitCode());
    CliRun clean = rewrap(config, "--dry-run");
    assertEquals(0, clean.exitCode(), clean::toString);
    assertTrue(clean.out().contains("dry run: nothing to rewrite"), clean.out());
  }

  @Test
  void aLimitedRunExitsThreeAndTheNextRunContinues() throws Exception {
    populate(codec(OLD), 40, i -> "v" + i);
    Path config = write(dir.resolve("new.yaml"), NEW);

    CliRun first = rewrap(config, "--limit", "15", "--page-size", "4");
    assertEquals(3, first.exitCode(), first::toString);
    assertTrue(first.out().contains("15 rewritten"), first.out());
    assertTrue(Files.readString(dir.resolve("rewrap-state.json")).contains("\"after\""));

    CliRun second = rewrap(config, "--page-size", "4");
    assertEquals(0, second.exitCode(), second::toString);
    assertTrue(second.out().startsWith("rewrap: 25 keys read"), second.out());
    assertTrue(second.out().contains("25 rewritten"), second.out());
    assertEquals(40, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
  }

  @Test
  void aRewrapKilledBySigtermResumesWithoutRewritingAnythingTwice() throws Exception {
    int n = 1500;
    populate(codec(OLD), n, i -> "v" + i);
    Path config = write(dir.resolve("new.yaml"), NEW);
    Path state = dir.resolve("rewrap-state.json");
    List<String> args =
        CliRun.args(base("rewrap", config), "--rate", "300", "--progress-interval", "1");

    try (JavaProcess child =
        JavaProcess.start(dir.resolve("child.log"), Map.of(), args.toArray(String[]::new))) {
      Await.until(
          "saved progress and a progress line",
          Duration.ofSeconds(30),
          () ->
              readQuietly(state).contains("\"after\"")
                  && child.output().contains("rewrap progress:"));
      child.close(); // SIGTERM: the shutdown hook stops the run and saves its progress
      assertFalse(child.isAlive());
    }
    Map<String, KeyValue> afterKill = raw.all("/registry/secrets/");
    List<String> doneBefore = new ArrayList<>();
    afterKill.forEach(
        (k, kv) -> {
          if (kv.getValue().toStringUtf8().startsWith(PREFIX_KEY2)) {
            doneBefore.add(k);
          }
        });
    assertTrue(
        !doneBefore.isEmpty() && doneBefore.size() < n, "killed mid-way: " + doneBefore.size());

    CliRun rerun = rewrap(config);
    assertEquals(0, rerun.exitCode(), rerun::toString);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("^rewrap: (\\d+) keys read .*: (\\d+) rewritten")
            .matcher(rerun.out());
    assertTrue(m.find(), rerun.out());
    assertTrue(
        Integer.parseInt(m.group(1)) < n,
        "the rerun skips what the killed run saved: " + rerun.out());
    assertEquals(n - doneBefore.size(), Integer.parseInt(m.group(2)), rerun.out());
    assertEquals(n, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    for (String k : doneBefore) {
      assertEquals(
          afterKill.get(k).getModRevision(), raw.kv(k).getModRevision(), k + " rewritten twice");
    }
  }

  private static String readQuietly(Path p) {
    try {
      return Files.exists(p) ? Files.readString(p) : "";
    } catch (java.io.IOException e) {
      return "";
    }
  }

  @Test
  void undecryptableValuesAreListedLeftAloneAndMakeItExitOne() throws Exception {
    populate(codec(OLD), 5, i -> "v" + i);
    raw.put("/registry/secrets/ns/lost", "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789abcdef");
    Path config = write(dir.resolve("new.yaml"), NEW);

    CliRun run = rewrap(config);

    assertEquals(1, run.exitCode(), run::toString);
    assertTrue(
        run.err()
            .contains(
                "/registry/secrets/ns/lost: no matching key was found for the provided AES transformer"),
        run.err());
    assertTrue(run.out().contains("1 undecryptable"), run.out());
    assertEquals(
        "k8s:enc:aesgcm:v1:gone:0123456789abcdef0123456789abcdef",
        raw.stored("/registry/secrets/ns/lost"));
    for (int i = 0; i < 5; i++) {
      assertTrue(
          raw.stored(secretKey(i)).startsWith(PREFIX_KEY2), "the readable values are rewrapped");
    }
  }

  @Test
  void setupProblemsExitTwoWithAMessage() throws Exception {
    Path good = write(dir.resolve("new.yaml"), NEW);
    raw.put("/registry/secrets/ns/s", "plain");
    CliRun unknownResource = rewrap(good, "--resources", "foos.apps");
    assertEquals(2, unknownResource.exitCode(), unknownResource::toString);
    assertTrue(
        unknownResource
            .err()
            .contains("\"foos.apps\" is neither named in the configuration nor a built-in kube"),
        unknownResource.err());

    Path bad = write(dir.resolve("bad.yaml"), config("secrets", "aesgcm: {keys: []}"));
    CliRun invalid = rewrap(bad);
    assertEquals(2, invalid.exitCode(), invalid::toString);
    assertTrue(
        invalid.err().startsWith("rewrap: invalid --encryption-provider-config"), invalid.err());

    CliRun negative = rewrap(good, "--rate", "-1");
    assertEquals(2, negative.exitCode(), negative::toString);

    CliRun noKms =
        rewrap(
            write(
                dir.resolve("kms.yaml"),
                config(
                    "secrets",
                    kmsV2("absent", "unix://" + dir.toAbsolutePath().resolve("none.sock")))),
            "--kms-wait",
            "1");
    assertEquals(2, noKms.exitCode(), noKms::toString);
    assertTrue(noKms.err().contains("kms-provider absent"), noKms.err());
  }

  @Test
  void tenThousandSecretsWithAConcurrentWriter() throws Exception {
    int n = 10_000;
    IntFunction<String> original = i -> "s".repeat(200) + i;
    populate(codec(OLD), n, original);
    Path newConfig = write(dir.resolve("new.yaml"), NEW);

    long started;
    long elapsed;
    CliRun run;
    Writers writers;
    try (ProxyFixture proxy = ProxyFixture.start(codec(NEW), etcd.endpoint());
        Client client = proxy.client()) {
      try (Writers w = new Writers(client, 1, n)) {
        writers = w;
        Await.until("the writer to get going", Duration.ofSeconds(20), () -> w.writes.get() > 20);
        started = System.nanoTime();
        run = rewrap(newConfig);
        elapsed = System.nanoTime() - started;
      }
      assertEquals(0, run.exitCode(), run::toString);
      assertEveryValueIsTheLastWritten(client, n, original, writers.last);
    }
    assertEquals(n, raw.assertAllStoredWith("/registry/secrets/", PREFIX_KEY2));
    System.out.printf(
        "REWRAP 10000 secrets with a concurrent writer (%d writes meanwhile): %.1f s (rewrap command,"
            + " including the verifying census); %s%n",
        writers.writes.get(), elapsed / 1e9, run.out().lines().findFirst().orElse(""));
  }
}
