package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.values.RangeResponseBytes;
import io.etcdcrypt.values.ValueWalker;
import io.grpc.MethodDescriptor;
import io.grpc.StatusException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** {@code etcdserverpb.KV}: values are sealed in Put and Txn requests and opened in every response. */
final class KvProxy {

  /**
   * {@code KV/Range} with the response kept as its wire bytes, on both sides of the relay: etcd's reply arrives
   * as {@link RangeResponseBytes}, its values are opened in place, and it leaves as bytes. The request is parsed
   * (the VALUE-sort check reads it).
   */
  static final MethodDescriptor<RangeRequest, RangeResponseBytes> RANGE =
      KVGrpc.getRangeMethod()
          .toBuilder(KVGrpc.getRangeMethod().getRequestMarshaller(), RangeResponseBytes.MARSHALLER)
          .build();

  private KvProxy() {}

  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker) {
    return List.of(
        rewriting(RANGE, (RangeRequest r) -> {
          try {
            walker.check(r);
            return CompletableFuture.completedFuture(r);
          } catch (StatusException e) {
            return CompletableFuture.failedFuture(e);
          }
        }, walker::open),
        rewriting(KVGrpc.getPutMethod(), walker::seal, walker::open),
        rewriting(KVGrpc.getDeleteRangeMethod(), ProxiedMethod.Rewrite.none(), walker::open),
        rewriting(KVGrpc.getTxnMethod(), walker::seal, walker::open),
        // Compact carries no value.
        ProxiedMethod.raw(KVGrpc.getCompactMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }
}
