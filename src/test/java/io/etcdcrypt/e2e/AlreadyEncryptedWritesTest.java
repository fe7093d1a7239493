package io.etcdcrypt.e2e;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.ResourceResolver;
import io.etcdcrypt.crypto.EncryptionCodec;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.ElectionGrpc;
import io.etcdcrypt.kms.KmsProviders;
import io.etcdcrypt.observe.MetricNames;
import io.etcdcrypt.observe.Metrics;
import io.etcdcrypt.ops.OpsFixtures;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.Command;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.Etcdctl;
import io.etcdcrypt.testing.FormatVectors;
import io.etcdcrypt.testing.KmsPluginExtension;
import io.etcdcrypt.testing.PrometheusText;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Clock;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15 item 2, against real etcd, etcdctl and the bundled KMS plugin: a value that already
 * carries {@code k8s:enc:} is stored byte for byte when the proxy's configuration opens it (a
 * writer that encrypts itself, a restore of raw values) and refused, with nothing written, when it
 * does not; in a Put, a Txn nested in a Txn, and a Campaign. The metric counts both.
 */
@RealComponents
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class AlreadyEncryptedWritesTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();
  @RegisterExtension static final KmsPluginExtension plugin = new KmsPluginExtension();

  /** kube-apiserver's AES-GCM bytes from the shared vectors, with the key that opens them. */
  private static FormatVectors.Vector gcm;

  private static Metrics metrics;
  private static KmsProviders kms;
  private static ProxyFixture proxy;
  private static ManagedChannel toProxy;
  private static ManagedChannel toEtcd;

  private static String config() {
    String aesgcm =
        "aesgcm: {keys: [{name: "
            + gcm.keyName()
            + ", secret: "
            + Base64.getEncoder().encodeToString(gcm.key())
            + "}]}";
    return OpsFixtures.withRule(
        OpsFixtures.config("secrets", aesgcm, "identity: {}"),
        "configmaps",
        OpsFixtures.kmsV2("bundled", plugin.endpoint().url()));
  }

  private static EncryptionCodec codec(KmsProviders kms, Metrics metrics) throws Exception {
    return EncryptionCodec.create(
        OpsFixtures.parse(config()), new ResourceResolver("/registry"), kms, metrics.transforms());
  }

  @BeforeAll
  static void proxy() throws Exception {
    gcm = FormatVectors.load().stream().filter(v -> v.id().equals("aesgcm-256")).findFirst().get();
    metrics = new Metrics("test-host", Clock.systemUTC());
    kms = new KmsProviders();
    proxy = ProxyFixture.start(codec(kms, metrics), etcd.endpoint());
    toProxy = Channels.plaintext(proxy.endpoint());
    toEtcd = Channels.plaintext(etcd.endpoint());
  }

  @AfterAll
  static void stop() {
    toProxy.shutdownNow();
    toEtcd.shutdownNow();
    proxy.close();
    kms.close();
    metrics.close();
  }

  private static void put(ManagedChannel ch, String key, ByteString value) {
    KVGrpc.newBlockingStub(ch)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(value).build());
  }

  private static RangeResponse get(ManagedChannel ch, String key) {
    return KVGrpc.newBlockingStub(ch)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .range(RangeRequest.newBuilder().setKey(pb(key)).build());
  }

  private static ByteString value(ManagedChannel ch, String key) {
    return get(ch, key).getKvs(0).getValue();
  }

  /** The counter's value; 0 before its first increment, when the series does not exist yet. */
  private static double counted(String resource, String outcome) {
    return PrometheusText.parse(metrics.scrape())
        .matching(MetricNames.ALREADY_ENCRYPTED_WRITES, "resource", resource, "outcome", outcome)
        .stream()
        .mapToDouble(PrometheusText.Sample::value)
        .sum();
  }

  /** The migration case: kube-apiserver's bytes under the same key pass byte for byte. */
  @Test
  void kubeApiserversBytesAreStoredAsTheyAreAndReadAsPlaintext() {
    double before = counted("secrets", "stored_as_is");
    ByteString stored = ByteString.copyFrom(gcm.stored());
    put(toProxy, gcm.etcdKey(), stored);
    assertEquals(stored, value(toEtcd, gcm.etcdKey()), "no second layer");
    assertEquals(ByteString.copyFrom(gcm.plaintext()), value(toProxy, gcm.etcdKey()));
    assertEquals(before + 1, counted("secrets", "stored_as_is"));
  }

  /**
   * A restore of raw values through the proxy: what etcd held comes back byte for byte, also
   * through a second proxy whose KMS provider must first ask the plugin to decrypt the seed.
   */
  @Test
  void aRawDumpRestoredThroughAnotherProxyIsByteIdentical() throws Exception {
    String key = "/registry/configmaps/restore/cm";
    put(toProxy, key, pb("{\"kind\":\"ConfigMap\"}"));
    ByteString dumped = value(toEtcd, key);
    assertTrue(dumped.startsWith(pb("k8s:enc:kms:v2:bundled:")), "encrypted by the plugin");
    KVGrpc.newBlockingStub(toEtcd)
        .deleteRange(DeleteRangeRequest.newBuilder().setKey(pb(key)).build());

    try (Metrics otherMetrics = new Metrics("other-host", Clock.systemUTC());
        KmsProviders otherKms = new KmsProviders();
        ProxyFixture other = ProxyFixture.start(codec(otherKms, otherMetrics), etcd.endpoint())) {
      ManagedChannel ch = Channels.plaintext(other.endpoint());
      try {
        put(ch, key, dumped);
        assertEquals(pb("{\"kind\":\"ConfigMap\"}"), value(ch, key));
      } finally {
        ch.shutdownNow();
      }
    }
    assertEquals(dumped, value(toEtcd, key), "stored byte for byte");
    assertEquals(pb("{\"kind\":\"ConfigMap\"}"), value(toProxy, key));
  }

  /** The mistake: a prefix the configuration does not read, written with etcdctl. */
  @Test
  void aForeignPrefixIsRefusedWithTheCauseAndNothingIsWritten() {
    double before = counted("secrets", "refused");
    String key = "/registry/secrets/default/foreign";
    Command.Result r =
        new Etcdctl(proxy.endpoint()).run("put", key, "k8s:enc:aescbc:v1:key9:c2VjcmV0Cg==");
    assertNotEquals(0, r.exitCode(), r::toString);
    assertTrue(
        r.stderr()
            .contains(
                "code = FailedPrecondition desc = etcd-crypt-proxy: already encrypted value"
                    + " (k8s:enc:aescbc:v1:key9:) refused: nothing in the encryption configuration"
                    + " for \"secrets\" reads that prefix, nothing written; send plaintext (do not"
                    + " encrypt in the writer) or add the provider and key; key \""
                    + key
                    + "\""),
        r::toString);
    assertEquals(0, get(toEtcd, key).getCount(), "nothing written");
    assertEquals(before + 1, counted("secrets", "refused"));
  }

  /** A Txn in a Txn: the refused put fails the whole Txn; an openable one passes as it is. */
  @Test
  void aPutNestedInATxnIsHandledTheSameWay() {
    String sibling = "/registry/secrets/txn/sibling";
    String nested = "/registry/secrets/txn/nested";
    StatusRuntimeException refused =
        assertThrows(
            StatusRuntimeException.class,
            () -> txn(nestedTxn(sibling, pb("plain"), nested, pb("k8s:enc:secretbox:v1:x:abc"))));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
    assertTrue(
        refused
            .getStatus()
            .getDescription()
            .startsWith(
                "etcd-crypt-proxy: already encrypted value (k8s:enc:secretbox:v1:x:) refused:"),
        refused::toString);
    assertEquals(0, get(toEtcd, sibling).getCount(), "nothing of the Txn was written");
    assertEquals(0, get(toEtcd, nested).getCount());

    ByteString sealed = ByteString.copyFrom(gcm.stored()); // opens only under its own etcd key
    txn(nestedTxn(sibling, pb("plain"), gcm.etcdKey(), sealed));
    assertEquals(sealed, value(toEtcd, gcm.etcdKey()));
    assertTrue(value(toEtcd, sibling).startsWith(pb("k8s:enc:aesgcm:v1:key1:")));
  }

  @Test
  void aCampaignValueIsHandledTheSameWay() {
    StatusRuntimeException refused =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                ElectionGrpc.newBlockingStub(toProxy)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .campaign(
                        CampaignRequest.newBuilder()
                            .setName(pb("/registry/secrets/elections/e"))
                            .setValue(pb("k8s:enc:kms:v2:other-kms:abc"))
                            .build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
    assertTrue(
        refused.getStatus().getDescription().contains("(k8s:enc:kms:v2:other-kms:) refused"),
        refused::toString);
    RangeResponse none =
        KVGrpc.newBlockingStub(toEtcd)
            .range(
                RangeRequest.newBuilder()
                    .setKey(pb("/registry/secrets/elections/"))
                    .setRangeEnd(pb("/registry/secrets/elections0"))
                    .build());
    assertEquals(0, none.getCount(), "no candidate was written");
  }

  private static TxnRequest nestedTxn(
      String siblingKey, ByteString siblingValue, String nestedKey, ByteString nestedValue) {
    TxnRequest inner =
        TxnRequest.newBuilder()
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(
                        PutRequest.newBuilder().setKey(pb(nestedKey)).setValue(nestedValue)))
            .build();
    return TxnRequest.newBuilder()
        .addSuccess(
            RequestOp.newBuilder()
                .setRequestPut(
                    PutRequest.newBuilder().setKey(pb(siblingKey)).setValue(siblingValue)))
        .addSuccess(RequestOp.newBuilder().setRequestTxn(inner))
        .build();
  }

  private static void txn(TxnRequest t) {
    KVGrpc.newBlockingStub(toProxy).withDeadlineAfter(30, TimeUnit.SECONDS).txn(t);
  }
}
