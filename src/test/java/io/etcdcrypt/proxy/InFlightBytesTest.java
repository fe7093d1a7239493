package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.testing.Await;
import io.etcdcrypt.testing.Channels;
import io.etcdcrypt.testing.EtcdExtension;
import io.etcdcrypt.testing.RealComponents;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code --max-in-flight-bytes} against a real etcd: a client that asks for a 2 MiB answer and does
 * not read it makes the proxy hold it; while it does, another client's large write does not fit and
 * is refused with RESOURCE_EXHAUSTED before anything reaches etcd, small requests still pass, and
 * once the answer is read the same large write goes through.
 */
@RealComponents
@Timeout(120)
class InFlightBytesTest {

  @RegisterExtension static final EtcdExtension etcd = new EtcdExtension();

  private static final int MIB = 1 << 20;

  /** The least the proxy allows with etcd's default request limit: 1.5 MiB + 512 KiB. */
  private static final long CAP = 2L * MIB;

  @Test
  void aLargeRequestThatDoesNotFitIsRefusedAndPassesOnceThereIsRoom() throws Exception {
    ManagedChannel toEtcd = Channels.plaintext(etcd.endpoint());
    KVGrpc.KVBlockingStub direct = KVGrpc.newBlockingStub(toEtcd);
    for (String k : List.of("a", "b")) {
      direct.put(PutRequest.newBuilder().setKey(pb("/big/" + k)).setValue(filled(MIB)).build());
    }
    ProxyOptions options =
        ProxyOptions.plaintext(
                new Endpoint("127.0.0.1", 0), List.of(Endpoint.parse(etcd.endpoint())))
            .withMaxInFlightBytes(CAP);
    try (ProxyServer proxy =
        ProxyServer.start(
            options,
            ValueCodec.IDENTITY,
            ProxyObserver.NONE,
            ValueCodec.StaleListener.NONE,
            Threading.defaults())) {
      String endpoint = "127.0.0.1:" + proxy.port();
      // A reader with a small window that asks for nothing: the 2 MiB answer stays in the proxy.
      ManagedChannel slow =
          NettyChannelBuilder.forTarget(endpoint)
              .usePlaintext()
              .flowControlWindow(64 * 1024)
              .maxInboundMessageSize(16 * MIB)
              .build();
      ManagedChannel other = Channels.plaintext(endpoint);
      try {
        CompletableFuture<Status> slowEnd = new CompletableFuture<>();
        AtomicInteger slowKvs = new AtomicInteger();
        ClientCall<RangeRequest, RangeResponse> slowRange =
            slow.newCall(KVGrpc.getRangeMethod(), CallOptions.DEFAULT);
        slowRange.start(
            new ClientCall.Listener<>() {
              @Override
              public void onMessage(RangeResponse r) {
                slowKvs.set(r.getKvsCount());
              }

              @Override
              public void onClose(Status status, Metadata trailers) {
                slowEnd.complete(status);
              }
            },
            new Metadata());
        slowRange.sendMessage(
            RangeRequest.newBuilder().setKey(pb("/big/")).setRangeEnd(pb("/big0")).build());
        slowRange.halfClose();
        Await.until(
            "the proxy holds the unread answer",
            Duration.ofSeconds(30),
            () -> proxy.inFlightBytes() >= 2 * MIB);

        KVGrpc.KVBlockingStub kv =
            KVGrpc.newBlockingStub(other).withDeadlineAfter(30, TimeUnit.SECONDS);
        PutRequest large =
            PutRequest.newBuilder().setKey(pb("/big/written")).setValue(filled(MIB)).build();
        StatusRuntimeException refused =
            assertThrows(StatusRuntimeException.class, () -> kv.put(large));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
        String why = refused.getStatus().getDescription();
        assertTrue(
            why.startsWith("etcd-crypt-proxy: request refused, not queued: it brings ")
                && why.endsWith(
                    " bytes of requests and responses are in flight (--max-in-flight-bytes "
                        + CAP
                        + "); retry with backoff"),
            why);
        assertEquals(1, proxy.inFlightRefusals());
        assertEquals(
            0,
            direct
                .range(RangeRequest.newBuilder().setKey(pb("/big/written")).build())
                .getKvsCount(),
            "nothing of the refused write reached etcd");

        // Small requests always pass: a write and a read.
        kv.put(PutRequest.newBuilder().setKey(pb("/small")).setValue(pb("v")).build());
        assertEquals(
            pb("v"),
            kv.range(RangeRequest.newBuilder().setKey(pb("/small")).build()).getKvs(0).getValue());

        // The slow reader reads: the proxy lets go of its answer, and the large write fits.
        slowRange.request(1);
        assertEquals(Status.Code.OK, slowEnd.get(30, TimeUnit.SECONDS).getCode());
        assertEquals(2, slowKvs.get());
        Await.until(
            "the proxy holds nothing once the answer is read",
            Duration.ofSeconds(30),
            () -> proxy.inFlightBytes() == 0);
        kv.put(large);
        assertEquals(
            large.getValue(),
            direct
                .range(RangeRequest.newBuilder().setKey(pb("/big/written")).build())
                .getKvs(0)
                .getValue());
        assertEquals(1, proxy.inFlightRefusals());
        Await.until(
            "every byte counted is released",
            Duration.ofSeconds(30),
            () -> proxy.inFlightBytes() == 0);
      } finally {
        slow.shutdownNow();
        other.shutdownNow();
        toEtcd.shutdownNow();
      }
    }
  }

  private static ByteString filled(int bytes) {
    byte[] b = new byte[bytes];
    Arrays.fill(b, (byte) 'x');
    return ByteString.copyFrom(b);
  }
}
