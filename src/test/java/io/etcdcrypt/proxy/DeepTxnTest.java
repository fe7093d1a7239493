package io.etcdcrypt.proxy;

import static io.etcdcrypt.testing.Clients.pb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.testing.EtcdProcess;
import io.etcdcrypt.testing.EtcdRelease;
import io.etcdcrypt.testing.ProxyFixture;
import io.etcdcrypt.testing.RealComponents;
import io.etcdcrypt.testing.TestCodecs;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Txns nested as deep as etcd takes them pass through the proxy, their values sealed at every
 * depth: etcd 3.7 reads messages nested up to 10,000 levels (a Txn nested 4,999 deep, whose answer
 * is one level deeper), etcd 3.4 to 3.6 deeper still. Beyond 3.7's limit the proxy refuses as 3.7
 * does (INTERNAL), and writes nothing. Before, protobuf-java's limit of 100 levels made a Txn
 * nested 49 deep get CANCELLED while etcd applied it, and one nested 50 deep UNKNOWN.
 */
@RealComponents
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class DeepTxnTest {

  /** The deepest Txn etcd 3.7 reads: its innermost Put is message level 2 × 4,999 + 1. */
  private static final int DEEPEST = 4_999;

  private static final String PREFIX = "/registry/secrets/deep/";

  /** The test client reads and writes messages of any depth (its own limit is not under test). */
  private static final MethodDescriptor<TxnRequest, TxnResponse> TXN =
      KVGrpc.getTxnMethod().toBuilder(
              ProtoUtils.marshallerWithRecursionLimit(TxnRequest.getDefaultInstance(), 1 << 20),
              ProtoUtils.marshallerWithRecursionLimit(TxnResponse.getDefaultInstance(), 1 << 20))
          .build();

  static Stream<EtcdRelease> releases() {
    return Stream.of(EtcdRelease.current(), EtcdRelease.V3_7).distinct();
  }

  @ParameterizedTest
  @MethodSource("releases")
  void txnsAsDeepAsEtcdTakesPassSealedAndDeeperOnesWriteNothing(EtcdRelease release)
      throws Exception {
    // Recursing through a message 10,000 levels deep needs more than a default thread stack, on
    // the client as in the proxy: the calls and their answers run on threads with a large one.
    ExecutorService deepStack =
        Executors.newCachedThreadPool(r -> new Thread(null, r, "deep-txn-client", 256L << 20));
    try ( // etcd allows each nested level --max-txn-ops less those of the levels above (default
    // 128, so about 128 levels): raised here to reach the depth its message reader takes.
    EtcdProcess etcd = EtcdProcess.startSingle(release, "--max-txn-ops=20000");
        ProxyFixture proxy = ProxyFixture.start(TestCodecs.secretsUnderAesGcm(), etcd.endpoint())) {
      ManagedChannel direct = channel(etcd.endpoint(), deepStack);
      ManagedChannel via = channel(proxy.endpoint(), deepStack);
      try {
        for (int depth : List.of(1, 49, 50, 51, 1_000, DEEPEST)) {
          TxnResponse fromEtcd = call(deepStack, direct, nested(depth, "direct-" + depth));
          TxnResponse fromProxy = call(deepStack, via, nested(depth, "proxy-" + depth));
          assertEquals(depth, depth(fromEtcd), "etcd's answer to a Txn nested " + depth);
          assertEquals(depth, depth(fromProxy), "the proxy's answer to a Txn nested " + depth);

          RangeResponse stored = read(direct, PREFIX + "proxy-" + depth);
          assertEquals(1, stored.getCount(), "the put nested " + depth + " deep was applied");
          assertTrue(
              stored.getKvs(0).getValue().startsWith(pb("k8s:enc:aesgcm:v1:key1:")),
              "sealed at depth " + depth);
          assertEquals(
              pb("value at " + depth),
              read(via, PREFIX + "proxy-" + depth).getKvs(0).getValue(),
              "read back through the proxy");
        }

        int tooDeep = DEEPEST + 1;
        Status fromProxy = refusal(deepStack, via, nested(tooDeep, "proxy-too-deep"));
        assertEquals(0, read(direct, PREFIX + "proxy-too-deep").getCount(), fromProxy.toString());
        assertEquals(Status.Code.INTERNAL, fromProxy.getCode(), fromProxy.toString());
        if (release.atLeast(EtcdRelease.V3_7)) {
          Status fromEtcd = refusal(deepStack, direct, nested(tooDeep, "direct-too-deep"));
          assertEquals(Status.Code.INTERNAL, fromEtcd.getCode(), fromEtcd.toString());
        }
        // The proxy still serves.
        assertEquals(2, depth(call(deepStack, via, nested(2, "after"))));
      } finally {
        direct.shutdownNow();
        via.shutdownNow();
      }
    } finally {
      deepStack.shutdownNow();
    }
  }

  private static ManagedChannel channel(String endpoint, ExecutorService executor) {
    return NettyChannelBuilder.forTarget(endpoint)
        .usePlaintext()
        .executor(executor)
        .maxInboundMessageSize(16 << 20)
        .build();
  }

  /** A Txn nested {@code depth} deep, whose innermost level puts {@code name}. */
  private static TxnRequest nested(int depth, String name) {
    TxnRequest txn =
        TxnRequest.newBuilder()
            .addSuccess(
                RequestOp.newBuilder()
                    .setRequestPut(
                        PutRequest.newBuilder()
                            .setKey(pb(PREFIX + name))
                            .setValue(ByteString.copyFromUtf8("value at " + depth))))
            .build();
    for (int level = 1; level < depth; level++) {
      txn = TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestTxn(txn)).build();
    }
    return txn;
  }

  /** How deep the answer's Txns nest down to the Put, checking each level succeeded. */
  private static int depth(TxnResponse response) {
    int depth = 1;
    for (TxnResponse r = response; ; depth++) {
      assertTrue(r.getSucceeded(), "level " + depth);
      assertEquals(1, r.getResponsesCount(), "level " + depth);
      if (!r.getResponses(0).hasResponseTxn()) {
        assertTrue(r.getResponses(0).hasResponsePut(), "level " + depth);
        return depth;
      }
      r = r.getResponses(0).getResponseTxn();
    }
  }

  private static TxnResponse call(ExecutorService executor, ManagedChannel ch, TxnRequest txn)
      throws Exception {
    Future<TxnResponse> answer =
        executor.submit(
            () ->
                ClientCalls.blockingUnaryCall(
                    ch, TXN, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), txn));
    return answer.get(90, TimeUnit.SECONDS);
  }

  private static Status refusal(ExecutorService executor, ManagedChannel ch, TxnRequest txn)
      throws Exception {
    try {
      TxnResponse accepted = call(executor, ch, txn);
      throw new AssertionError("accepted, " + depth(accepted) + " deep");
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException refused) {
        return refused.getStatus();
      }
      throw e;
    }
  }

  private static RangeResponse read(ManagedChannel ch, String key) {
    return KVGrpc.newBlockingStub(ch)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .range(RangeRequest.newBuilder().setKey(pb(key)).build());
  }
}
