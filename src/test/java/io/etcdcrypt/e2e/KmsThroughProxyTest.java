package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.bs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.EventLoopBlockingDetector;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.MutableClock;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * KMS envelope encryption through a running proxy, against a plugin shaped like Kubernetes' own
 * mock (base64 "encryption", key id "1"), counting the calls the plugin receives.
 */
@RealComponents
class KmsThroughProxyTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static String config(MockKmsPlugin plugin, String apiVersion) {
    return config(plugin, apiVersion, "2s");
  }

  private static String config(MockKmsPlugin plugin, String apiVersion, String timeout) {
    return String.join(
        "\n",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers: [{kms: {apiVersion: "
            + apiVersion
            + ", name: mock, endpoint: '"
            + plugin.endpoint().url()
            + "', timeout: "
            + timeout
            + "}}]",
        "  - resources: [configmaps]",
        "    providers: [{aesgcm: {keys: [{name: k1, secret: " + TestCodecs.randomKey(32) + "}]}}]",
        "");
  }

  private static void putAll(Client c, String prefix, int n) throws Exception {
    List<CompletableFuture<?>> inFlight = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      inFlight.add(c.getKVClient().put(bs(prefix + i), bs("value-" + i)));
      if (inFlight.size() == 64) {
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
            .get(30, TimeUnit.SECONDS);
        inFlight.clear();
      }
    }
    CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
  }

  private static void assertAllReadBack(Client c, String prefix, int n) throws Exception {
    var kvs =
        c.getKVClient()
            .get(bs(prefix), GetOption.builder().isPrefix(true).build())
            .get(30, TimeUnit.SECONDS)
            .getKvs();
    assertEquals(n, kvs.size());
    for (var kv : kvs) {
      String key = kv.getKey().toString(StandardCharsets.UTF_8);
      assertEquals(
          "value-" + key.substring(prefix.length()),
          kv.getValue().toString(StandardCharsets.UTF_8));
    }
  }

  @Test
  void kmsV2ThousandWritesOneEncryptAndOneDecryptPerDekAcrossARestart(@TempDir Path dir)
      throws Exception {
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"))) {
      String yaml = config(plugin, "v2");
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        putAll(c, "/registry/secrets/v2/", 1000);
        assertAllReadBack(c, "/registry/secrets/v2/", 1000);
      }
      assertEquals(1, plugin.encryptCalls.get(), "one seed per key id, generated at start-up");
      assertEquals(0, plugin.decryptCalls.get(), "the writer's own seed is cached");

      // A new proxy process (cold caches) reads everything back with one Decrypt for the one seed.
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        assertAllReadBack(c, "/registry/secrets/v2/", 1000);
        assertAllReadBack(c, "/registry/secrets/v2/", 1000);
      }
      assertEquals(1, plugin.decryptCalls.get());
    }
  }

  /**
   * A plugin that answers after 2 s holds up only what needs it: a cold proxy's list of secrets (a
   * Decrypt of the seed) and a KMS v1 write (an Encrypt), while the other calls of its one
   * event-loop thread are served; and no event-loop thread ever blocks (BlockHound watches them for
   * the whole suite; its record is checked here too).
   */
  @Test
  void aPluginThatAnswersAfterTwoSecondsHoldsUpNoEventLoop(@TempDir Path dir) throws Exception {
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"))) {
      String yaml =
          config(plugin, "v2", "10s")
              + String.join(
                  "\n",
                  "  - resources: [leases.coordination.k8s.io]",
                  "    providers: [{kms: {apiVersion: v1, name: mock-v1, endpoint: '"
                      + plugin.endpoint().url()
                      + "', timeout: 10s}}]",
                  "");
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        putAll(c, "/registry/secrets/slow/", 20);
      }
      // A fresh proxy (one event-loop thread, the default) has not seen that seed: listing the
      // secrets needs the
      // plugin's Decrypt, which now takes 2 s, as does every KMS v1 write's Encrypt.
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        plugin.delay = Duration.ofSeconds(2);
        int decrypts = plugin.decryptCalls.get();
        CompletableFuture<GetResponse> list =
            c.getKVClient()
                .get(bs("/registry/secrets/slow/"), GetOption.builder().isPrefix(true).build());
        CompletableFuture<?> v1Write =
            c.getKVClient()
                .put(bs("/registry/leases/kube-system/l"), bs("lease"))
                .thenApply(r -> r);
        Await.until(
            "the plugin to receive Decrypt",
            Duration.ofSeconds(10),
            () -> plugin.decryptCalls.get() > decrypts);

        // Meanwhile the event loop serves everything else, one call after the other.
        for (int i = 0; i < 20; i++) {
          c.getKVClient()
              .put(bs("/registry/configmaps/slow/cm" + i), bs("cm" + i))
              .get(10, TimeUnit.SECONDS);
          assertEquals("cm" + i, read(c, "/registry/configmaps/slow/cm" + i));
        }
        assertFalse(list.isDone(), "the list was still waiting on the plugin");
        assertFalse(v1Write.isDone(), "the KMS v1 write was still waiting on the plugin");

        assertEquals(20, list.get(10, TimeUnit.SECONDS).getKvs().size());
        assertAllReadBack(c, "/registry/secrets/slow/", 20);
        v1Write.get(10, TimeUnit.SECONDS);
        assertEquals("lease", read(c, "/registry/leases/kube-system/l"));
      } finally {
        plugin.delay = Duration.ZERO;
      }
      assertEquals(List.of(), EventLoopBlockingDetector.violations());
    }
  }

  @Test
  void aColdProxyReplaysWatchHistoryInOrderWhileItAsksThePluginForTheSeed(@TempDir Path dir)
      throws Exception {
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"))) {
      String yaml = config(plugin, "v2");
      long firstRevision = 0;
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        for (int i = 0; i < 5; i++) {
          long rev =
              c.getKVClient()
                  .put(bs("/registry/secrets/history/s" + i), bs("value-" + i))
                  .get(10, TimeUnit.SECONDS)
                  .getHeader()
                  .getRevision();
          firstRevision = i == 0 ? rev : firstRevision;
        }
      }
      // The history's first event needs the plugin's Decrypt of the seed: that response waits for
      // the plugin, and
      // everything after it must still arrive, in order, on the same stream.
      LinkedBlockingQueue<String> values = new LinkedBlockingQueue<>();
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client();
          Watch.Watcher w =
              c.getWatchClient()
                  .watch(
                      bs("/registry/secrets/history/"),
                      WatchOption.builder().isPrefix(true).withRevision(firstRevision).build(),
                      r ->
                          r.getEvents()
                              .forEach(
                                  e ->
                                      values.add(
                                          e.getKeyValue()
                                              .getValue()
                                              .toString(StandardCharsets.UTF_8))))) {
        for (int i = 0; i < 5; i++) {
          assertEquals("value-" + i, values.poll(10, TimeUnit.SECONDS));
        }
        c.getKVClient()
            .put(bs("/registry/secrets/history/s5"), bs("value-5"))
            .get(10, TimeUnit.SECONDS);
        assertEquals("value-5", values.poll(10, TimeUnit.SECONDS));
        assertEquals(1, plugin.decryptCalls.get(), "one Decrypt, for the first proxy's seed");
      }
    }
  }

  @Test
  void kmsV1EncryptsEveryWriteAndReadsBackAfterARestart(@TempDir Path dir) throws Exception {
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"))) {
      String yaml = config(plugin, "v1");
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        putAll(c, "/registry/secrets/v1/", 100);
      }
      assertEquals(100, plugin.v1EncryptCalls.get(), "KMS v1 makes a fresh DEK for every write");
      try (KmsProviders kms = new KmsProviders();
          ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = proxy.client()) {
        int before = plugin.v1DecryptCalls.get();
        assertAllReadBack(c, "/registry/secrets/v1/", 100);
        assertAllReadBack(c, "/registry/secrets/v1/", 100);
        assertEquals(
            100, plugin.v1DecryptCalls.get() - before, "one Decrypt per distinct DEK, then cached");
      }
    }
  }

  @Test
  void whenThePluginDiesCachedReadsAndOtherResourcesKeepWorkingAndWritesStopAfterTheWindow(
      @TempDir Path dir) throws Exception {
    MutableClock clock = MutableClock.startingNow();
    KmsProviderOptions options =
        KmsProviderOptions.defaults()
            .withClock(clock)
            .withStatusPollIntervals(Duration.ofMillis(200), Duration.ofMillis(200));
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
        KmsProviders kms = new KmsProviders(options);
        ProxyFixture proxy =
            ProxyFixture.start(TestCodecs.fromYaml(config(plugin, "v2"), kms), etcd.endpoint());
        Client c = proxy.client()) {
      c.getKVClient()
          .put(bs("/registry/secrets/down/before"), bs("written"))
          .get(10, TimeUnit.SECONDS);
      plugin.stop();

      // Within the 3-minute window: reads of the cached seed and new writes still work.
      assertEquals("written", read(c, "/registry/secrets/down/before"));
      c.getKVClient()
          .put(bs("/registry/secrets/down/in-window"), bs("ok"))
          .get(10, TimeUnit.SECONDS);
      assertEquals("ok", read(c, "/registry/secrets/down/in-window"));

      clock.advance(Duration.ofMinutes(4));
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () ->
                  c.getKVClient()
                      .put(bs("/registry/secrets/down/late"), bs("x"))
                      .get(10, TimeUnit.SECONDS));
      assertTrue(
          e.getCause().getMessage().contains("nothing was written"), e.getCause().getMessage());
      assertTrue(e.getCause().getMessage().contains("expired"), e.getCause().getMessage());
      assertEquals(
          0,
          c.getKVClient()
              .get(bs("/registry/secrets/down/late"))
              .get(10, TimeUnit.SECONDS)
              .getCount());
      // Reads of cached data and other resources are unaffected.
      assertEquals("written", read(c, "/registry/secrets/down/before"));
      c.getKVClient().put(bs("/registry/configmaps/down/cm"), bs("cm")).get(10, TimeUnit.SECONDS);
      assertEquals("cm", read(c, "/registry/configmaps/down/cm"));

      // The plugin comes back: the next good Status re-opens writes.
      plugin.restart();
      awaitWritable(c, "/registry/secrets/down/after");
    }
  }

  @Test
  void theProxyStartsWhileThePluginIsDownAndServesOnceItIsUp(@TempDir Path dir) throws Exception {
    KmsProviderOptions options =
        KmsProviderOptions.defaults()
            .withStatusPollIntervals(Duration.ofMillis(200), Duration.ofMillis(200));
    MockKmsPlugin plugin = MockKmsPlugin.notStarted(dir.resolve("kms.sock"));
    try (KmsProviders kms = new KmsProviders(options);
        ProxyFixture proxy =
            ProxyFixture.start(TestCodecs.fromYaml(config(plugin, "v2"), kms), etcd.endpoint());
        Client c = proxy.client()) {
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () ->
                  c.getKVClient()
                      .put(bs("/registry/secrets/late/x"), bs("x"))
                      .get(10, TimeUnit.SECONDS));
      assertTrue(
          e.getCause().getMessage().contains("nothing was written"), e.getCause().getMessage());
      c.getKVClient().put(bs("/registry/configmaps/late/cm"), bs("cm")).get(10, TimeUnit.SECONDS);

      plugin.restart();
      awaitWritable(c, "/registry/secrets/late/x");
    } finally {
      plugin.close();
    }
  }

  /**
   * Retries a write until the proxy takes it again; a refused write fails its future with
   * ExecutionException.
   */
  private static void awaitWritable(Client c, String key) {
    AtomicReference<Exception> last = new AtomicReference<>();
    boolean resumed =
        Await.within(
            Duration.ofSeconds(20),
            () -> {
              try {
                c.getKVClient().put(bs(key), bs("back")).get(10, TimeUnit.SECONDS);
                assertEquals("back", read(c, key));
                return true;
              } catch (ExecutionException e) {
                last.set(e);
                return false;
              } catch (Exception e) {
                throw new AssertionError("writing " + key + " once the plugin was back", e);
              }
            });
    if (!resumed) {
      throw new AssertionError("writes did not resume once the plugin was back", last.get());
    }
  }

  private static String read(Client c, String key) throws Exception {
    return c.getKVClient()
        .get(bs(key))
        .get(10, TimeUnit.SECONDS)
        .getKvs()
        .get(0)
        .getValue()
        .toString(StandardCharsets.UTF_8);
  }
}
