package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.ProxyExtension;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Range through the proxy, compared as bytes with the same Range sent to etcd directly: a page
 * without governed values arrives as the very bytes etcd sent, and a page with them differs only in
 * their values.
 */
@RealComponents
class WireRangeThroughEtcdTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  @RegisterExtension
  static final ProxyExtension proxy = new ProxyExtension(etcd, TestCodecs.secretsUnderAesGcm());

  @BeforeAll
  static void start() {
    for (int i = 0; i < 20; i++) {
      put("/registry/secrets/wire/s" + i, "secret " + i + " " + "x".repeat(i * 20));
      put("/registry/pods/wire/p" + i, "pod " + i);
    }
  }

  private static void put(String key, String value) {
    KVGrpc.newBlockingStub(proxy.toProxy())
        .put(PutRequest.newBuilder().setKey(pb(key)).setValue(pb(value)).build());
  }

  private static RangeRequest prefix(String p, long limit) {
    return RangeRequest.newBuilder()
        .setKey(pb(p))
        .setRangeEnd(pb(p.substring(0, p.length() - 1) + "0"))
        .setLimit(limit)
        .build();
  }

  /** The response bytes as they arrived on the wire. */
  private static byte[] rangeBytes(ManagedChannel ch, RangeRequest r) {
    return ClientCalls.blockingUnaryCall(ch, KvProxy.RANGE, CallOptions.DEFAULT, r).bytes();
  }

  @Test
  void aPageWithoutGovernedValuesArrivesAsTheBytesEtcdSent() {
    RangeRequest pods = prefix("/registry/pods/wire/", 15);
    byte[] direct = rangeBytes(proxy.toEtcd(), pods);
    assertArrayEquals(direct, rangeBytes(proxy.toProxy(), pods));
    RangeRequest keysOnly =
        prefix("/registry/secrets/wire/", 0).toBuilder().setKeysOnly(true).build();
    assertArrayEquals(rangeBytes(proxy.toEtcd(), keysOnly), rangeBytes(proxy.toProxy(), keysOnly));
  }

  @Test
  void aPageOfSecretsDiffersFromEtcdsOnlyInTheValues() throws Exception {
    RangeRequest secrets = prefix("/registry/secrets/wire/", 15);
    RangeResponse stored = RangeResponse.parseFrom(rangeBytes(proxy.toEtcd(), secrets));
    byte[] proxied = rangeBytes(proxy.toProxy(), secrets);

    RangeResponse.Builder expected = stored.toBuilder();
    for (int i = 0; i < stored.getKvsCount(); i++) {
      KeyValue kv = stored.getKvs(i);
      String name = kv.getKey().toStringUtf8().substring("/registry/secrets/wire/s".length());
      int n = Integer.parseInt(name);
      ByteString plaintext = pb("secret " + n + " " + "x".repeat(n * 20));
      assertNotEquals(plaintext, kv.getValue());
      expected.setKvs(i, kv.toBuilder().setValue(plaintext));
    }
    assertEquals(15, stored.getKvsCount());
    assertEquals(true, stored.getMore());
    // etcd and protobuf-java both write fields in number order, so the whole response is
    // byte-identical.
    assertArrayEquals(expected.build().toByteArray(), proxied);
  }
}
