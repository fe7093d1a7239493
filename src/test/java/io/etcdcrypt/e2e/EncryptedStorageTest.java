package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.bs;
import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.testing.CreatedWatch;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.KmsPluginExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.Python;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.SpecDecoder;
import io.etcdcrypt.testing.TestCodecs;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Values written through the proxy are stored in exactly kube-apiserver's format (checked with a
 * decoder written from the format notes, sharing no code with the providers), and values
 * kube-apiserver stored read back through the proxy as plaintext, in every message that carries a
 * value.
 */
@RealComponents
class EncryptedStorageTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final String GCM_KEY = TestCodecs.randomKey(32);
  private static final String CBC_KEY = TestCodecs.randomKey(32);
  private static final String BOX_KEY = TestCodecs.randomKey(32);

  @RegisterExtension static final KmsPluginExtension plugin = new KmsPluginExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, EncryptedStorageTest::codec);

  private static KmsProviders kms;

  @BeforeAll
  static void start() {
    kms = new KmsProviders();
  }

  @AfterAll
  static void stop() {
    kms.close();
  }

  private static EncryptionCodec codec() {
    String config =
        String.join(
            "\n",
            "apiVersion: apiserver.config.k8s.io/v1",
            "kind: EncryptionConfiguration",
            "resources:",
            "  - resources: [secrets, widgets.example.com]",
            "    providers:",
            "      - aesgcm: {keys: [{name: key1, secret: " + GCM_KEY + "}]}",
            "      - identity: {}",
            "  - resources: [configmaps]",
            "    providers: [{aescbc: {keys: [{name: key1, secret: " + CBC_KEY + "}]}}]",
            "  - resources: [pods]",
            "    providers: [{secretbox: {keys: [{name: key1, secret: " + BOX_KEY + "}]}}]",
            "  - resources: [events]",
            "    providers: [{kms: {apiVersion: v2, name: kms2, endpoint: '"
                + plugin.endpoint().url()
                + "'}}]",
            "  - resources: [endpoints]",
            "    providers: [{kms: {apiVersion: v1, name: kms1, endpoint: '"
                + plugin.endpoint().url()
                + "',"
                + " cachesize: 100}}]",
            "");
    return TestCodecs.fromYaml(config, kms);
  }

  private static byte[] rawGet(String key) {
    var r =
        KVGrpc.newBlockingStub(proxy.toEtcd())
            .range(RangeRequest.newBuilder().setKey(pb(key)).build());
    assertEquals(1, r.getCount(), "no value stored at " + key);
    return r.getKvs(0).getValue().toByteArray();
  }

  private static void rawPut(String key, byte[] value) {
    KVGrpc.newBlockingStub(proxy.toEtcd())
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(ByteString.copyFrom(value)).build());
  }

  private static String getViaProxy(String key) throws Exception {
    var kvs = proxy.client().getKVClient().get(bs(key)).get(10, TimeUnit.SECONDS).getKvs();
    assertEquals(1, kvs.size(), key);
    return kvs.get(0).getValue().toString(StandardCharsets.UTF_8);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/registry/secrets/default/s1",
        "/registry/configmaps/default/c1",
        "/registry/pods/default/p1",
        "/registry/events/default/e1",
        "/registry/services/endpoints/default/ep1",
        "/registry/example.com/widgets/default/w1"
      })
  void eachProviderStoresKubernetesFormat(String key) throws Exception {
    String plaintext = "{\"kind\":\"Thing\",\"key\":\"" + key + "\"}";
    proxy.client().getKVClient().put(bs(key), bs(plaintext)).get(10, TimeUnit.SECONDS);
    byte[] stored = rawGet(key);
    byte[] aad = key.getBytes(StandardCharsets.UTF_8);
    byte[] opened;
    if (key.contains("/secrets/") || key.contains("/widgets/")) {
      opened =
          SpecDecoder.aesGcm(
              b64(GCM_KEY), SpecDecoder.body(stored, "k8s:enc:aesgcm:v1:key1:"), aad);
    } else if (key.contains("/configmaps/")) {
      opened =
          SpecDecoder.aesCbc(b64(CBC_KEY), SpecDecoder.body(stored, "k8s:enc:aescbc:v1:key1:"));
    } else if (key.contains("/pods/")) {
      opened =
          SpecDecoder.secretbox(
              b64(BOX_KEY), SpecDecoder.body(stored, "k8s:enc:secretbox:v1:key1:"));
    } else if (key.contains("/events/")) {
      var v2 =
          SpecDecoder.kmsV2(
              plugin.endpoint(), SpecDecoder.body(stored, "k8s:enc:kms:v2:kms2:"), aad);
      assertEquals(plugin.fixture().currentKekId(), v2.keyId());
      assertEquals(1, v2.sourceType(), "KMS v2 writes use HKDF_SHA256_XNONCE_AES_GCM_SEED");
      opened = v2.plaintext();
    } else {
      opened =
          SpecDecoder.kmsV1(
              plugin.endpoint(), SpecDecoder.body(stored, "k8s:enc:kms:v1:kms1:"), aad);
    }
    assertEquals(plaintext, new String(opened, StandardCharsets.UTF_8));
    assertFalse(new String(stored, StandardCharsets.ISO_8859_1).contains(plaintext));
    assertEquals(plaintext, getViaProxy(key));
  }

  @Test
  void valuesStoredByKubeApiserverReadThroughTheProxy() throws Exception {
    // The shared vectors are stored values kube-apiserver's format produces, under their own keys.
    int checked = 0;
    for (FormatVectors.Vector v : FormatVectors.load()) {
      if (!List.of("aescbc", "aesgcm", "secretbox").contains(v.provider()) || v.mustFail()) {
        continue;
      }
      String yaml =
          String.join(
              "\n",
              "apiVersion: apiserver.config.k8s.io/v1",
              "kind: EncryptionConfiguration",
              "resources:",
              "  - resources: [secrets]",
              "    providers: [{"
                  + v.provider()
                  + ": {keys: [{name: "
                  + v.keyName()
                  + ", secret: "
                  + Base64.getEncoder().encodeToString(v.key())
                  + "}]}}]",
              "");
      try (ProxyFixture p = ProxyFixture.start(TestCodecs.fromYaml(yaml, kms), etcd.endpoint());
          Client c = p.client()) {
        rawPut(v.etcdKey(), v.stored());
        byte[] read =
            c.getKVClient()
                .get(bs(v.etcdKey()))
                .get(10, TimeUnit.SECONDS)
                .getKvs()
                .get(0)
                .getValue()
                .getBytes();
        assertArrayEquals(v.plaintext(), read, v.id());
        checked++;
      }
    }
    assertTrue(checked >= 6, "vectors checked: " + checked);
  }

  @Test
  void watchTxnAndDeleteCarryPlaintext() throws Exception {
    KV kv = proxy.client().getKVClient();
    String k = "/registry/secrets/matrix/one";
    LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
    try (var w =
        CreatedWatch.start(
            proxy.client(),
            bs("/registry/secrets/matrix/"),
            WatchOption.builder().isPrefix(true).withPrevKV(true),
            r -> {
              for (WatchEvent e : r.getEvents()) {
                events.add(
                    e.getEventType()
                        + " "
                        + e.getKeyValue().getValue()
                        + " prev="
                        + e.getPrevKV().getValue());
              }
            })) {
      // create-if-absent, as kube-apiserver creates objects
      var created =
          kv.txn()
              .If(new Cmp(bs(k), Cmp.Op.EQUAL, CmpTarget.modRevision(0)))
              .Then(Op.put(bs(k), bs("v1"), PutOption.DEFAULT))
              .commit()
              .get(10, TimeUnit.SECONDS);
      assertTrue(created.isSucceeded());
      assertTrue(
          new String(rawGet(k), StandardCharsets.ISO_8859_1).startsWith("k8s:enc:aesgcm:v1:key1:"));
      // a guarded update that fails returns the current object from the failure branch, decrypted
      var stale =
          kv.txn()
              .If(new Cmp(bs(k), Cmp.Op.EQUAL, CmpTarget.modRevision(1)))
              .Then(Op.put(bs(k), bs("never"), PutOption.DEFAULT))
              .Else(Op.get(bs(k), GetOption.DEFAULT))
              .commit()
              .get(10, TimeUnit.SECONDS);
      assertFalse(stale.isSucceeded());
      assertEquals("v1", stale.getGetResponses().get(0).getKvs().get(0).getValue().toString());
      // a put in the failure branch and a nested txn are encrypted too; prev_kv comes back
      // decrypted
      var nested =
          kv.txn()
              .If(new Cmp(bs(k), Cmp.Op.EQUAL, CmpTarget.version(99)))
              .Else(
                  Op.put(bs(k), bs("v2"), PutOption.builder().withPrevKV().build()),
                  Op.txn(
                      new Cmp[0],
                      new Op[] {
                        Op.put(bs(k + "-nested"), bs("n1"), PutOption.DEFAULT),
                        Op.get(bs(k), GetOption.DEFAULT)
                      },
                      new Op[0]))
              .commit()
              .get(10, TimeUnit.SECONDS);
      assertEquals("v1", nested.getPutResponses().get(0).getPrevKv().getValue().toString());
      assertEquals(
          "v2",
          nested
              .getTxnResponses()
              .get(0)
              .getGetResponses()
              .get(0)
              .getKvs()
              .get(0)
              .getValue()
              .toString());
      assertTrue(
          new String(rawGet(k + "-nested"), StandardCharsets.ISO_8859_1)
              .startsWith("k8s:enc:aesgcm:v1:key1:"));
      // delete with prev_kv
      var deleted =
          kv.delete(bs(k), DeleteOption.builder().withPrevKV(true).build())
              .get(10, TimeUnit.SECONDS);
      assertEquals("v2", deleted.getPrevKvs().get(0).getValue().toString());

      List<String> seen = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        seen.add(events.poll(10, TimeUnit.SECONDS));
      }
      assertEquals(
          List.of("PUT v1 prev=", "PUT v2 prev=v1", "PUT n1 prev=", "DELETE  prev=v2"), seen);
    }
  }

  @Test
  void electionValuesUnderAProtectedPrefixAreEncrypted() throws Exception {
    long lease = proxy.client().getLeaseClient().grant(60).get(10, TimeUnit.SECONDS).getID();
    var leader =
        proxy
            .client()
            .getElectionClient()
            .campaign(bs("/registry/secrets/election"), lease, bs("candidate-a"))
            .get(10, TimeUnit.SECONDS)
            .getLeader();
    String key = leader.getKey().toString(StandardCharsets.UTF_8);
    assertTrue(
        new String(rawGet(key), StandardCharsets.ISO_8859_1).startsWith("k8s:enc:aesgcm:v1:key1:"));
    assertEquals(
        "candidate-a",
        proxy
            .client()
            .getElectionClient()
            .leader(bs("/registry/secrets/election"))
            .get(10, TimeUnit.SECONDS)
            .getKv()
            .getValue()
            .toString());
    proxy.client().getElectionClient().proclaim(leader, bs("proclaimed")).get(10, TimeUnit.SECONDS);
    assertEquals("proclaimed", getViaProxy(key));
    proxy.client().getLeaseClient().revoke(lease).get(10, TimeUnit.SECONDS);
  }

  @Test
  void etcdctlJetcdAndPythonThroughTheProxy() throws Exception {
    String key = "/registry/secrets/default/from-etcdctl";
    new Etcdctl(proxy.endpoint()).run("put", key, "s3cr3t").assertOk();
    assertTrue(
        new String(rawGet(key), StandardCharsets.ISO_8859_1).startsWith("k8s:enc:aesgcm:v1:key1:"));
    assertEquals(
        "s3cr3t",
        new Etcdctl(proxy.endpoint())
            .run("get", key, "--print-value-only")
            .assertOk()
            .stdout()
            .trim());
    assertEquals("s3cr3t", getViaProxy(key));
    String py =
        Python.run(
                String.join(
                    "\n",
                    "import sys, etcd3",
                    "host, port = sys.argv[1].split(':')",
                    "print(etcd3.client(host=host, port=int(port)).get(sys.argv[2])[0].decode())"),
                proxy.endpoint(),
                key)
            .assertOk()
            .stdout();
    assertEquals("s3cr3t", py.trim());
  }

  @Test
  void keysThatAreNotObjectsPassUntouched() throws Exception {
    for (String key :
        List.of(
            "compact_rev_key", "/registry/health", "/registry/ranges/serviceips", "/other/app")) {
      proxy.client().getKVClient().put(bs(key), bs("plain-" + key)).get(10, TimeUnit.SECONDS);
      assertEquals("plain-" + key, new String(rawGet(key), StandardCharsets.UTF_8));
    }
    // namespaces have no rule: stored as plaintext
    proxy
        .client()
        .getKVClient()
        .put(bs("/registry/namespaces/ns1"), bs("ns"))
        .get(10, TimeUnit.SECONDS);
    assertEquals("ns", new String(rawGet("/registry/namespaces/ns1"), StandardCharsets.UTF_8));
  }

  private static byte[] b64(String s) {
    return Base64.getDecoder().decode(s);
  }
}
