package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A list whose KMS v1 values all miss the DEK cache (the bench's 500-object pages of 10,000
 * Secrets, with kube-apiserver's default cache of 1,000 DEKs) asks the plugin for every DEK. It
 * used to ask for all of them at the same moment, and was refused past {@code
 * --kms-max-pending-calls} with INTERNAL although the plugin was healthy. Now one message has a few
 * Decrypts in flight at once, and a refusal (when many lists really do share a small bound) says
 * RESOURCE_EXHAUSTED: the client may retry. A real etcd, the proxy, and the mock plugin on a real
 * socket, counting how many Decrypts it answers at once.
 */
@RealComponents
@Timeout(120)
class UncachedKmsListTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  /** The bound on waiting plugin calls: one message's worth, so a second list has no room. */
  private static final int MAX_PENDING = 8;

  private static final int SECRETS = 200;

  /** Counts the calls refused for a full queue. */
  private static final class QueueFull implements KmsObserver {
    final AtomicInteger queueFull = new AtomicInteger();

    @Override
    public void pluginCallDropped(String provider, String fullMethod, DropReason reason) {
      if (reason == DropReason.QUEUE_FULL) {
        queueFull.incrementAndGet();
      }
    }
  }

  /** KMS v1 with no DEK cache: every read asks the plugin. */
  private static String config(MockKmsPlugin plugin) {
    return OpsFixtures.config(
        "secrets",
        "kms: {apiVersion: v1, name: mock, cachesize: -1, endpoint: '"
            + plugin.endpoint().url()
            + "', timeout: 60s}");
  }

  /** The Secrets of one namespace: each test lists only what it wrote (they share one etcd). */
  private static RangeRequest all(String prefix) {
    return RangeRequest.newBuilder()
        .setKey(pb(prefix))
        .setRangeEnd(pb(prefix.substring(0, prefix.length() - 1) + "0"))
        .build();
  }

  /** The mock plugin, the proxy in front of the shared etcd, and a client of the proxy. */
  private static final class Setup implements AutoCloseable {
    final QueueFull refusals = new QueueFull();
    final MockKmsPlugin plugin;
    final KmsProviders kms;
    final ProxyFixture proxy;
    final ManagedChannel channel;
    final KVGrpc.KVBlockingStub kv;

    Setup(Path dir) throws Exception {
      plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
      kms =
          new KmsProviders(
              KmsProviderOptions.defaults()
                  .withObserver(refusals)
                  .withMaxPendingCalls(MAX_PENDING));
      proxy = ProxyFixture.start(TestCodecs.fromYaml(config(plugin), kms), etcd.endpoint());
      channel = Channels.plaintext(proxy.endpoint());
      kv = KVGrpc.newBlockingStub(channel);
    }

    /** Writes {@code n} Secrets under {@code prefix}, each sealed with a DEK of its own. */
    void write(String prefix, int n) {
      for (int i = 0; i < n; i++) {
        kv.put(
            PutRequest.newBuilder()
                .setKey(pb(prefix + String.format("s-%03d", i)))
                .setValue(pb("secret number " + i))
                .build());
      }
    }

    @Override
    public void close() {
      plugin.delay = Duration.ZERO;
      channel.shutdownNow();
      proxy.close();
      kms.close();
      plugin.close();
    }
  }

  @Test
  void aListOfValuesWhoseDeksAreNotCachedAsksAFewAtATimeAndIsNotRefused(@TempDir Path dir)
      throws Exception {
    String prefix = "/registry/secrets/uncached-one-list/";
    try (Setup s = new Setup(dir)) {
      s.write(prefix, SECRETS);
      int before = s.plugin.v1DecryptCalls.get();
      s.plugin.delay = Duration.ofMillis(5); // Decrypts that overlap, as on a real KMS

      RangeResponse page = s.kv.range(all(prefix));

      assertEquals(SECRETS, page.getKvsCount());
      for (int i = 0; i < SECRETS; i++) {
        KeyValue kv = page.getKvs(i);
        assertEquals(prefix + String.format("s-%03d", i), kv.getKey().toStringUtf8());
        assertEquals("secret number " + i, kv.getValue().toStringUtf8());
      }
      assertEquals(SECRETS, s.plugin.v1DecryptCalls.get() - before, "one Decrypt per value");
      int peak = s.plugin.v1DecryptsAtOncePeak.get();
      assertTrue(
          peak >= 2 && peak <= MAX_PENDING,
          "Decrypts overlap, within the bound: at most " + peak + " at once");
      assertEquals(0, s.refusals.queueFull.get(), "no Decrypt was refused");
    }
  }

  @Test
  void aListWithNoRoomLeftOnThePluginIsRefusedAsRetryable(@TempDir Path dir) throws Exception {
    String prefix = "/registry/secrets/uncached-two-lists/";
    try (Setup s = new Setup(dir)) {
      s.write(prefix, 2 * MAX_PENDING);
      int before = s.plugin.v1DecryptCalls.get();
      s.plugin.delay = Duration.ofSeconds(2); // a slow plugin: the first list fills the bound
      ListenableFuture<RangeResponse> first = KVGrpc.newFutureStub(s.channel).range(all(prefix));
      Await.until(
          "the first list's Decrypts to fill the bound",
          Duration.ofSeconds(10),
          () -> s.plugin.v1DecryptCalls.get() - before == MAX_PENDING);

      StatusRuntimeException refused =
          assertThrows(StatusRuntimeException.class, () -> s.kv.range(all(prefix)));

      assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
      String message = refused.getStatus().getDescription();
      assertTrue(message.contains("cannot decrypt the value of key"), message);
      assertTrue(
          message.contains(
              "--kms-max-pending-calls (" + MAX_PENDING + ") calls already wait on the plugin"),
          message);
      assertTrue(s.refusals.queueFull.get() >= 1);
      assertEquals(
          2 * MAX_PENDING,
          first.get(30, TimeUnit.SECONDS).getKvsCount(),
          "the list that had room completes");
    }
  }
}
