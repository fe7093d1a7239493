package io.etcdcrypt.faults;

import static io.etcdcrypt.ops.OpsFixtures.config;
import static io.etcdcrypt.ops.OpsFixtures.kmsV2;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.KmsPluginProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled KMS plugin, a process of its own, killed (SIGKILL) and restarted, hung (SIGSTOP) and
 * resumed, and flapping, while clients write and read secrets through the proxy (issue 19 item 12).
 * Checked from outside the proxy: no plaintext at rest (etcd's whole history, read straight from
 * etcd), no ciphertext in any answer, no lost update, every failure a short status, and calls
 * succeed again once the plugin is back ({@link Load}).
 *
 * <p>A KMS v2 provider writes with a seed it holds, without the plugin, for 3 minutes after the
 * plugin last answered: the plugin's faults reach what needs it, the reads of values written under
 * another seed (another proxy's, here), which must fail cleanly while it is gone and read again
 * once it is back. A KMS v1 provider asks the plugin to Encrypt every write: there the writes fail.
 */
@RealComponents
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KmsFaultsUnderLoadTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final int CLIENTS = 3;
  private static final int KEYS_PER_CLIENT = 5;
  private static final long SEED = 20261206L;
  private static final String COLD = AtRest.PROTECTED + "faults-cold/";

  @TempDir Path dir;

  /** An in-process proxy in front of {@link #etcd} whose secrets go through the plugin. */
  private record Proxy(KmsProviders kms, ProxyFixture proxy, ManagedChannel channel)
      implements AutoCloseable {

    static Proxy start(String config) {
      KmsProviders kms = new KmsProviders();
      ProxyFixture proxy = ProxyFixture.start(TestCodecs.fromYaml(config, kms), etcd.endpoint());
      return new Proxy(kms, proxy, Channels.plaintext(proxy.endpoint()));
    }

    KVGrpc.KVBlockingStub kv() {
      return KVGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
      channel.shutdownNow();
      proxy.close();
      kms.close();
    }
  }

  private static String v2(KmsPluginProcess plugin) {
    return config("secrets", kmsV2("bundled", plugin.endpointUrl()));
  }

  private static String v1(KmsPluginProcess plugin) {
    return config(
        "secrets",
        "kms: {apiVersion: v1, name: legacy, endpoint: '"
            + plugin.endpointUrl()
            + "', cachesize: 1000, timeout: 2s}");
  }

  private KmsPluginProcess plugin() throws Exception {
    return KmsPluginProcess.start(Files.createDirectory(dir.resolve("kms")));
  }

  @Test
  void v2PluginKilledAndRestarted() throws Exception {
    v2OutageAndRecovery("killed", KmsPluginProcess::kill, KmsPluginProcess::restart);
  }

  @Test
  void v2PluginHungAndResumed() throws Exception {
    v2OutageAndRecovery("hung", KmsPluginProcess::pause, KmsPluginProcess::resume);
  }

  private interface PluginAction {
    void apply(KmsPluginProcess plugin) throws Exception;
  }

  /**
   * A KMS v2 provider's plugin made unavailable by {@code outage} under load, and back by {@code
   * recovery}: the load's writes and reads need no plugin and go on; a read that needs it fails
   * cleanly, and reads once it is back.
   */
  private void v2OutageAndRecovery(String name, PluginAction outage, PluginAction recovery)
      throws Exception {
    try (KmsPluginProcess plugin = plugin();
        Proxy proxy = Proxy.start(v2(plugin))) {
      String cold = writeUnderAnotherSeed(v2(plugin), name);
      underLoad(
          proxy,
          "v2-" + name,
          load -> {
            outage.apply(plugin);
            load.awaitCalls("with the plugin " + name, 100);
            assertReadFailsCleanly(proxy, cold);
            recovery.apply(plugin);
            awaitRead(proxy, cold);
            load.awaitRecovery("after the plugin was " + name, 50);
          });
    }
  }

  @Test
  void v2PluginFlapping() throws Exception {
    try (KmsPluginProcess plugin = plugin();
        Proxy proxy = Proxy.start(v2(plugin))) {
      String cold = writeUnderAnotherSeed(v2(plugin), "flapping");
      underLoad(
          proxy,
          "v2-flapping",
          load -> {
            for (int i = 0; i < 4; i++) {
              plugin.kill();
              load.awaitCalls("with the plugin killed (" + i + ")", 20);
              plugin.restart();
              load.awaitCalls("with the plugin back (" + i + ")", 20);
            }
            awaitRead(proxy, cold);
            load.awaitRecovery("after the plugin stopped flapping", 50);
          });
    }
  }

  @Test
  void v1PluginKilledRestartedHungAndResumed() throws Exception {
    try (KmsPluginProcess plugin = plugin();
        Proxy proxy = Proxy.start(v1(plugin))) {
      underLoad(
          proxy,
          "v1",
          load -> {
            plugin.kill();
            load.awaitFailures("with the plugin killed", 10);
            plugin.restart();
            load.awaitRecovery("after the plugin's restart", 50);
            plugin.pause();
            load.awaitFailures("with the plugin hung", 3);
            plugin.resume();
            load.awaitRecovery("after the plugin resumed", 50);
            for (int i = 0; i < 3; i++) {
              plugin.kill();
              load.awaitCalls("with the plugin killed (" + i + ")", 10);
              plugin.restart();
              load.awaitCalls("with the plugin back (" + i + ")", 10);
            }
            load.awaitRecovery("after the plugin stopped flapping", 50);
          });
    }
  }

  /**
   * Runs {@link Load} through {@code proxy} on keys of their own ({@code name}), with {@code
   * faults} injected once it goes; then checks the promises.
   */
  private static void underLoad(Proxy proxy, String name, Load.Faults faults) throws Exception {
    String prefix = AtRest.PROTECTED + "faults-" + name + "/";
    long from = AtRest.revision(etcd.process());
    Load.run(name, proxy.channel(), prefix, CLIENTS, KEYS_PER_CLIENT, SEED, faults);
    AtRest.assertNoPlaintextSince(etcd.process(), from);
  }

  /**
   * Writes a value through a proxy of its own with {@code config}: a KMS v2 value under that
   * proxy's seed, which the proxy under test can read only by asking the plugin to Decrypt it.
   */
  private static String writeUnderAnotherSeed(String config, String name) {
    String key = COLD + name;
    try (Proxy other = Proxy.start(config)) {
      other
          .kv()
          .put(
              PutRequest.newBuilder()
                  .setKey(Load.bs(key))
                  .setValue(Load.bs("cold " + name))
                  .build());
    }
    return key;
  }

  private static RangeResponse read(Proxy proxy, String key) {
    return proxy.kv().range(RangeRequest.newBuilder().setKey(Load.bs(key)).build());
  }

  /** A read that needs the plugin fails, with a short status and no ciphertext. */
  private static void assertReadFailsCleanly(Proxy proxy, String key) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> read(proxy, key));
    assertNull(Load.promiseBrokenBy(e.getStatus()), "the failed read of " + key);
    System.out.println("a read that needs the plugin, without it: " + e.getStatus());
  }

  /** Waits until a read that needs the plugin gives the plaintext; each failure is clean. */
  private static void awaitRead(Proxy proxy, String key) {
    String expected = "cold " + key.substring(COLD.length());
    Await.until(
        key + " to read again through the plugin",
        Duration.ofSeconds(60),
        () -> {
          try {
            RangeResponse r = read(proxy, key);
            assertEquals(1, r.getKvsCount(), key);
            assertEquals(expected, r.getKvs(0).getValue().toStringUtf8(), key);
            return true;
          } catch (StatusRuntimeException e) {
            assertNull(Load.promiseBrokenBy(e.getStatus()), "a failed read of " + key);
            return false;
          }
        });
  }
}
