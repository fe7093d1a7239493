package io.etcdcrypt.proxy;

import static io.etcdcrypt.proxy.ProxiedMethod.rewriting;

import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.values.ValueCompareTxn;
import io.etcdcrypt.values.ValueWalker;
import io.etcdcrypt.values.WireMessage;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * {@code etcdserverpb.KV}: values are sealed in Put and Txn requests and opened in every response.
 */
final class KvProxy {

  /**
   * {@code KV/Range} with the response kept as its wire bytes, on both sides of the relay: etcd's
   * reply arrives as a {@link WireMessage}, its values are opened in place, and it leaves as bytes.
   * The request is parsed (a sort by VALUE over encrypted keys is the proxy's to do).
   */
  static final MethodDescriptor<RangeRequest, WireMessage<RangeResponse>> RANGE =
      KVGrpc.getRangeMethod().toBuilder(
              KVGrpc.getRangeMethod().getRequestMarshaller(),
              WireMessage.<RangeResponse>marshaller())
          .build();

  /**
   * {@code KV/RangeStream} (etcd 3.7), chunk by chunk in wire bytes like Range. Against an older
   * etcd the call ends with etcd's own UNIMPLEMENTED, which clients (kube-apiserver 1.37 included)
   * answer by falling back to Range.
   */
  static final MethodDescriptor<RangeRequest, WireMessage<RangeStreamResponse>> RANGE_STREAM =
      KVGrpc.getRangeStreamMethod().toBuilder(
              KVGrpc.getRangeStreamMethod().getRequestMarshaller(),
              WireMessage.<RangeStreamResponse>marshaller())
          .build();

  /**
   * How deep a message may nest, as etcd 3.7's protobuf runtime counts it (Go's default limit of
   * 10,000 levels, the outermost message included); protobuf-java counts the levels below the
   * outermost one, and stops at 100 unless told. Only Txn nests without bound: each level of a
   * nested Txn is two messages (TxnRequest, RequestOp), so etcd 3.7 takes Txns nested about 5,000
   * deep, and etcd 3.4 to 3.6 deeper still. With protobuf-java's 100, a Txn nested 49 deep was
   * applied by etcd while its answer could not be read back.
   */
  static final int RECURSION_LIMIT = 10_000 - 1;

  /** {@code KV/Txn}, read at etcd's nesting depth on both sides of the relay. */
  static final MethodDescriptor<TxnRequest, TxnResponse> TXN =
      KVGrpc.getTxnMethod().toBuilder(
              ProtoUtils.marshallerWithRecursionLimit(
                  TxnRequest.getDefaultInstance(), RECURSION_LIMIT),
              ProtoUtils.marshallerWithRecursionLimit(
                  TxnResponse.getDefaultInstance(), RECURSION_LIMIT))
          .build();

  private KvProxy() {}

  /**
   * The methods of {@code etcdserverpb.KV}; lists wait in {@code lists} for their answers' room.
   */
  static List<ProxiedMethod<?, ?>> methods(ValueWalker walker, ListRoom lists) {
    return List.of(
        new ProxiedMethod<>(
            RANGE, side -> new RangeCall<>(walker::toUpstream, walker::openRange, lists)),
        // A RangeStream answer comes in chunks of bounded size: nothing to wait for.
        new ProxiedMethod<>(
            RANGE_STREAM,
            side -> new RangeCall<>(walker::toUpstreamStream, walker::openRangeChunk, null)),
        rewriting(KVGrpc.getPutMethod(), walker::seal, walker::open),
        rewriting(KVGrpc.getDeleteRangeMethod(), ProxiedMethod.Rewrite.none(), walker::open),
        new ProxiedMethod<>(TXN, side -> new TxnCall(walker, side)),
        // Compact carries no value.
        ProxiedMethod.raw(
            KVGrpc.getCompactMethod().getFullMethodName(), MethodDescriptor.MethodType.UNARY));
  }

  /** How a Range or RangeStream answer is opened: it needs the request the client sent. */
  @FunctionalInterface
  interface RangeOpener<RespT> {
    CompletionStage<RespT> open(RangeRequest request, RespT response);
  }

  /**
   * One Range or RangeStream call: the client's request, as it sent it, decides how etcd's answers
   * are opened (a sort by VALUE over encrypted keys goes to etcd in key order and is sorted here).
   * A list goes to etcd once its answer has room ({@link ListRoom}).
   */
  private static final class RangeCall<RespT> implements CallTransformer<RangeRequest, RespT> {
    private final UnaryOperator<RangeRequest> toUpstream;
    private final RangeOpener<RespT> opener;
    private final ListRoom lists; // null: nothing waits
    // Written by the request's transform, read by the responses' (other threads, after etcd
    // answered) and at the call's end.
    private volatile RangeRequest request;
    private volatile ListRoom.Ticket ticket;
    private volatile long answerBytes;

    RangeCall(UnaryOperator<RangeRequest> toUpstream, RangeOpener<RespT> opener, ListRoom lists) {
      this.toUpstream = toUpstream;
      this.opener = opener;
      this.lists = lists;
    }

    @Override
    public CompletionStage<RangeRequest> toUpstream(RangeRequest request) {
      this.request = request;
      if (lists == null || !ListRoom.isList(request)) {
        return CompletableFuture.completedFuture(toUpstream.apply(request));
      }
      ListRoom.Ticket entered = lists.enter();
      ticket = entered;
      CompletableFuture<Void> admitted = entered.admitted();
      return admitted.isDone() && !admitted.isCompletedExceptionally()
          ? CompletableFuture.completedFuture(toUpstream.apply(request))
          : admitted.thenApply(go -> toUpstream.apply(request));
    }

    @Override
    public CompletionStage<RespT> toDownstream(RespT response, Consumer<RangeRequest> upstream) {
      answerBytes += Math.max(0, RequestLimit.sizeOf(response));
      return opener.open(request, response);
    }

    @Override
    public void onCallEnd() {
      ListRoom.Ticket entered = ticket;
      if (entered != null) {
        lists.leave(entered, answerBytes);
      }
    }
  }

  /**
   * One Txn call. Values are sealed; a Txn whose compares on VALUE cover encrypted keys is decided
   * by the proxy: the relayed call carries the read of the compared keys, and the commit (and any
   * retry after a lost race) goes to etcd as side calls ({@link ValueCompareTxn}).
   */
  private static final class TxnCall implements CallTransformer<TxnRequest, TxnResponse> {
    private final ValueWalker walker;
    private final SideCalls side;
    // Written by the request's transform, read by the response's (another thread, after etcd
    // answered).
    private volatile TxnRequest request;
    private volatile ValueCompareTxn decided;

    TxnCall(ValueWalker walker, SideCalls side) {
      this.walker = walker;
      this.side = side;
    }

    @Override
    public CompletionStage<TxnRequest> toUpstream(TxnRequest request) {
      this.request = request;
      return walker
          .seal(request)
          .thenApply(
              upstream -> {
                decided = walker.valueCompares(upstream);
                return decided == null ? upstream : decided.readRequest();
              });
    }

    @Override
    public CompletionStage<TxnResponse> toDownstream(
        TxnResponse response, Consumer<TxnRequest> upstream) {
      if (decided == null) {
        return walker.open(request, response);
      }
      return decided
          .commit(response, txn -> side.unary(TXN, txn))
          .thenCompose(txn -> walker.open(request, txn));
    }
  }
}
