package io.etcdcrypt.values;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import java.util.Optional;

/**
 * The one write census-driven tools make: {@code Txn(If MOD(key) == the revision read, Then
 * Put(key, value), Else Range(key))}. A concurrent update is never overwritten (the compare fails),
 * and the else branch returns the value that won, so the caller can decide again without another
 * round trip. The Put keeps the key's lease ({@code ignore_lease}), as a rewrite must not change
 * anything but the bytes at rest.
 */
public final class GuardedPut {

  private GuardedPut() {}

  public static TxnRequest txn(ByteString key, long modRevision, ByteString value) {
    return TxnRequest.newBuilder()
        .addCompare(
            Compare.newBuilder()
                .setKey(key)
                .setTarget(Compare.CompareTarget.MOD)
                .setResult(Compare.CompareResult.EQUAL)
                .setModRevision(modRevision))
        .addSuccess(
            RequestOp.newBuilder()
                .setRequestPut(
                    PutRequest.newBuilder().setKey(key).setValue(value).setIgnoreLease(true)))
        .addFailure(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(key)))
        .build();
  }

  /** After a failed compare: the key's current key-value, or empty if it was deleted meanwhile. */
  public static Optional<KeyValue> current(TxnResponse failed) {
    if (failed.getResponsesCount() == 0) {
      return Optional.empty();
    }
    var range = failed.getResponses(0).getResponseRange();
    return range.getKvsCount() == 0 ? Optional.empty() : Optional.of(range.getKvs(0));
  }
}
