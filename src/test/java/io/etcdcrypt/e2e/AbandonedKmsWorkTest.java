package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.kms.KmsObserver;
import io.etcdcrypt.kms.KmsProviderOptions;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.kms.KmsV2Client;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.MockKmsPlugin;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Work a hung or dead KMS plugin would pile up (issue: 500 KMS v1 writes whose clients had given up
 * still made 500 Encrypt calls once the plugin was back, and the wait queue had no bound): writes
 * whose clients gave up never reach the plugin, and past {@code --kms-max-pending-calls} a write is
 * refused at once with RESOURCE_EXHAUSTED. A real etcd, the proxy, and Kubernetes' mock plugin on a
 * real socket, which counts the calls it receives.
 */
@RealComponents
@Timeout(120)
class AbandonedKmsWorkTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final int MAX_PENDING = 8;
  private static final String V1_ENCRYPT = "/v1beta1.KeyManagementService/Encrypt";

  /** Counts the calls the providers dropped, by reason. */
  private static final class Drops implements KmsObserver {
    final Map<DropReason, AtomicInteger> counts = new EnumMap<>(DropReason.class);
    final Set<String> methods = ConcurrentHashMap.newKeySet();

    Drops() {
      for (DropReason r : DropReason.values()) {
        counts.put(r, new AtomicInteger());
      }
    }

    @Override
    public void pluginCallDropped(String provider, String fullMethod, DropReason reason) {
      methods.add(fullMethod);
      counts.get(reason).incrementAndGet();
    }

    int of(DropReason reason) {
      return counts.get(reason).get();
    }

    int total() {
      return counts.values().stream().mapToInt(AtomicInteger::get).sum();
    }
  }

  private static String config(MockKmsPlugin plugin) {
    // A timeout far longer than the test: only the clients' deadlines end the waiting calls.
    return OpsFixtures.config(
        "secrets",
        "kms: {apiVersion: v1, name: mock, endpoint: '"
            + plugin.endpoint().url()
            + "', timeout: 60s}");
  }

  private static PutRequest put(String name) {
    return PutRequest.newBuilder()
        .setKey(pb("/registry/secrets/abandoned/" + name))
        .setValue(pb("value of " + name))
        .build();
  }

  /** Writes {@code n} values whose clients give up after 300 ms, as they time out while waiting. */
  private static void giveUp(KVGrpc.KVBlockingStub kv, String prefix, int n) {
    for (int i = 0; i < n; i++) {
      String name = prefix + i;
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () -> kv.withDeadlineAfter(300, TimeUnit.MILLISECONDS).put(put(name)));
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    }
  }

  @Test
  void writesWhoseClientsGaveUpNeverReachThePluginOnceItIsBack(@TempDir Path dir) throws Exception {
    Drops drops = new Drops();
    KmsProviderOptions options =
        KmsProviderOptions.defaults().withObserver(drops).withMaxPendingCalls(MAX_PENDING);
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
        KmsProviders kms = new KmsProviders(options);
        ProxyFixture proxy =
            ProxyFixture.start(TestCodecs.fromYaml(config(plugin), kms), etcd.endpoint())) {
      ManagedChannel channel = Channels.plaintext(proxy.endpoint());
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
        kv.put(put("before"));
        assertEquals(1, plugin.v1EncryptCalls.get());

        plugin.stop();
        int abandoned = 2 * MAX_PENDING; // more than the bound: each is dropped, not left pending
        giveUp(kv, "gave-up-", abandoned);
        Await.until(
            "the proxy to drop every Encrypt whose client gave up",
            Duration.ofSeconds(10),
            () -> drops.of(KmsObserver.DropReason.CLIENT_DEADLINE) == abandoned);

        plugin.restart();
        kv.put(put("after")); // waits for the reconnection, then is sent behind anything queued
        assertEquals(
            2,
            plugin.v1EncryptCalls.get(),
            "only the two writes whose clients waited reached the plugin");
        assertEquals(0, drops.of(KmsObserver.DropReason.QUEUE_FULL));
        assertEquals(Set.of(V1_ENCRYPT), drops.methods);
        assertEquals(
            0,
            kv.range(
                    RangeRequest.newBuilder()
                        .setKey(pb("/registry/secrets/abandoned/gave-up-0"))
                        .build())
                .getCount(),
            "a dropped write is not applied");
      } finally {
        channel.shutdownNow();
      }
    }
  }

  /**
   * The same on a proxy whose plugin was down from its start: every write first waits for the one
   * Version call the provider makes before its first Encrypt, and the Encrypt comes after it, on
   * another thread; it still belongs to its writer.
   */
  @Test
  void writesAbandonedBeforeTheFirstVersionCheckNeverReachThePluginEither(@TempDir Path dir)
      throws Exception {
    Drops drops = new Drops();
    KmsProviderOptions options =
        KmsProviderOptions.defaults().withObserver(drops).withMaxPendingCalls(MAX_PENDING);
    MockKmsPlugin plugin = MockKmsPlugin.notStarted(dir.resolve("kms.sock"));
    try (KmsProviders kms = new KmsProviders(options);
        ProxyFixture proxy =
            ProxyFixture.start(TestCodecs.fromYaml(config(plugin), kms), etcd.endpoint())) {
      ManagedChannel channel = Channels.plaintext(proxy.endpoint());
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
        // More writes than the bound: they share one Version call, so none is refused.
        int abandoned = 2 * MAX_PENDING;
        giveUp(kv, "early-", abandoned);
        plugin.restart();
        kv.put(put("after"));
        Await.until(
            "the proxy to drop every Encrypt whose client gave up",
            Duration.ofSeconds(10),
            () -> drops.of(KmsObserver.DropReason.CLIENT_DEADLINE) == abandoned);
        assertEquals(1, plugin.v1EncryptCalls.get(), "only the write whose client waited");
        assertEquals(1, plugin.v1VersionCalls.get(), "one Version call, shared");
        assertEquals(0, drops.of(KmsObserver.DropReason.QUEUE_FULL));
      } finally {
        channel.shutdownNow();
      }
    } finally {
      plugin.close();
    }
  }

  @Test
  void pastTheBoundAWriteIsRefusedAtOnceAndTheWaitingOnesStillComplete(@TempDir Path dir)
      throws Exception {
    Drops drops = new Drops();
    KmsProviderOptions options =
        KmsProviderOptions.defaults().withObserver(drops).withMaxPendingCalls(MAX_PENDING);
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
        KmsProviders kms = new KmsProviders(options);
        ProxyFixture proxy =
            ProxyFixture.start(TestCodecs.fromYaml(config(plugin), kms), etcd.endpoint())) {
      ManagedChannel channel = Channels.plaintext(proxy.endpoint());
      try {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel);
        kv.put(put("warm")); // the version check is behind us
        plugin.delay = Duration.ofSeconds(3); // a plugin that hangs for a while
        KVGrpc.KVFutureStub async = KVGrpc.newFutureStub(channel);
        List<ListenableFuture<PutResponse>> waiting = new ArrayList<>();
        for (int i = 0; i < MAX_PENDING; i++) {
          waiting.add(async.put(put("waiting-" + i)));
        }
        Await.until(
            "every waiting write's Encrypt to reach the plugin",
            Duration.ofSeconds(10),
            () -> plugin.v1EncryptCalls.get() == 1 + MAX_PENDING);

        StatusRuntimeException refused =
            assertThrows(StatusRuntimeException.class, () -> kv.put(put("one-too-many")));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
        String message = refused.getStatus().getDescription();
        assertTrue(message.contains("nothing was written"), message);
        assertTrue(
            message.contains(
                "--kms-max-pending-calls (" + MAX_PENDING + ") calls already wait on the plugin"),
            message);
        assertEquals(1, drops.of(KmsObserver.DropReason.QUEUE_FULL));
        assertEquals(Set.of(V1_ENCRYPT), drops.methods);
        assertEquals(
            1 + MAX_PENDING, plugin.v1EncryptCalls.get(), "the refused write asked nothing");

        for (ListenableFuture<PutResponse> f : waiting) {
          try {
            f.get(30, TimeUnit.SECONDS);
          } catch (ExecutionException e) {
            throw new AssertionError("a write within the bound failed", e);
          }
        }
        plugin.delay = Duration.ZERO;
        kv.put(put("after")); // the bound counts only calls still waiting
        assertEquals(2 + MAX_PENDING, plugin.v1EncryptCalls.get());
      } finally {
        plugin.delay = Duration.ZERO;
        channel.shutdownNow();
      }
    }
  }

  /**
   * A KMS v2 Decrypt loads a seed every read of it waits on: the first reader's cancellation must
   * not fail it for the others (it is detached from the client's context), nor is it counted as
   * dropped.
   */
  @Test
  void aSharedDecryptOutlivesTheCancellationOfTheClientThatStartedIt(@TempDir Path dir)
      throws Exception {
    Drops drops = new Drops();
    try (MockKmsPlugin plugin = MockKmsPlugin.start(dir.resolve("kms.sock"));
        KmsV2Client client =
            new KmsV2Client("mock", plugin.endpoint(), Duration.ofSeconds(30), drops)) {
      ByteString seed = ByteString.copyFromUtf8("a seed of thirty-two bytes......");
      ByteString wrapped =
          ByteString.copyFromUtf8(Base64.getEncoder().encodeToString(seed.toByteArray()));
      CountDownLatch gate = new CountDownLatch(1);
      plugin.decryptGate = gate;
      Context.CancellableContext reader = Context.current().withCancellation();
      CompletableFuture<byte[]> decrypted =
          reader.call(() -> client.decrypt(wrapped, "1", Map.of()));
      Await.until(
          "the Decrypt to reach the plugin",
          Duration.ofSeconds(10),
          () -> plugin.decryptCalls.get() == 1);
      reader.cancel(null); // the client that asked first gives up
      gate.countDown();
      assertEquals(seed, ByteString.copyFrom(decrypted.get(10, TimeUnit.SECONDS)));
      assertEquals(0, drops.total());
    }
  }
}
