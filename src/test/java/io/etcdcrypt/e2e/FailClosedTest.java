package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.bs;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcdcrypt.crypto.KmsTransformerFactory;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.CreatedWatch;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What must never happen does not: no ciphertext reaches a client as data, no partial list, no
 * plaintext written where the configuration says encrypt, and semantics the proxy cannot keep are
 * refused, not faked.
 */
@RealComponents
class FailClosedTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final String CONFIG =
      String.join(
          "\n",
          "apiVersion: apiserver.config.k8s.io/v1",
          "kind: EncryptionConfiguration",
          "resources:",
          "  - resources: [secrets]",
          "    providers:",
          "      - aesgcm: {keys: [{name: key1, secret: " + TestCodecs.randomKey(32) + "}]}",
          "      - identity: {}",
          "  - resources: [configmaps]",
          "    providers: [{aescbc: {keys: [{name: key1, secret: "
              + TestCodecs.randomKey(32)
              + "}]}}]",
          "");

  @RegisterExtension
  static final ProxyExtension proxy =
      new ProxyExtension(etcd, TestCodecs.fromYaml(CONFIG, KmsTransformerFactory.UNAVAILABLE));

  private static void put(ManagedChannel ch, String key, byte[] value) {
    KVGrpc.newBlockingStub(ch)
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(ByteString.copyFrom(value)).build());
  }

  private static RangeRequest prefix(String p) {
    return RangeRequest.newBuilder()
        .setKey(pb(p))
        .setRangeEnd(pb(p.substring(0, p.length() - 1) + "0"))
        .build();
  }

  private static StatusRuntimeException rangeFails(RangeRequest r) {
    return assertThrows(
        StatusRuntimeException.class, () -> KVGrpc.newBlockingStub(proxy.toProxy()).range(r));
  }

  @Test
  void undecryptableValueFailsTheReadAndTheWholeList() {
    put(proxy.toProxy(), "/registry/secrets/bad/a-good", "fine".getBytes(StandardCharsets.UTF_8));
    put(
        proxy.toEtcd(),
        "/registry/secrets/bad/b-bad",
        "k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789abcdef".getBytes());
    put(proxy.toProxy(), "/registry/secrets/bad/c-good", "fine".getBytes(StandardCharsets.UTF_8));

    StatusRuntimeException single =
        rangeFails(RangeRequest.newBuilder().setKey(pb("/registry/secrets/bad/b-bad")).build());
    assertEquals(Status.Code.INTERNAL, single.getStatus().getCode());
    String why = single.getStatus().getDescription();
    assertTrue(
        why.contains("/registry/secrets/bad/b-bad") && why.contains("authentication failed"), why);

    // Never a partial list: the whole page fails, naming the bad key.
    StatusRuntimeException list = rangeFails(prefix("/registry/secrets/bad/"));
    assertEquals(Status.Code.INTERNAL, list.getStatus().getCode());
    assertTrue(list.getStatus().getDescription().contains("b-bad"));
    // keys_only needs no value and still works
    assertEquals(
        3,
        KVGrpc.newBlockingStub(proxy.toProxy())
            .range(prefix("/registry/secrets/bad/").toBuilder().setKeysOnly(true).build())
            .getKvsCount());
  }

  @Test
  void ciphertextMovedToAnotherKeyDoesNotOpen() {
    put(
        proxy.toProxy(),
        "/registry/secrets/moved/original",
        "payload".getBytes(StandardCharsets.UTF_8));
    ByteString sealed =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb("/registry/secrets/moved/original")).build())
            .getKvs(0)
            .getValue();
    put(proxy.toEtcd(), "/registry/secrets/moved/copy", sealed.toByteArray());
    StatusRuntimeException e =
        rangeFails(RangeRequest.newBuilder().setKey(pb("/registry/secrets/moved/copy")).build());
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
  }

  @Test
  void plaintextIsRefusedWhereIdentityIsNotListedAndCiphertextWhereNoRuleIs() {
    put(
        proxy.toEtcd(),
        "/registry/configmaps/default/legacy",
        "plain".getBytes(StandardCharsets.UTF_8));
    StatusRuntimeException noIdentity =
        rangeFails(
            RangeRequest.newBuilder().setKey(pb("/registry/configmaps/default/legacy")).build());
    assertTrue(
        noIdentity.getStatus().getDescription().contains("no matching prefix found"),
        noIdentity.getStatus().getDescription());

    put(
        proxy.toEtcd(),
        "/registry/namespaces/odd",
        "k8s:enc:aesgcm:v1:key1:whatever".getBytes(StandardCharsets.UTF_8));
    StatusRuntimeException unconfigured =
        rangeFails(RangeRequest.newBuilder().setKey(pb("/registry/namespaces/odd")).build());
    assertEquals(Status.Code.INTERNAL, unconfigured.getStatus().getCode());
    assertTrue(unconfigured.getStatus().getDescription().contains("namespaces"));
  }

  @Test
  void aValueCompareOrSortOverAValueThatCannotBeDecryptedWritesNothing() {
    // Ciphertext that no configured key opens, stored past the proxy.
    put(
        proxy.toEtcd(),
        "/registry/secrets/cmp/broken",
        "k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.UTF_8));
    TxnRequest valueCompare =
        TxnRequest.newBuilder()
            .addCompare(
                Compare.newBuilder()
                    .setKey(pb("/registry/secrets/cmp/"))
                    .setRangeEnd(pb("/registry/secrets/cmp0"))
                    .setTarget(Compare.CompareTarget.VALUE)
                    .setResult(Compare.CompareResult.NOT_EQUAL)
                    .setValue(pb("v")))
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(
                        PutRequest.newBuilder()
                            .setKey(pb("/registry/secrets/cmp/written"))
                            .setValue(pb("w"))))
            .addFailure(
                RequestOp.newBuilder()
                    .setRequestPut(
                        PutRequest.newBuilder()
                            .setKey(pb("/registry/secrets/cmp/written"))
                            .setValue(pb("w"))))
            .build();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> KVGrpc.newBlockingStub(proxy.toProxy()).txn(valueCompare));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(
        e.getStatus()
            .getDescription()
            .startsWith(
                "etcd-crypt-proxy: cannot decrypt the value of key \"/registry/secrets/cmp/broken\""),
        e.getStatus().getDescription());
    assertEquals(
        0,
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb("/registry/secrets/cmp/written")).build())
            .getCount());

    StatusRuntimeException sort =
        rangeFails(
            prefix("/registry/secrets/cmp/").toBuilder()
                .setSortTarget(RangeRequest.SortTarget.VALUE)
                .setSortOrder(RangeRequest.SortOrder.ASCEND)
                .build());
    assertEquals(Status.Code.INTERNAL, sort.getStatus().getCode());
  }

  @Test
  void aPutThatCannotBeEncryptedWritesNothing() {
    // A KMS provider whose plugin was never reachable cannot seal: the write must fail and store
    // nothing.
    String kmsConfig =
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets]",
            "    providers: [{kms: {apiVersion: v2, name: absent, endpoint: 'unix:///tmp/no-such-plugin-"
                + System.nanoTime()
                + ".sock', timeout: 1s}}]",
            "");
    try (KmsProviders kms = new KmsProviders();
        ProxyFixture p = ProxyFixture.start(TestCodecs.fromYaml(kmsConfig, kms), etcd.endpoint())) {
      ManagedChannel ch = Channels.plaintext(p.endpoint());
      try {
        StatusRuntimeException e =
            assertThrows(
                StatusRuntimeException.class,
                () ->
                    put(
                        ch,
                        "/registry/secrets/kmsdown/x",
                        "secret".getBytes(StandardCharsets.UTF_8)));
        assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
        assertTrue(
            e.getStatus().getDescription().contains("nothing was written"),
            e.getStatus().getDescription());
      } finally {
        ch.shutdownNow();
      }
    }
    assertEquals(
        0,
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb("/registry/secrets/kmsdown/x")).build())
            .getCount());
  }

  @Test
  void aWriteWhosePreviousValueCannotBeDecryptedSaysItWasApplied() {
    String key = "/registry/secrets/prev/bad";
    byte[] undecryptable = "k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789abcdef".getBytes();
    var kv = KVGrpc.newBlockingStub(proxy.toProxy());
    PutRequest put =
        PutRequest.newBuilder().setKey(pb(key)).setValue(pb("new")).setPrevKv(true).build();
    List<Runnable> writes =
        List.of(
            () -> kv.put(put),
            () ->
                kv.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(RequestOp.newBuilder().setRequestPut(put))
                        .build()),
            () ->
                kv.deleteRange(
                    DeleteRangeRequest.newBuilder().setKey(pb(key)).setPrevKv(true).build()));
    for (Runnable write : writes) {
      put(proxy.toEtcd(), key, undecryptable);
      long before = storedRevision(key);
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, write::run);
      assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
      String why = e.getStatus().getDescription();
      assertTrue(
          why.startsWith("etcd-crypt-proxy: the write was applied: ")
              && why.contains(key)
              && why.contains("authentication failed"),
          why);
      assertTrue(storedRevision(key) != before, "etcd applied it: " + why);
    }
    // A Txn that only reads the value fails as a read: nothing was applied.
    put(proxy.toEtcd(), key, undecryptable);
    StatusRuntimeException read =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                kv.txn(
                    TxnRequest.newBuilder()
                        .addSuccess(
                            RequestOp.newBuilder()
                                .setRequestRange(RangeRequest.newBuilder().setKey(pb(key))))
                        .build()));
    assertFalse(read.getStatus().getDescription().contains("applied"), read.getStatus().toString());
  }

  /** The key's mod revision in etcd, or 0 when deleted. */
  private static long storedRevision(String key) {
    var r =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb(key)).build());
    return r.getCount() == 0 ? 0 : r.getKvs(0).getModRevision();
  }

  @Test
  void anUndecryptableEventCancelsOnlyItsWatch() throws Exception {
    LinkedBlockingQueue<String> secretsWatch = new LinkedBlockingQueue<>();
    LinkedBlockingQueue<String> otherWatch = new LinkedBlockingQueue<>();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    try (Client c = proxy.newClient();
        var w1 =
            CreatedWatch.start(
                c,
                bs("/registry/secrets/watched/"),
                WatchOption.builder().isPrefix(true),
                r -> r.getEvents().forEach(e -> secretsWatch.add(value(e))),
                errors::add);
        var w2 =
            CreatedWatch.start(
                c,
                bs("/registry/secrets/other/"),
                WatchOption.builder().isPrefix(true),
                r -> r.getEvents().forEach(e -> otherWatch.add(value(e))))) {
      put(proxy.toProxy(), "/registry/secrets/watched/1", "good".getBytes(StandardCharsets.UTF_8));
      put(
          proxy.toEtcd(),
          "/registry/secrets/watched/2",
          "k8s:enc:aesgcm:v1:key1:garbage-garbage-garbage".getBytes());
      put(proxy.toProxy(), "/registry/secrets/watched/3", "after".getBytes(StandardCharsets.UTF_8));
      put(
          proxy.toProxy(),
          "/registry/secrets/other/1",
          "still-flowing".getBytes(StandardCharsets.UTF_8));

      assertEquals("good", secretsWatch.poll(10, TimeUnit.SECONDS));
      assertEquals("still-flowing", otherWatch.poll(10, TimeUnit.SECONDS));
      Await.within(Duration.ofSeconds(5), () -> !errors.isEmpty());
      assertEquals(1, errors.size(), "the failing watch must end with an error");
      assertTrue(
          errors.get(0).getMessage().contains("/registry/secrets/watched/2"),
          errors.get(0).getMessage());
      // No ciphertext and nothing after the failure reached the failed watch.
      assertFalse(secretsWatch.stream().anyMatch(v -> v.startsWith("k8s:enc:")));
      assertEquals(null, secretsWatch.poll(500, TimeUnit.MILLISECONDS));
    }
  }

  @Test
  void aValueTooLargeOnceEncryptedGetsEtcdsOwnError() throws Exception {
    try (EtcdProcess small = EtcdProcess.startSingle("--max-request-bytes=4096");
        ProxyFixture p =
            ProxyFixture.start(
                TestCodecs.fromYaml(CONFIG, KmsTransformerFactory.UNAVAILABLE), small.endpoint())) {
      byte[] value = new byte[4000];
      ManagedChannel direct = Channels.plaintext(small.endpoint());
      ManagedChannel via = Channels.plaintext(p.endpoint());
      try {
        put(direct, "/registry/secrets/size/plain", value); // fits as plaintext
        StatusRuntimeException e =
            assertThrows(
                StatusRuntimeException.class,
                () -> put(via, "/registry/secrets/size/sealed", value));
        assertEquals("etcdserver: request is too large", e.getStatus().getDescription());
      } finally {
        direct.shutdownNow();
        via.shutdownNow();
      }
    }
  }

  private static String value(WatchEvent e) {
    return e.getKeyValue().getValue().toString(StandardCharsets.UTF_8);
  }
}
