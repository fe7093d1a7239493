package io.etcdcrypt.warmup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.config.EncryptionConfigLoader;
import io.etcdcrypt.config.LoadOptions;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The warm-up runs the proxy's whole request path (encrypting writes, decrypting reads and watch
 * events) against its stand-in etcd, and nowhere else.
 */
@Timeout(60)
class WarmUpTest {

  @Test
  void itRelaysKubeApiserversRequestsForTheTimeGiven() throws Exception {
    WarmUp.Result r = WarmUp.run(WarmUp.ALL_PROVIDER_KINDS, Duration.ofSeconds(1));

    assertNull(r.firstError(), r::toString);
    // How many depends on how busy the machine is (71 requests on a loaded CI runner, hundreds on
    // an idle one): only that it relayed both kinds, for the whole second, is asserted.
    assertTrue(r.requests() > 0, r::toString);
    assertTrue(r.watchEvents() > 0, r::toString);
    assertTrue(r.took().compareTo(Duration.ofSeconds(1)) >= 0, r::toString);
    assertEquals(List.of("aesgcm", "aescbc", "secretbox"), r.providers());
  }

  @Test
  void whatItWritesIsStoredEncryptedUnderEachProviderAndReadBackInPlaintext() throws Exception {
    try (StandInEtcd etcd = new StandInEtcd()) {
      WarmUp.Result r = WarmUp.runAgainst(etcd, WarmUp.ALL_PROVIDER_KINDS, Duration.ofMillis(500));
      assertNull(r.firstError(), r::toString);

      ManagedChannel direct =
          NettyChannelBuilder.forAddress("127.0.0.1", etcd.port()).usePlaintext().build();
      try {
        KVGrpc.KVBlockingStub kv =
            KVGrpc.newBlockingStub(direct).withDeadlineAfter(10, TimeUnit.SECONDS);
        assertStoredAs(kv, "secrets", "k8s:enc:aesgcm:v1:warm-up:");
        assertStoredAs(kv, "configmaps", "k8s:enc:aescbc:v1:warm-up:");
        assertStoredAs(kv, "serviceaccounts", "k8s:enc:secretbox:v1:warm-up:");
        // The resource no rule names passes through as written.
        assertStoredAs(kv, "persistentvolumes", "k8s\0");
      } finally {
        direct.shutdownNow();
      }
    }
  }

  @Test
  void kmsProvidersAreWarmedAsAesGcmAndOnlyTheLocalKindsInUseAreAdded() throws Exception {
    String yaml =
        """
        apiVersion: apiserver.config.k8s.io/v1
        kind: EncryptionConfiguration
        resources:
          - resources: [secrets]
            providers:
              - kms: {apiVersion: v2, name: p, endpoint: "unix:///tmp/none.sock"}
              - secretbox: {keys: [{name: k, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}]}
              - identity: {}
        """;
    assertEquals(
        List.of("aesgcm", "secretbox"),
        WarmUp.providerKinds(
            EncryptionConfigLoader.parse(yaml, "test.yaml", new LoadOptions(false))));
  }

  private static void assertStoredAs(KVGrpc.KVBlockingStub kv, String resource, String start) {
    ByteString prefix = ByteString.copyFromUtf8("/registry/" + resource + "/warm-up/");
    byte[] end = prefix.toByteArray();
    end[end.length - 1]++;
    List<KeyValue> kvs =
        kv.range(
                RangeRequest.newBuilder()
                    .setKey(prefix)
                    .setRangeEnd(ByteString.copyFrom(end))
                    .build())
            .getKvsList();
    assertTrue(kvs.size() > 0, resource + ": nothing stored");
    for (KeyValue x : kvs) {
      assertTrue(
          x.getValue().startsWith(ByteString.copyFromUtf8(start)),
          resource + ": " + x.getKey().toStringUtf8() + " is not stored as " + start);
    }
  }
}
