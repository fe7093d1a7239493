package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.values.WireMessage;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.MethodDescriptor;
import io.grpc.StatusException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** {@code etcdserverpb.KV}: values are sealed in Put and Txn requests and opened in every response. */
final class KvProxy {

  /**
   * {@code KV/Range} with the response kept as its wire bytes, on both sides of the relay: etcd's reply arrives as a
   * {@link WireMessage}, its values are opened in place, and it leaves as bytes. The request is parsed (the
   * VALUE-sort check reads it).
   */
  static final MethodDescriptor<RangeRequest, WireMessage<RangeResponse>> RANGE =
      KVGrpc.getRangeMethod()
          .toBuilder(KVGrpc.getRangeMethod().getRequestMarshaller(), WireMessage.<RangeResponse>marshaller())
          .build();

  /**
   * {@code KV/RangeStream} (etcd 3.7), chunk by chunk in wire bytes like Range. Against an older etcd the call ends
   * with etcd's own UNIMPLEMENTED, which clients (kube-apiserver 1.37 included) answer by falling back to Range.
   */
  static final MethodDescriptor<RangeRequest, WireMessage<RangeStreamResponse>> RANGE_STREAM =
      KVGrpc.getRangeStreamMethod()
          .toBuilder(KVGrpc.getRangeStreamMethod().getRequestMarshaller(),
              WireMessage.<RangeStreamResponse>marshaller())
          .build();

  private KvProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    ProxiedMethod.Rewrite<RangeRequest> checkSort = r -> {
      try {
        walker.check(r);
        return CompletableFuture.completedFuture(r);
      } catch (StatusException e) {
        return CompletableFuture.failedFuture(e);
      }
    };
    return List.of(
        rewriting(RANGE, checkSort, walker::openRange),
        rewriting(RANGE_STREAM, checkSort, walker::openRangeChunk),
        rewriting(KVGrpc.getPutMethod(), walker::seal, walker::open),
        rewriting(KVGrpc.getDeleteRangeMethod(), ProxiedMethod.Rewrite.none(), walker::open),
        rewriting(KVGrpc.getTxnMethod(), walker::seal, walker::open),
        // Compact carries no value.
        ProxiedMethod.raw(KVGrpc.getCompactMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }
}
