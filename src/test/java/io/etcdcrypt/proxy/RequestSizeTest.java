package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.v3lockpb.LockGrpc;
import io.etcdcrypt.etcd.v3lockpb.LockRequest;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.etcdcrypt.testing.WatchEnd;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Client requests are limited as etcd limits them: etcd started with {@code
 * --max-request-bytes=8192} and the proxy told the same refuse the same requests with the same
 * status, whether they are too large for etcd's gRPC server (RESOURCE_EXHAUSTED, grpc-go's words),
 * too large for its raft log (INVALID_ARGUMENT {@code etcdserver: request is too large}), or only
 * too large once the proxy encrypted their value.
 */
@RealComponents
class RequestSizeTest {

  private static final int MAX_REQUEST_BYTES = 8192;

  /** What etcd's gRPC server accepts: {@code --max-request-bytes} + 512 KiB. */
  private static final int GRPC_LIMIT = MAX_REQUEST_BYTES + 512 * 1024;

  private static EtcdProcess etcd;
  private static ProxyFixture proxy;
  private static ManagedChannel direct;
  private static ManagedChannel via;

  @BeforeAll
  static void start() {
    etcd = EtcdProcess.startSingle("--max-request-bytes=" + MAX_REQUEST_BYTES);
    proxy =
        ProxyFixture.start(
            TestCodecs.secretsUnderAesGcm(),
            ProxyOptions.plaintext(
                    new Endpoint("127.0.0.1", 0), List.of(Endpoint.parse(etcd.endpoint())))
                .withMaxRequestBytes(MAX_REQUEST_BYTES));
    direct = Channels.plaintext(etcd.endpoint());
    via = Channels.plaintext(proxy.endpoint());
  }

  @AfterAll
  static void stop() {
    if (via != null) {
      via.shutdownNow();
      direct.shutdownNow();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (etcd != null) {
      etcd.close();
    }
  }

  private static PutRequest put(String key, int valueBytes) {
    return PutRequest.newBuilder()
        .setKey(pb(key))
        .setValue(ByteString.copyFrom(new byte[valueBytes]))
        .build();
  }

  /** A put of {@code key} whose encoding is exactly {@code bytes} long. */
  private static PutRequest putOfSize(String key, int bytes) {
    int value = bytes - put(key, 0).getSerializedSize();
    while (put(key, value).getSerializedSize() > bytes) {
      value--; // the value's length prefix grew
    }
    PutRequest r = put(key, value);
    assertEquals(bytes, r.getSerializedSize());
    return r;
  }

  private static Status refusal(ManagedChannel ch, PutRequest r) {
    return assertThrows(StatusRuntimeException.class, () -> KVGrpc.newBlockingStub(ch).put(r))
        .getStatus();
  }

  private static void assertSameStatus(Status expected, Status actual) {
    assertEquals(
        expected.getCode() + ": " + expected.getDescription(),
        actual.getCode() + ": " + actual.getDescription());
  }

  private static boolean stored(String key) {
    return KVGrpc.newBlockingStub(direct)
            .range(RangeRequest.newBuilder().setKey(pb(key)).build())
            .getCount()
        > 0;
  }

  @Test
  void aMessageTooLargeForEtcdsGrpcServerGetsEtcdsOwnRefusal() {
    for (String key : List.of("/plain/big", "/registry/secrets/ns/big")) {
      PutRequest r = putOfSize(key, GRPC_LIMIT + 1);
      Status fromEtcd = refusal(direct, r);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, fromEtcd.getCode());
      assertEquals(
          "grpc: received message larger than max ("
              + (GRPC_LIMIT + 1)
              + " vs. "
              + GRPC_LIMIT
              + ")",
          fromEtcd.getDescription());
      assertSameStatus(fromEtcd, refusal(via, r));
      assertTrue(!stored(key), key);
    }
    // A method the proxy forwards as bytes, unparsed.
    LockRequest lock =
        LockRequest.newBuilder().setName(ByteString.copyFrom(new byte[GRPC_LIMIT])).build();
    assertSameStatus(
        assertThrows(
                StatusRuntimeException.class, () -> LockGrpc.newBlockingStub(direct).lock(lock))
            .getStatus(),
        assertThrows(StatusRuntimeException.class, () -> LockGrpc.newBlockingStub(via).lock(lock))
            .getStatus());
    // A stream: etcd ends the Watch stream with it.
    WatchRequest watch =
        WatchRequest.newBuilder()
            .setCreateRequest(
                WatchCreateRequest.newBuilder().setKey(ByteString.copyFrom(new byte[GRPC_LIMIT])))
            .build();
    assertSameStatus(
        WatchEnd.of(direct, watch, Duration.ofSeconds(20)),
        WatchEnd.of(via, watch, Duration.ofSeconds(20)));
  }

  @Test
  void aValueThatFitsOnlyAsPlaintextGetsEtcdsRequestTooLarge() {
    // The largest value etcd stores under this key length (its raft entry wraps the request).
    int fits = MAX_REQUEST_BYTES;
    while (true) {
      try {
        KVGrpc.newBlockingStub(direct).put(put("/registry/secrets/ns/a", fits));
        break;
      } catch (StatusRuntimeException tooLarge) {
        assertEquals("etcdserver: request is too large", tooLarge.getStatus().getDescription());
        fits -= 4;
      }
    }
    Status tooLargeForEtcd = refusal(direct, put("/registry/secrets/ns/b", fits + 64));
    assertEquals(Status.Code.INVALID_ARGUMENT, tooLargeForEtcd.getCode());

    // Through the proxy the same value is encrypted (AES-GCM adds 51 bytes here) and no longer
    // fits: etcd's answer.
    assertSameStatus(tooLargeForEtcd, refusal(via, put("/registry/secrets/ns/c", fits)));
    assertTrue(!stored("/registry/secrets/ns/c"));
    // Outside the encrypted resources it fits as it does in etcd.
    KVGrpc.newBlockingStub(via).put(put("/registry/configmaps/c", fits)); // as long a key
    KVGrpc.newBlockingStub(via).put(put("/registry/secrets/ns/d", fits - 64));
    assertTrue(stored("/registry/secrets/ns/d"));
  }

  @Test
  void aMessageThatOutgrowsTheGrpcLimitOnceEncryptedIsRefusedAsEtcdRefusesIt() {
    // Fits etcd's gRPC server as sent, not once encrypted. etcd refuses the plaintext as too large
    // for its log; the
    // proxy refuses it with the same status, without sending it.
    PutRequest r = putOfSize("/registry/secrets/ns/e", GRPC_LIMIT - 10);
    Status fromEtcd = refusal(direct, r);
    assertEquals(Status.Code.INVALID_ARGUMENT, fromEtcd.getCode());
    assertSameStatus(fromEtcd, refusal(via, r));
    assertTrue(!stored("/registry/secrets/ns/e"));
  }

  @Test
  void theDefaultIsEtcds() {
    ProxyOptions defaults =
        ProxyOptions.plaintext(new Endpoint("127.0.0.1", 0), List.of(new Endpoint("e", 1)));
    assertEquals(3 * 512 * 1024, defaults.maxRequestBytes());
    assertEquals(
        2 * 1024 * 1024, RequestLimit.ofEtcd(defaults.maxRequestBytes()).maxMessageBytes());
    // Each message the proxy refuses as etcd would is one the transport read: 16 MiB above the
    // limit at most.
    assertEquals(
        18 * 1024 * 1024,
        ProxyServer.transportLimit(RequestLimit.ofEtcd(defaults.maxRequestBytes())));

    try (EtcdProcess defaultEtcd = EtcdProcess.startSingle();
        ProxyFixture defaultProxy =
            ProxyFixture.start(TestCodecs.secretsUnderAesGcm(), defaultEtcd.endpoint())) {
      withChannels(
          defaultEtcd.endpoint(),
          defaultProxy.endpoint(),
          (d, v) -> {
            PutRequest r = putOfSize("/plain/default", 2 * 1024 * 1024 + 1);
            assertSameStatus(refusal(d, r), refusal(v, r));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, refusal(v, r).getCode());
          });
    }
  }

  private interface Pair {
    void accept(ManagedChannel direct, ManagedChannel via);
  }

  private static void withChannels(String etcdEndpoint, String proxyEndpoint, Pair body) {
    ManagedChannel d = Channels.plaintext(etcdEndpoint);
    ManagedChannel v = Channels.plaintext(proxyEndpoint);
    try {
      body.accept(d, v);
    } finally {
      d.shutdownNow();
      v.shutdownNow();
    }
  }
}
