package io.etcdcrypt.ops;

import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.AESGCM_KEY2_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY1;
import static io.etcdcrypt.ops.OpsFixtures.PREFIX_KEY2;
import static io.etcdcrypt.ops.OpsFixtures.bs;
import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.get;
import static io.etcdcrypt.ops.OpsFixtures.key;
import static io.etcdcrypt.ops.OpsFixtures.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.KmsEndpoint;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.kms.KmsProvider;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.KmsPluginFixture;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.Sync;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@RealComponents
class ConfigReloaderTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final OpsFixtures.RawEtcd raw = new OpsFixtures.RawEtcd(etcd);

  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String V1 = config("secrets", AESGCM_KEY1);
  private static final String V2 = config("secrets", AESGCM_KEY2_KEY1);
  private static final ConfigReloader.Options FAST =
      ConfigReloader.Options.defaults()
          .withPollInterval(Duration.ofMillis(100))
          .withMinHealthWait(Duration.ofSeconds(1));

  @TempDir Path dir;

  /** The proxy's start-up: load the file, build the codec, wrap it for swapping. */
  private static SwappableCodec load(Path file, KmsProviders kms) throws Exception {
    return new SwappableCodec(
        EncryptionCodec.create(
            EncryptionConfigLoader.load(file), ResourceResolver.withDefaultPrefix(), kms));
  }

  private static String writePrefix(SwappableCodec codec) {
    return codec.current().writePrefixFor(key("/registry/secrets/ns/x"));
  }

  @Test
  void aChangedFileIsSwappedInUnderLoadWithoutAFailedRequest() throws Exception {
    Path file = write(dir.resolve("enc.yaml"), V1);
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    EncryptionCodec initial = codec.current();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong requests = new AtomicLong();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    int threads = 4;
    int keysPerThread = 20;

    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client client = proxy.client();
        ConfigReloader reloader =
            ConfigReloader.start(file, ResourceResolver.withDefaultPrefix(), codec, kms, FAST)) {
      List<Thread> load = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        Thread th =
            new Thread(
                () -> {
                  for (long n = 0; running.get(); n++) {
                    String k = "/registry/secrets/t" + thread + "/k" + (n % keysPerThread);
                    String v = "t" + thread + "-" + n;
                    try {
                      client.getKVClient().put(bs(k), bs(v)).get(10, TimeUnit.SECONDS);
                      String read = get(client, k);
                      if (!v.equals(read)) {
                        failures.add(k + " read back as " + read + " instead of " + v);
                      }
                      requests.addAndGet(2);
                    } catch (Exception e) {
                      failures.add(k + ": " + e);
                    }
                  }
                });
        th.start();
        load.add(th);
      }
      Await.until("load under the first configuration", WAIT, () -> requests.get() > 400);
      write(file, V2);
      Await.until("the reload", WAIT, () -> reloader.reloadSuccesses() == 1);
      long atSwap = requests.get();
      Await.until("load under the second configuration", WAIT, () -> requests.get() > atSwap + 400);
      running.set(false);
      for (Thread th : load) {
        th.join(30_000);
        assertFalse(th.isAlive(), "a load thread still ran 30 s after it was told to stop");
      }

      assertEquals(List.of(), List.copyOf(failures), "requests failed across the swap");
      assertNotSame(initial, codec.current());
      assertEquals(PREFIX_KEY2, writePrefix(codec));
      assertEquals(0, reloader.reloadFailures());
      assertEquals(EncryptionConfigLoader.parse(V2, "x").sha256(), reloader.currentConfigHash());
      // Values written before the swap (key1) and after it (key2) all read back through the proxy.
      client
          .getKVClient()
          .put(bs("/registry/secrets/after/swap"), bs("new"))
          .get(10, TimeUnit.SECONDS);
      assertTrue(raw.stored("/registry/secrets/after/swap").startsWith(PREFIX_KEY2));
      assertEquals("new", get(client, "/registry/secrets/after/swap"));
    }
    System.out.println("requests served across the reload: " + requests.get());
  }

  @Test
  void aKubernetesSecretVolumeUpdateIsSeenByTheWatch() throws Exception {
    // kubelet's atomic writer: enc.yaml -> ..data/enc.yaml, ..data -> ..<timestamp>/, swapped by
    // renaming a symlink.
    Path v1 = Files.createDirectory(dir.resolve("..2025_01_01_00_00_00.1"));
    write(v1.resolve("enc.yaml"), V1);
    Files.createSymbolicLink(dir.resolve("..data"), v1.getFileName());
    Path file = Files.createSymbolicLink(dir.resolve("enc.yaml"), Path.of("..data/enc.yaml"));
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    ConfigReloader.Options watchOnly = FAST.withPollInterval(Duration.ofHours(1));

    try (ConfigReloader reloader =
        ConfigReloader.start(file, ResourceResolver.withDefaultPrefix(), codec, kms, watchOnly)) {
      Path v2 = Files.createDirectory(dir.resolve("..2025_01_02_00_00_00.2"));
      write(v2.resolve("enc.yaml"), V2);
      Path tmp = Files.createSymbolicLink(dir.resolve("..data_tmp"), v2.getFileName());
      Files.move(
          tmp,
          dir.resolve("..data"),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);

      Await.until(
          "the watch to notice the new ..data", WAIT, () -> reloader.reloadSuccesses() == 1);
      assertEquals(PREFIX_KEY2, writePrefix(codec));
    }
  }

  @Test
  void pollingNoticesAChangeTheWatchDoesNotSee() throws Exception {
    Path file = write(dir.resolve("enc.yaml"), V1);
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    try (ConfigReloader reloader =
        ConfigReloader.start(
            file, ResourceResolver.withDefaultPrefix(), codec, kms, FAST.withWatchFiles(false))) {
      write(file, V2);
      Await.until("the poll to notice the change", WAIT, () -> reloader.reloadSuccesses() == 1);
      assertEquals(PREFIX_KEY2, writePrefix(codec));
      assertFalse(reloader.reloadIfChanged(), "an unchanged file is not applied again");
      assertEquals(1, reloader.reloadSuccesses());
    }
  }

  @Test
  void aBadFileKeepsTheOldConfigurationAndSaysWhyWithoutKeyMaterial() throws Exception {
    Path file = write(dir.resolve("enc.yaml"), V1);
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    EncryptionCodec initial = codec.current();
    String bad =
        config(
            "secrets", "aesgcm: {keys: [{name: key1, secret: '" + KEY1.substring(0, 20) + "'}]}");

    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client client = proxy.client();
        ConfigReloader reloader =
            ConfigReloader.start(file, ResourceResolver.withDefaultPrefix(), codec, kms, FAST)) {
      write(file, bad);
      Await.until("the failed reload", WAIT, () -> reloader.reloadFailures() == 1);
      assertSame(initial, codec.current());
      assertTrue(reloader.lastError().startsWith("it is not valid: "), reloader.lastError());
      assertFalse(
          reloader.lastError().contains(KEY1.substring(0, 20)), "no key material in the message");
      assertFalse(reloader.lastError().contains("\n"), "one line");
      assertFalse(reloader.reloadIfChanged());
      assertEquals(
          1, reloader.reloadFailures(), "the same bad file is not tried again until it changes");

      client
          .getKVClient()
          .put(bs("/registry/secrets/ns/still"), bs("works"))
          .get(10, TimeUnit.SECONDS);
      assertTrue(
          raw.stored("/registry/secrets/ns/still").startsWith(PREFIX_KEY1),
          "the old configuration serves");
      assertEquals("works", get(client, "/registry/secrets/ns/still"));

      write(file, V2);
      Await.until("the good file to be applied", WAIT, () -> reloader.reloadSuccesses() == 1);
      assertEquals(PREFIX_KEY2, writePrefix(codec));
    }
  }

  @Test
  void newKmsProvidersMustBeHealthyBeforeTheSwapAndOldOnesCloseAfterTheGracePeriod()
      throws Exception {
    KmsEndpoint socket =
        KmsEndpoint.of("unix://" + dir.toAbsolutePath().resolve("kms/plugin.sock"));
    Files.createDirectories(dir.resolve("kms"));
    String kmsConfig =
        config(
            "secrets",
            "kms: {apiVersion: v2, name: kms1, endpoint: '" + socket.url() + "', timeout: 200ms}",
            AESGCM_KEY1);
    Path file = write(dir.resolve("enc.yaml"), V1);
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    EncryptionCodec initial = codec.current();

    try (ProxyFixture proxy = ProxyFixture.start(codec, etcd.endpoint());
        Client client = proxy.client();
        ConfigReloader reloader =
            ConfigReloader.start(
                file,
                ResourceResolver.withDefaultPrefix(),
                codec,
                kms,
                FAST.withCloseGrace(Duration.ofMillis(200)))) {
      write(file, kmsConfig); // no plugin listens yet
      Await.until("a failed attempt", WAIT, () -> reloader.reloadFailures() >= 1);
      assertSame(initial, codec.current(), "not swapped while the KMS provider is unhealthy");
      assertTrue(reloader.lastError().contains("kms-provider kms1"), reloader.lastError());

      try (KmsPluginFixture plugin = KmsPluginFixture.start(dir.resolve("kms"), socket)) {
        Await.until("the retried reload", WAIT, () -> reloader.reloadSuccesses() == 1);
        client
            .getKVClient()
            .put(bs("/registry/secrets/ns/kms"), bs("sealed"))
            .get(10, TimeUnit.SECONDS);
        assertTrue(raw.stored("/registry/secrets/ns/kms").startsWith("k8s:enc:kms:v2:kms1:"));
        assertEquals("sealed", get(client, "/registry/secrets/ns/kms"));
        List<KmsProvider> kmsProviders = reloader.currentKms().providers();
        assertEquals(1, kmsProviders.size());

        write(file, V2);
        Await.until("the swap back to aesgcm", WAIT, () -> reloader.reloadSuccesses() == 2);
        assertEquals(PREFIX_KEY2, writePrefix(codec));
        Await.until(
            "the replaced KMS provider to close", WAIT, () -> isClosed(kmsProviders.get(0)));
      }
    }
  }

  private static boolean isClosed(KmsProvider p) {
    try {
      Sync.encrypt(
          p,
          "x".getBytes(StandardCharsets.UTF_8),
          "/registry/secrets/a/b".getBytes(StandardCharsets.UTF_8));
      return false;
    } catch (TransformException e) {
      return e.getMessage().contains("closed");
    }
  }

  @Test
  void closingTheReloaderClosesTheProvidersInEffect() throws Exception {
    Path file = write(dir.resolve("enc.yaml"), V1);
    KmsProviders kms = new KmsProviders();
    SwappableCodec codec = load(file, kms);
    ConfigReloader reloader =
        ConfigReloader.start(file, ResourceResolver.withDefaultPrefix(), codec, kms, FAST);
    reloader.close();
    assertThrows(
        TransformException.class,
        () ->
            kms.create(
                new io.etcdcrypt.config.ProviderConfig.Kms(
                    io.etcdcrypt.config.KmsApiVersion.V2,
                    "late",
                    "unix:///tmp/none.sock",
                    0,
                    Duration.ofSeconds(1))),
        "the initial KMS factory is closed");
  }
}
