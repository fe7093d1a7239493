package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.etcdcrypt.values.WireMessage;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code KV/RangeStream} through the proxy to etcd 3.7, chunk by chunk against the same call sent
 * to etcd directly: chunks without governed values arrive as the bytes etcd sent, chunks with them
 * differ only in those values, and a value that cannot be opened ends the stream with the error.
 * Against older etcd releases the client gets the answer that etcd gives. Runs etcd 3.7 whatever
 * {@code etcd.release} says.
 */
@RealComponents
class RangeStreamTest {

  /**
   * etcd 3.7 starts a stream with 10 keys per chunk and doubles while chunks stay small: 10, 20,
   * 15.
   */
  private static final int KEYS = 45;

  private static EtcdProcess etcd;
  private static ProxyFixture proxy;
  private static ManagedChannel toProxy;
  private static ManagedChannel toEtcd;

  @BeforeAll
  static void start() {
    etcd = EtcdProcess.startSingle(EtcdRelease.V3_7);
    proxy = ProxyFixture.start(TestCodecs.secretsUnderAesGcm(), etcd.endpoint());
    toProxy = Channels.plaintext(proxy.endpoint());
    toEtcd = Channels.plaintext(etcd.endpoint());
    for (int i = 0; i < KEYS; i++) {
      String n = String.format("%02d", i);
      put(toProxy, "/registry/secrets/stream/s" + n, "secret " + n + " " + "x".repeat(i * 7));
      put(toProxy, "/registry/pods/stream/p" + n, "pod " + n);
    }
  }

  @AfterAll
  static void stop() {
    for (ManagedChannel ch : new ManagedChannel[] {toProxy, toEtcd}) {
      if (ch != null) {
        ch.shutdownNow();
      }
    }
    if (proxy != null) {
      proxy.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static void put(ManagedChannel ch, String key, String value) {
    put(ch, key, pb(value));
  }

  private static void put(ManagedChannel ch, String key, ByteString value) {
    KVGrpc.newBlockingStub(ch).put(PutRequest.newBuilder().setKey(pb(key)).setValue(value).build());
  }

  private static RangeRequest prefix(String p) {
    return RangeRequest.newBuilder()
        .setKey(pb(p))
        .setRangeEnd(pb(p.substring(0, p.length() - 1) + "0"))
        .build();
  }

  /** Every chunk's bytes as they arrived, or the status the stream ended with. */
  private static List<byte[]> chunks(ManagedChannel ch, RangeRequest r) {
    Iterator<WireMessage<RangeStreamResponse>> it =
        ClientCalls.blockingServerStreamingCall(
            ch,
            KvProxy.RANGE_STREAM,
            CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
            r);
    List<byte[]> out = new ArrayList<>();
    it.forEachRemaining(c -> out.add(c.bytes()));
    return out;
  }

  private static RangeResponse range(byte[] chunk) throws Exception {
    return RangeStreamResponse.parseFrom(chunk).getRangeResponse();
  }

  /**
   * What the client of a stream ends up with: the chunks' ranges merged, as etcd documents them.
   */
  private static RangeResponse merged(List<byte[]> chunks) throws Exception {
    RangeResponse.Builder all = RangeResponse.newBuilder();
    for (byte[] c : chunks) {
      all.mergeFrom(range(c));
    }
    return all.build();
  }

  @Test
  void chunksWithoutGovernedValuesArriveAsTheBytesEtcdSent() {
    RangeRequest pods = prefix("/registry/pods/stream/");
    List<byte[]> direct = chunks(toEtcd, pods);
    List<byte[]> proxied = chunks(toProxy, pods);
    assertTrue(
        direct.size() >= 3, "etcd 3.7 sent " + direct.size() + " chunks for " + KEYS + " keys");
    assertEquals(direct.size(), proxied.size());
    for (int i = 0; i < direct.size(); i++) {
      assertArrayEquals(direct.get(i), proxied.get(i), "chunk " + i);
    }
    RangeRequest keysOnly =
        prefix("/registry/secrets/stream/").toBuilder().setKeysOnly(true).build();
    assertArrayEquals(chunks(toEtcd, keysOnly).get(0), chunks(toProxy, keysOnly).get(0));
    RangeRequest countOnly =
        prefix("/registry/secrets/stream/").toBuilder().setCountOnly(true).build();
    assertArrayEquals(chunks(toEtcd, countOnly).get(0), chunks(toProxy, countOnly).get(0));
  }

  @Test
  void chunksOfSecretsDifferFromEtcdsOnlyInTheValues() throws Exception {
    for (RangeRequest r :
        List.of(
            prefix("/registry/secrets/stream/"),
            prefix("/registry/secrets/stream/").toBuilder().setLimit(25).build(),
            // Two resources in one stream, as a list of everything under /registry/ reads them.
            RangeRequest.newBuilder()
                .setKey(pb("/registry/pods/stream/"))
                .setRangeEnd(pb("/registry/secrets/stream0"))
                .setLimit(70)
                .build())) {
      List<byte[]> direct = chunks(toEtcd, r);
      List<byte[]> proxied = chunks(toProxy, r);
      assertTrue(direct.size() >= 2, "etcd 3.7 sent " + direct.size() + " chunks");
      assertEquals(direct.size(), proxied.size());
      for (int i = 0; i < direct.size(); i++) {
        RangeResponse stored = range(direct.get(i));
        RangeResponse opened = range(proxied.get(i));
        assertEquals(stored.getKvsCount(), opened.getKvsCount(), "chunk " + i);
        assertEquals(stored.getHeader(), opened.getHeader());
        assertEquals(stored.getMore(), opened.getMore());
        assertEquals(stored.getCount(), opened.getCount());
        for (int k = 0; k < stored.getKvsCount(); k++) {
          assertOpened(stored.getKvs(k), opened.getKvs(k));
        }
      }
      // Merged, the stream is what Range through the proxy answers.
      RangeResponse unary = KVGrpc.newBlockingStub(toProxy).range(r);
      assertEquals(unary.getKvsList(), merged(proxied).getKvsList());
      assertEquals(unary.getCount(), merged(proxied).getCount());
      assertEquals(unary.getMore(), merged(proxied).getMore());
    }
  }

  /** Everything of a KeyValue but the value as etcd stored it, and the value as it was written. */
  private static void assertOpened(KeyValue stored, KeyValue opened) {
    String key = stored.getKey().toStringUtf8();
    assertEquals(stored.toBuilder().clearValue().build(), opened.toBuilder().clearValue().build());
    if (key.startsWith("/registry/secrets/")) {
      assertTrue(stored.getValue().startsWith(pb("k8s:enc:aesgcm:v1:key1:")), key);
      String n = key.substring(key.length() - 2);
      assertEquals(
          pb("secret " + n + " " + "x".repeat(Integer.parseInt(n) * 7)), opened.getValue(), key);
    } else {
      assertEquals(stored.getValue(), opened.getValue(), key);
    }
  }

  @Test
  void aValueThatCannotBeOpenedEndsTheStreamWithTheError() throws Exception {
    String bad = "/registry/secrets/stream~broken/s30";
    for (int i = 0; i < KEYS; i++) {
      String key = "/registry/secrets/stream~broken/s" + String.format("%02d", i);
      if (key.equals(bad)) {
        // Ciphertext written past the proxy, under a key it does not belong to: it cannot be
        // opened.
        ByteString sealedElsewhere =
            KVGrpc.newBlockingStub(toEtcd)
                .range(RangeRequest.newBuilder().setKey(pb("/registry/secrets/stream/s30")).build())
                .getKvs(0)
                .getValue();
        put(toEtcd, key, sealedElsewhere);
      } else {
        put(toProxy, key, "fine " + i);
      }
    }
    RangeRequest r = prefix("/registry/secrets/stream~broken/");
    Iterator<WireMessage<RangeStreamResponse>> it =
        ClientCalls.blockingServerStreamingCall(
            toProxy,
            KvProxy.RANGE_STREAM,
            CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
            r);
    List<RangeResponse> received = new ArrayList<>();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> {
              while (it.hasNext()) {
                received.add(range(it.next().bytes()));
              }
            });
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(
        e.getStatus()
            .getDescription()
            .startsWith("etcd-crypt-proxy: cannot decrypt the value of key \"" + bad + "\""),
        e.getMessage());
    // The chunks before the bad one were plaintext; none was the last chunk, so no client takes
    // them for the list.
    for (RangeResponse c : received) {
      assertFalse(
          c.hasHeader(), "a chunk with the list's header reached the client before the error");
      for (KeyValue kv : c.getKvsList()) {
        assertTrue(kv.getValue().startsWith(pb("fine ")), kv.getKey().toStringUtf8());
      }
    }
    // Chunks of 10 and 20 keys came before the one with s30.
    assertEquals(2, received.size());
  }

  @Test
  void aSortByValueOrdersEachChunkByThePlaintexts() throws Exception {
    // etcd sorts each chunk of a VALUE-ordered stream by itself; over secrets it would order
    // ciphertexts.
    RangeRequest byValue =
        prefix("/registry/secrets/stream/").toBuilder()
            .setSortTarget(RangeRequest.SortTarget.VALUE)
            .build();
    List<byte[]> chunks = chunks(toProxy, byValue);
    assertTrue(chunks.size() >= 3, chunks.size() + " chunks");
    List<String> keys = new ArrayList<>();
    for (byte[] c : chunks) {
      List<KeyValue> kvs = range(c).getKvsList();
      for (int i = 1; i < kvs.size(); i++) {
        assertTrue(
            ByteString.unsignedLexicographicalComparator()
                    .compare(kvs.get(i - 1).getValue(), kvs.get(i).getValue())
                <= 0,
            "chunk not in value order");
      }
      kvs.forEach(kv -> keys.add(kv.getKey().toStringUtf8()));
    }
    // Every key once: the chunks follow key order underneath.
    assertEquals(KEYS, keys.size());
    assertEquals(KEYS, keys.stream().distinct().count());
    assertEquals(
        merged(chunks(toProxy, prefix("/registry/secrets/stream/"))).getCount(),
        merged(chunks).getCount());
  }

  @Test
  void customSortsAndRevisionFiltersGetEtcdsOwnAnswer() {
    RangeRequest pods = prefix("/registry/pods/stream/");
    for (RangeRequest r :
        List.of(
            pods.toBuilder()
                .setSortTarget(RangeRequest.SortTarget.MOD)
                .setSortOrder(RangeRequest.SortOrder.DESCEND)
                .build(),
            pods.toBuilder().setMinModRevision(2).build())) {
      Status direct = statusOf(toEtcd, r);
      assertEquals(Status.Code.UNIMPLEMENTED, direct.getCode(), direct.toString());
      assertEquals(direct.toString(), statusOf(toProxy, r).toString());
    }
  }

  /**
   * Older etcd releases do not have RangeStream: the proxy passes the call on, and the client gets
   * etcd's own UNIMPLEMENTED, which is what makes clients such as kube-apiserver fall back to
   * Range.
   */
  @ParameterizedTest
  @EnumSource(
      value = EtcdRelease.class,
      names = {"V3_4", "V3_6"})
  void olderEtcdReleasesGiveTheirOwnAnswer(EtcdRelease release) {
    try (EtcdProcess older = EtcdProcess.startSingle(release);
        ProxyFixture olderProxy =
            ProxyFixture.start(TestCodecs.secretsUnderAesGcm(), older.endpoint())) {
      ManagedChannel direct = Channels.plaintext(older.endpoint());
      ManagedChannel proxied = Channels.plaintext(olderProxy.endpoint());
      try {
        RangeRequest r = prefix("/registry/secrets/");
        Status fromEtcd = statusOf(direct, r);
        assertEquals(Status.Code.UNIMPLEMENTED, fromEtcd.getCode(), fromEtcd.toString());
        assertEquals(fromEtcd.toString(), statusOf(proxied, r).toString());
      } finally {
        direct.shutdownNow();
        proxied.shutdownNow();
      }
    }
  }

  private static Status statusOf(ManagedChannel ch, RangeRequest r) {
    try {
      chunks(ch, r);
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }
}
