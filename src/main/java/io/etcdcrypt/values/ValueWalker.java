package io.etcdcrypt.values;

import static io.etcdcrypt.values.Refusals.refuse;
import static io.etcdcrypt.values.Refusals.requireKnownFields;
import static io.etcdcrypt.values.Refusals.requireKnownResponseFields;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.crypto.Stages;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeStreamResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.etcdcrypt.etcd.v3electionpb.CampaignRequest;
import io.etcdcrypt.etcd.v3electionpb.LeaderResponse;
import io.etcdcrypt.etcd.v3electionpb.ProclaimRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The one place that knows where values live in etcd's messages, in both directions, and passes
 * each of them through the {@link ValueCodec} with the etcd key it is stored under: Put and Txn
 * requests (at any depth), Election Campaign and Proclaim; Range, Put, DeleteRange and Txn
 * responses, Watch events ({@code kv} and {@code prev_kv}) and Election Leader/Observe key-values.
 * {@code KV/Range} responses and {@code KV/RangeStream} chunks, the bulk of the traffic
 * (kube-apiserver's get and list), are opened in their wire bytes ({@link WireRangeOpener}); every
 * other shape is walked parsed. A new RPC or field that carries values is one change here.
 *
 * <p>What etcd would decide on stored bytes, the proxy decides on plaintexts: sorts by VALUE
 * ({@link PlaintextOrder}) and Txn compares on VALUE ({@link ValueCompareTxn}) over keys the codec
 * may have encrypted.
 *
 * <p>One rule set ({@link Refusals}): a value that cannot be opened fails the whole message (never
 * ciphertext, never a partial list); a request whose value cannot be sealed is not sent;
 * value-bearing messages with fields or operations this proxy does not know are refused, since they
 * could carry a value past the codec. Messages without a governed value are answered with the same
 * instance, so unprotected traffic costs no rebuild.
 *
 * <p>Every result is a stage: complete when returned, unless a value's transform waits on a KMS
 * plugin, and failed with a {@link StatusException} (the status to answer the client with) when the
 * message is refused.
 */
public final class ValueWalker {

  private final ValueCodec codec;
  private final ValueCodec.StaleListener staleListener;
  private final ValueCodec.StaleListener copyingKeys;

  public ValueWalker(ValueCodec codec, ValueCodec.StaleListener staleListener) {
    this.codec = codec;
    this.staleListener = staleListener;
    // A wire key is a view of a whole response page; a listener may queue it, so it gets a copy of
    // its own.
    this.copyingKeys =
        (key, modRevision) ->
            staleListener.stale(UnsafeByteOperations.unsafeWrap(key.toByteArray()), modRevision);
  }

  private <M> CompletionStage<M> run(ValueTransforms.Walk<M> walk) {
    return ValueTransforms.run(codec, staleListener, walk);
  }

  // ---- values into etcd ----

  public CompletionStage<PutRequest> seal(PutRequest put) {
    return run(values -> seal(values, put));
  }

  public CompletionStage<TxnRequest> seal(TxnRequest txn) {
    return run(values -> seal(values, txn));
  }

  /** A candidate's value, sealed for the key etcd stores it under ({@link #campaignKey}). */
  public CompletionStage<CampaignRequest> seal(CampaignRequest r) {
    return run(
        values -> {
          requireKnownFields(r, "CampaignRequest");
          ByteString sealed = values.seal(campaignKey(r), r.getValue());
          return sealed == r.getValue() ? r : r.toBuilder().setValue(sealed).build();
        });
  }

  /** A leader's new value, sealed for the leader's key. */
  public CompletionStage<ProclaimRequest> seal(ProclaimRequest r) {
    return run(
        values -> {
          requireKnownFields(r, "ProclaimRequest");
          ByteString sealed = values.seal(r.getLeader().getKey(), r.getValue());
          return sealed == r.getValue() ? r : r.toBuilder().setValue(sealed).build();
        });
  }

  /**
   * Whether etcd would store {@code r}'s value under a lease it grants itself, at a key the codec
   * protects: a Campaign without a lease (0) makes etcd's election server grant one, and the
   * value's key names that lease, which the proxy cannot know before it is granted. The proxy then
   * grants the lease itself, as etcd would ({@link #CAMPAIGN_LEASE_TTL_SECONDS}), and campaigns
   * with it.
   */
  public boolean needsOwnLease(CampaignRequest r) {
    // A request the seal refuses (unknown fields) gets no lease granted for it.
    return r.getLease() == 0
        && !Refusals.hasUnknownFields(r)
        && codec.mayProtectRange(campaignKey(r), ByteString.EMPTY);
  }

  /**
   * The TTL of the lease etcd's election server grants a Campaign without one: the default of
   * clientv3's concurrency sessions, which it does not keep alive (the same in 3.4 to 3.7).
   */
  public static final long CAMPAIGN_LEASE_TTL_SECONDS = 60;

  /**
   * etcd stores a candidate's value at {@code <name>/<lease ID in lower-case hex>} (clientv3's
   * concurrency package), so that is the key the value is sealed for.
   */
  static ByteString campaignKey(CampaignRequest r) {
    long lease = r.getLease();
    String hex = lease < 0 ? "-" + Long.toHexString(-lease) : Long.toHexString(lease);
    return r.getName().concat(ByteString.copyFromUtf8("/" + hex));
  }

  private PutRequest seal(ValueSource values, PutRequest put) throws StatusException {
    requireKnownFields(put, "PutRequest");
    if (put.getIgnoreValue()) {
      // ignore_value keeps the stored bytes; etcd rejects a non-empty value with it, so leave it
      // untouched.
      return put;
    }
    ByteString sealed = values.seal(put.getKey(), put.getValue());
    return sealed == put.getValue() ? put : put.toBuilder().setValue(sealed).build();
  }

  private TxnRequest seal(ValueSource values, TxnRequest txn) throws StatusException {
    requireKnownFields(txn, "TxnRequest");
    for (Compare c : txn.getCompareList()) {
      requireKnownFields(c, "Compare");
    }
    TxnRequest.Builder b = null;
    for (int i = 0; i < txn.getSuccessCount(); i++) {
      RequestOp op = txn.getSuccess(i);
      RequestOp sealed = seal(values, op);
      if (sealed != op) {
        (b = builder(b, txn)).setSuccess(i, sealed);
      }
    }
    for (int i = 0; i < txn.getFailureCount(); i++) {
      RequestOp op = txn.getFailure(i);
      RequestOp sealed = seal(values, op);
      if (sealed != op) {
        (b = builder(b, txn)).setFailure(i, sealed);
      }
    }
    return b == null ? txn : b.build();
  }

  private static TxnRequest.Builder builder(TxnRequest.Builder b, TxnRequest txn) {
    return b != null ? b : txn.toBuilder();
  }

  private RequestOp seal(ValueSource values, RequestOp op) throws StatusException {
    requireKnownFields(op, "RequestOp");
    switch (op.getRequestCase()) {
      case REQUEST_PUT:
        PutRequest put = seal(values, op.getRequestPut());
        return put == op.getRequestPut() ? op : RequestOp.newBuilder().setRequestPut(put).build();
      case REQUEST_TXN:
        TxnRequest txn = seal(values, op.getRequestTxn());
        return txn == op.getRequestTxn() ? op : RequestOp.newBuilder().setRequestTxn(txn).build();
      case REQUEST_RANGE:
        RangeRequest range = toUpstream(op.getRequestRange());
        return range == op.getRequestRange()
            ? op
            : RequestOp.newBuilder().setRequestRange(range).build();
      case REQUEST_DELETE_RANGE:
        return op;
      default:
        throw refuse(
            Status.INVALID_ARGUMENT,
            "a Txn operation of a kind this proxy does not know was refused");
    }
  }

  /**
   * The Range to send to etcd for a client's {@code range}: itself, unless it sorts by VALUE over
   * keys the codec may have encrypted, which the proxy sorts itself ({@link PlaintextOrder}).
   */
  public RangeRequest toUpstream(RangeRequest range) {
    return PlaintextOrder.applies(range, codec) ? PlaintextOrder.upstream(range) : range;
  }

  /** {@link #toUpstream(RangeRequest)} for {@code KV/RangeStream}. */
  public RangeRequest toUpstreamStream(RangeRequest range) {
    return PlaintextOrder.applies(range, codec) ? PlaintextOrder.upstreamStream(range) : range;
  }

  /**
   * What etcd's compares on VALUE over encrypted keys need: a decision on the plaintexts, made
   * before the Txn is committed ({@link ValueCompareTxn}); null when etcd can decide {@code sealed}
   * as it is.
   */
  public ValueCompareTxn valueCompares(TxnRequest sealed) {
    return ValueCompareTxn.of(codec, staleListener, sealed);
  }

  // ---- values out of etcd ----

  /**
   * The answer to a client's {@code KV/Range} {@code request}: etcd's response with its values
   * opened in its wire bytes (the same instance when none changed), or, for a sort by VALUE the
   * proxy does itself, parsed and sorted.
   */
  public CompletionStage<WireMessage<RangeResponse>> openRange(
      RangeRequest request, WireMessage<RangeResponse> r) {
    if (PlaintextOrder.applies(request, codec)) {
      return run(
          values -> {
            RangeResponse opened = open(values, parse(r, RangeResponse.parser(), "RangeResponse"));
            return new WireMessage<>(PlaintextOrder.order(request, opened).toByteArray());
          });
    }
    return ValueTransforms.run(codec, copyingKeys, values -> WireRangeOpener.open(r, values));
  }

  /**
   * One chunk of the answer to a client's {@code KV/RangeStream} {@code request}, as {@link
   * #openRange}. A chunk that cannot be opened fails the stream: a client never takes the chunks
   * before it for the whole list.
   */
  public CompletionStage<WireMessage<RangeStreamResponse>> openRangeChunk(
      RangeRequest request, WireMessage<RangeStreamResponse> chunk) {
    if (PlaintextOrder.applies(request, codec)) {
      return run(
          values -> {
            RangeStreamResponse parsed =
                parse(chunk, RangeStreamResponse.parser(), "RangeStreamResponse");
            requireKnownResponseFields(parsed, "RangeStreamResponse");
            RangeResponse opened = open(values, parsed.getRangeResponse());
            return new WireMessage<>(
                RangeStreamResponse.newBuilder()
                    .setRangeResponse(PlaintextOrder.orderChunk(request, opened))
                    .build()
                    .toByteArray());
          });
    }
    return ValueTransforms.run(
        codec, copyingKeys, values -> WireRangeOpener.openChunk(chunk, values));
  }

  private static <M> M parse(WireMessage<?> m, Parser<M> parser, String what)
      throws StatusException {
    try {
      return parser.parseFrom(m.bytes());
    } catch (InvalidProtocolBufferException e) {
      throw Refusals.unreadableResponse(what, e.getMessage());
    }
  }

  public CompletionStage<PutResponse> open(PutResponse r) {
    return applied("Put", run(values -> open(values, r)));
  }

  public CompletionStage<DeleteRangeResponse> open(DeleteRangeResponse r) {
    return applied("DeleteRange", run(values -> open(values, r)));
  }

  /**
   * The answer to a client's Txn {@code request} from etcd's {@code response}: values opened, and
   * the results of Range operations sorted by VALUE over encrypted keys sorted by the plaintexts.
   */
  public CompletionStage<TxnResponse> open(TxnRequest request, TxnResponse response) {
    TxnRequest sorts = hasPlaintextOrders(request) ? request : null;
    CompletionStage<TxnResponse> opened = run(values -> open(values, response, sorts));
    return wrote(response) ? applied("Txn", opened) : opened;
  }

  /** The answer to a write etcd applied: a failure to open it says the write was applied. */
  private static <M> CompletionStage<M> applied(String write, CompletionStage<M> opening) {
    return opening.exceptionallyCompose(
        e -> CompletableFuture.failedFuture(Refusals.afterApplied(write, Stages.cause(e))));
  }

  /** Whether the branch etcd took wrote anything (at any depth). */
  private static boolean wrote(TxnResponse r) {
    for (ResponseOp op : r.getResponsesList()) {
      if (op.hasResponsePut()
          || op.hasResponseDeleteRange()
          || op.hasResponseTxn() && wrote(op.getResponseTxn())) {
        return true;
      }
    }
    return false;
  }

  private boolean hasPlaintextOrders(TxnRequest t) {
    for (List<RequestOp> ops : List.of(t.getSuccessList(), t.getFailureList())) {
      for (RequestOp op : ops) {
        if (op.hasRequestRange() && PlaintextOrder.applies(op.getRequestRange(), codec)
            || op.hasRequestTxn() && hasPlaintextOrders(op.getRequestTxn())) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * A Watch response with its events' values opened: {@code kv} and {@code prev_kv}, the latter
   * with the event's key (it is the previous value of that same key).
   */
  public CompletionStage<WatchResponse> open(WatchResponse r) {
    return run(
        values -> {
          requireKnownResponseFields(r, "WatchResponse");
          WatchResponse.Builder b = null;
          for (int i = 0; i < r.getEventsCount(); i++) {
            Event e = r.getEvents(i);
            Event opened = open(values, e);
            if (opened != e) {
              if (b == null) {
                b = r.toBuilder();
              }
              b.setEvents(i, opened);
            }
          }
          return b == null ? r : b.build();
        });
  }

  /** An Election Leader or Observe answer with the leader's key-value opened. */
  public CompletionStage<LeaderResponse> open(LeaderResponse r) {
    return run(
        values -> {
          requireKnownResponseFields(r, "LeaderResponse");
          if (!r.hasKv()) {
            return r;
          }
          KeyValue kv = open(values, r.getKv());
          return kv == r.getKv() ? r : r.toBuilder().setKv(kv).build();
        });
  }

  private RangeResponse open(ValueSource values, RangeResponse r) throws StatusException {
    requireKnownResponseFields(r, "RangeResponse");
    List<KeyValue> kvs = r.getKvsList();
    RangeResponse.Builder b = null;
    for (int i = 0; i < kvs.size(); i++) {
      KeyValue kv = kvs.get(i);
      KeyValue opened = open(values, kv);
      if (opened != kv) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setKvs(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  private PutResponse open(ValueSource values, PutResponse r) throws StatusException {
    requireKnownResponseFields(r, "PutResponse");
    if (!r.hasPrevKv()) {
      return r;
    }
    KeyValue prev = open(values, r.getPrevKv());
    return prev == r.getPrevKv() ? r : r.toBuilder().setPrevKv(prev).build();
  }

  private DeleteRangeResponse open(ValueSource values, DeleteRangeResponse r)
      throws StatusException {
    requireKnownResponseFields(r, "DeleteRangeResponse");
    DeleteRangeResponse.Builder b = null;
    for (int i = 0; i < r.getPrevKvsCount(); i++) {
      KeyValue kv = r.getPrevKvs(i);
      KeyValue opened = open(values, kv);
      if (opened != kv) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setPrevKvs(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  /**
   * {@code r} opened; {@code request}, when not null, is the client's Txn, whose Range operations
   * sorted by VALUE over encrypted keys get their results sorted (etcd answers the operations of
   * the branch it took, in order).
   */
  private TxnResponse open(ValueSource values, TxnResponse r, TxnRequest request)
      throws StatusException {
    requireKnownResponseFields(r, "TxnResponse");
    List<RequestOp> ops =
        request == null
            ? null
            : r.getSucceeded() ? request.getSuccessList() : request.getFailureList();
    if (ops != null && ops.size() != r.getResponsesCount()) {
      throw refuse(
          Status.INTERNAL,
          "etcd answered a Txn with a result per operation that does not match it");
    }
    TxnResponse.Builder b = null;
    for (int i = 0; i < r.getResponsesCount(); i++) {
      ResponseOp op = r.getResponses(i);
      ResponseOp opened = open(values, op, ops == null ? null : ops.get(i));
      if (opened != op) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setResponses(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  private ResponseOp open(ValueSource values, ResponseOp op, RequestOp request)
      throws StatusException {
    requireKnownResponseFields(op, "ResponseOp");
    switch (op.getResponseCase()) {
      case RESPONSE_RANGE:
        RangeResponse range = open(values, op.getResponseRange());
        if (request != null
            && request.hasRequestRange()
            && PlaintextOrder.applies(request.getRequestRange(), codec)) {
          range = PlaintextOrder.order(request.getRequestRange(), range);
        }
        return range == op.getResponseRange()
            ? op
            : ResponseOp.newBuilder().setResponseRange(range).build();
      case RESPONSE_PUT:
        PutResponse put = open(values, op.getResponsePut());
        return put == op.getResponsePut()
            ? op
            : ResponseOp.newBuilder().setResponsePut(put).build();
      case RESPONSE_DELETE_RANGE:
        DeleteRangeResponse del = open(values, op.getResponseDeleteRange());
        return del == op.getResponseDeleteRange()
            ? op
            : ResponseOp.newBuilder().setResponseDeleteRange(del).build();
      case RESPONSE_TXN:
        TxnRequest nested =
            request != null && request.hasRequestTxn() ? request.getRequestTxn() : null;
        TxnResponse txn = open(values, op.getResponseTxn(), nested);
        return txn == op.getResponseTxn()
            ? op
            : ResponseOp.newBuilder().setResponseTxn(txn).build();
      default:
        throw refuse(
            Status.INTERNAL, "etcd returned a Txn result of a kind this proxy does not know");
    }
  }

  private Event open(ValueSource values, Event e) throws StatusException {
    requireKnownResponseFields(e, "Event");
    KeyValue kv = e.hasKv() ? open(values, e.getKv()) : e.getKv();
    // prev_kv is opened with the event's key: it is the previous value of that same key. It is
    // history, so it is
    // never offered for rewriting.
    KeyValue prev =
        e.hasPrevKv() ? open(values, e.getPrevKv(), e.getKv().getKey(), false) : e.getPrevKv();
    if (kv == e.getKv() && prev == e.getPrevKv()) {
      return e;
    }
    Event.Builder b = e.toBuilder();
    if (e.hasKv()) {
      b.setKv(kv);
    }
    if (e.hasPrevKv()) {
      b.setPrevKv(prev);
    }
    return b.build();
  }

  /** Opens a key's current value (Range, Watch, Election), reporting it if stale. */
  private KeyValue open(ValueSource values, KeyValue kv) throws StatusException {
    return open(values, kv, kv.getKey(), true);
  }

  private KeyValue open(ValueSource values, KeyValue kv, ByteString key, boolean current)
      throws StatusException {
    requireKnownResponseFields(kv, "KeyValue");
    // Empty values (keys_only ranges, delete events, lock keys) carry nothing to open.
    if (kv.getValue().isEmpty()) {
      return kv;
    }
    ByteString opened = values.open(key, kv.getValue(), kv.getModRevision(), current);
    return opened == kv.getValue() ? kv : kv.toBuilder().setValue(opened).build();
  }
}
