package io.etcdcrypt.proxy;

import com.google.protobuf.ByteString;
import com.google.protobuf.GeneratedMessageV3;
import com.google.protobuf.UnsafeByteOperations;
import io.etcdcrypt.crypto.TransformException;
import io.etcdcrypt.crypto.ValueCodec;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.List;

/**
 * Walks every etcd message shape that carries a value and passes each value through the {@link ValueCodec},
 * keyed by the etcd key it is stored under. This is the only place that knows where values live in etcd's
 * messages; Txn is walked recursively here and nowhere else. One shape is read at the byte level: {@code KV/Range}
 * responses, the bulk of the traffic (kube-apiserver's get and list), are opened in their wire bytes by
 * {@link WireRangeOpener} on this class's behalf ({@link #open(RangeResponseBytes)}), under the same rules and
 * with the same errors; Range results inside a Txn take the parsed path.
 *
 * <p>Messages without a protected value are returned as the same instance, so unprotected traffic costs no
 * rebuild. Fail-closed rules: a value that cannot be opened fails the whole response (never ciphertext, never a
 * partial list); a request whose value cannot be sealed is not sent; value-bearing messages with fields or
 * operations this proxy does not know are refused, since they could carry a value past the codec.
 */
final class ValueWalker {

  private static final String PREFIX = "etcd-crypt-proxy: ";

  private final ValueCodec codec;
  private final ValueCodec.StaleListener staleListener;
  private final WireRangeOpener.ValueOpener wireValueOpener;

  ValueWalker(ValueCodec codec, ValueCodec.StaleListener staleListener) {
    this.codec = codec;
    this.staleListener = staleListener;
    // A wire key is a view of a whole response page; a listener may queue it, so it gets a copy of its own.
    ValueCodec.StaleListener copyingKeys =
        (key, modRevision) -> staleListener.stale(UnsafeByteOperations.unsafeWrap(key.toByteArray()), modRevision);
    this.wireValueOpener = (key, value, modRevision) -> openValue(key, value, modRevision, copyingKeys);
  }

  // ---- values into etcd ----

  PutRequest seal(PutRequest put) throws StatusException {
    requireKnownFields(put, "PutRequest");
    if (put.getIgnoreValue()) {
      // ignore_value keeps the stored bytes; etcd rejects a non-empty value with it, so leave it untouched.
      return put;
    }
    ByteString sealed = sealValue(put.getKey(), put.getValue());
    return sealed == put.getValue() ? put : put.toBuilder().setValue(sealed).build();
  }

  /** Checks a request message that carries a value the caller seals itself (Election). */
  void checkRequest(GeneratedMessageV3 request, String what) throws StatusException {
    requireKnownFields(request, what);
  }

  TxnRequest seal(TxnRequest txn) throws StatusException {
    requireKnownFields(txn, "TxnRequest");
    for (Compare c : txn.getCompareList()) {
      check(c);
    }
    TxnRequest.Builder b = null;
    for (int i = 0; i < txn.getSuccessCount(); i++) {
      RequestOp op = txn.getSuccess(i);
      RequestOp sealed = seal(op);
      if (sealed != op) {
        (b = builder(b, txn)).setSuccess(i, sealed);
      }
    }
    for (int i = 0; i < txn.getFailureCount(); i++) {
      RequestOp op = txn.getFailure(i);
      RequestOp sealed = seal(op);
      if (sealed != op) {
        (b = builder(b, txn)).setFailure(i, sealed);
      }
    }
    return b == null ? txn : b.build();
  }

  private static TxnRequest.Builder builder(TxnRequest.Builder b, TxnRequest txn) {
    return b != null ? b : txn.toBuilder();
  }

  private RequestOp seal(RequestOp op) throws StatusException {
    requireKnownFields(op, "RequestOp");
    switch (op.getRequestCase()) {
      case REQUEST_PUT:
        PutRequest put = seal(op.getRequestPut());
        return put == op.getRequestPut() ? op : RequestOp.newBuilder().setRequestPut(put).build();
      case REQUEST_TXN:
        TxnRequest txn = seal(op.getRequestTxn());
        return txn == op.getRequestTxn() ? op : RequestOp.newBuilder().setRequestTxn(txn).build();
      case REQUEST_RANGE:
        check(op.getRequestRange());
        return op;
      case REQUEST_DELETE_RANGE:
        return op;
      default:
        throw refuse(Status.INVALID_ARGUMENT, "a Txn operation of a kind this proxy does not know was refused");
    }
  }

  /** Refuses a Range whose result would be ordered by stored ciphertext. */
  void check(RangeRequest range) throws StatusException {
    if (range.getSortTarget() == RangeRequest.SortTarget.VALUE
        && range.getSortOrder() != RangeRequest.SortOrder.NONE
        && codec.mayProtectRange(range.getKey(), range.getRangeEnd())) {
      throw refuse(
          Status.FAILED_PRECONDITION,
          "sorting by VALUE is not supported on encrypted keys (range starting at " + printable(range.getKey())
              + "): etcd would order the ciphertexts, not the values; sort by KEY, VERSION, CREATE or MOD instead");
    }
  }

  private void check(Compare c) throws StatusException {
    requireKnownFields(c, "Compare");
    if (c.getTarget() == Compare.CompareTarget.VALUE && codec.mayProtectRange(c.getKey(), c.getRangeEnd())) {
      throw refuse(
          Status.FAILED_PRECONDITION,
          "a Txn compare on VALUE is not supported for encrypted key " + printable(c.getKey())
              + ": etcd would compare ciphertexts, which differ for equal values; compare MOD or VERSION instead");
    }
  }

  /** The bytes to store; the same instance when the key is not governed by the configuration. */
  ByteString sealValue(ByteString key, ByteString value) throws StatusException {
    try {
      return codec.toStorage(key, value);
    } catch (TransformException e) {
      throw refuse(
          Status.INTERNAL,
          "cannot encrypt the value for key " + printable(key) + ", nothing was written: " + e.getMessage());
    }
  }

  // ---- values out of etcd ----

  /** A {@code KV/Range} response with its values opened in place; the same instance when none changed. */
  RangeResponseBytes open(RangeResponseBytes r) throws StatusException {
    return WireRangeOpener.open(r, wireValueOpener);
  }

  RangeResponse open(RangeResponse r) throws StatusException {
    requireKnownResponseFields(r, "RangeResponse");
    List<KeyValue> kvs = r.getKvsList();
    RangeResponse.Builder b = null;
    for (int i = 0; i < kvs.size(); i++) {
      KeyValue kv = kvs.get(i);
      KeyValue opened = open(kv);
      if (opened != kv) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setKvs(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  PutResponse open(PutResponse r) throws StatusException {
    requireKnownResponseFields(r, "PutResponse");
    if (!r.hasPrevKv()) {
      return r;
    }
    KeyValue prev = open(r.getPrevKv());
    return prev == r.getPrevKv() ? r : r.toBuilder().setPrevKv(prev).build();
  }

  DeleteRangeResponse open(DeleteRangeResponse r) throws StatusException {
    requireKnownResponseFields(r, "DeleteRangeResponse");
    DeleteRangeResponse.Builder b = null;
    for (int i = 0; i < r.getPrevKvsCount(); i++) {
      KeyValue kv = r.getPrevKvs(i);
      KeyValue opened = open(kv);
      if (opened != kv) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setPrevKvs(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  TxnResponse open(TxnResponse r) throws StatusException {
    requireKnownResponseFields(r, "TxnResponse");
    TxnResponse.Builder b = null;
    for (int i = 0; i < r.getResponsesCount(); i++) {
      ResponseOp op = r.getResponses(i);
      ResponseOp opened = open(op);
      if (opened != op) {
        if (b == null) {
          b = r.toBuilder();
        }
        b.setResponses(i, opened);
      }
    }
    return b == null ? r : b.build();
  }

  private ResponseOp open(ResponseOp op) throws StatusException {
    requireKnownResponseFields(op, "ResponseOp");
    switch (op.getResponseCase()) {
      case RESPONSE_RANGE:
        RangeResponse range = open(op.getResponseRange());
        return range == op.getResponseRange() ? op : ResponseOp.newBuilder().setResponseRange(range).build();
      case RESPONSE_PUT:
        PutResponse put = open(op.getResponsePut());
        return put == op.getResponsePut() ? op : ResponseOp.newBuilder().setResponsePut(put).build();
      case RESPONSE_DELETE_RANGE:
        DeleteRangeResponse del = open(op.getResponseDeleteRange());
        return del == op.getResponseDeleteRange()
            ? op
            : ResponseOp.newBuilder().setResponseDeleteRange(del).build();
      case RESPONSE_TXN:
        TxnResponse txn = open(op.getResponseTxn());
        return txn == op.getResponseTxn() ? op : ResponseOp.newBuilder().setResponseTxn(txn).build();
      default:
        throw refuse(Status.INTERNAL, "etcd returned a Txn result of a kind this proxy does not know");
    }
  }

  Event open(Event e) throws StatusException {
    requireKnownResponseFields(e, "Event");
    KeyValue kv = e.hasKv() ? open(e.getKv()) : e.getKv();
    // prev_kv is opened with the event's key: it is the previous value of that same key. It is history, so
    // it is never offered for rewriting.
    KeyValue prev = e.hasPrevKv() ? open(e.getPrevKv(), e.getKv().getKey(), false) : e.getPrevKv();
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
  KeyValue open(KeyValue kv) throws StatusException {
    return open(kv, kv.getKey(), true);
  }

  private KeyValue open(KeyValue kv, ByteString key, boolean current) throws StatusException {
    requireKnownResponseFields(kv, "KeyValue");
    // Empty values (keys_only ranges, delete events, lock keys) carry nothing to open.
    if (kv.getValue().isEmpty()) {
      return kv;
    }
    ByteString opened =
        openValue(key, kv.getValue(), kv.getModRevision(), current ? staleListener : ValueCodec.StaleListener.NONE);
    return opened == kv.getValue() ? kv : kv.toBuilder().setValue(opened).build();
  }

  /** The plaintext of a stored value; the same instance when the key is not governed by the configuration. */
  private ByteString openValue(
      ByteString key, ByteString value, long modRevision, ValueCodec.StaleListener listener)
      throws StatusException {
    try {
      return codec.fromStorage(key, value, modRevision, listener);
    } catch (TransformException e) {
      throw refuse(Status.INTERNAL, "cannot decrypt the value of key " + printable(key) + ": " + e.getMessage());
    }
  }

  // ---- helpers ----

  /** Refuses a request message with fields this proxy cannot see into. */
  private static void requireKnownFields(GeneratedMessageV3 request, String what) throws StatusException {
    if (hasUnknownFields(request)) {
      throw refuse(
          Status.INVALID_ARGUMENT,
          what + " carries fields this proxy does not know (a newer etcd client?); refused so that no value can "
              + "bypass encryption. Upgrade etcd-crypt-proxy.");
    }
  }

  /** Fails a response message from etcd with fields this proxy cannot see into. */
  private static void requireKnownResponseFields(GeneratedMessageV3 response, String what)
      throws StatusException {
    if (hasUnknownFields(response)) {
      throw unknownResponseFields(what);
    }
  }

  /** The failure of a response message from etcd ({@code what}, e.g. "KeyValue") with unknown fields. */
  static StatusException unknownResponseFields(String what) {
    return refuse(
        Status.INTERNAL,
        "etcd returned a " + what + " with fields this proxy does not know (a newer etcd?); refused so that no "
            + "ciphertext can reach the client. Upgrade etcd-crypt-proxy.");
  }

  /** The failure of a response message from etcd that is not valid protobuf of its type. */
  static StatusException unreadableResponse(String what, String why) {
    return refuse(
        Status.INTERNAL,
        "etcd returned a " + what + " this proxy cannot read (" + why + "); it was not forwarded");
  }

  /**
   * Whether {@code m} carries fields this proxy's protos do not define. Every unknown field has a tag, so a set
   * that serializes to no bytes is empty; {@code asMap()} would clone a TreeMap per message (per KeyValue of a list).
   */
  private static boolean hasUnknownFields(GeneratedMessageV3 m) {
    return m.getUnknownFields().getSerializedSize() != 0;
  }

  static StatusException refuse(Status status, String message) {
    return status.withDescription(PREFIX + message).asException();
  }

  /** The key as text for error messages; keys are names, never secrets. */
  static String printable(ByteString key) {
    return '"' + key.toStringUtf8() + '"';
  }
}
