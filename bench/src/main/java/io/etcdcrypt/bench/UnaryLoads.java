package io.etcdcrypt.bench;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.grpc.stub.StreamObserver;

/** The unary loads, each shaped like the request kube-apiserver sends for it. */
final class UnaryLoads {

  private UnaryLoads() {}

  static ClosedLoop<?> forScenario(Target t, Scenario s, ByteString value) {
    return switch (s.op()) {
      case CREATE -> new Create(t, s.valueBytes(), value);
      case UPDATE -> new Update(t, t.pool(s.valueBytes()), value);
      case GET -> new Get(t, t.pool(s.valueBytes()));
      case LIST -> new ListPages(t, t.listPrefix(s.valueBytes()));
      case WATCH -> throw new IllegalArgumentException("watch is not a unary load");
    };
  }

  /** kube-apiserver's create: Txn(MOD(key) == 0) then Put. */
  static final class Create extends ClosedLoop<TxnResponse> {
    private final Target target;
    private final int valueBytes;
    private final ByteString value;

    Create(Target target, int valueBytes, ByteString value) {
      this.target = target;
      this.valueBytes = valueBytes;
      this.value = value;
    }

    @Override
    void send(int slot, StreamObserver<TxnResponse> observer) {
      ByteString key;
      synchronized (target) {
        key = target.createKey(valueBytes);
      }
      TxnRequest txn =
          TxnRequest.newBuilder()
              .addCompare(
                  Compare.newBuilder()
                      .setTarget(Compare.CompareTarget.MOD)
                      .setResult(Compare.CompareResult.EQUAL)
                      .setKey(key)
                      .setModRevision(0))
              .addSuccess(
                  RequestOp.newBuilder()
                      .setRequestPut(PutRequest.newBuilder().setKey(key).setValue(value)))
              .build();
      target.conn.kv(slot).txn(txn, observer);
    }

    @Override
    boolean accept(int slot, TxnResponse response) {
      return response.getSucceeded();
    }
  }

  /** kube-apiserver's GuaranteedUpdate: Txn(MOD(key) == rev) then Put, else Range(key). */
  static final class Update extends ClosedLoop<TxnResponse> {
    private final Target target;
    private final Target.KeyPool pool;
    private final ByteString value;
    private int inFlight;
    private int[] cursor;
    private int[] current;

    Update(Target target, Target.KeyPool pool, ByteString value) {
      this.target = target;
      this.pool = pool;
      this.value = value;
    }

    @Override
    void beforeSlice(int n) {
      inFlight = n;
      cursor = new int[n];
      current = new int[n];
    }

    @Override
    void send(int slot, StreamObserver<TxnResponse> observer) {
      int k = nextKey(slot, inFlight, cursor);
      current[slot] = k;
      ByteString key = pool.keys[k];
      TxnRequest txn =
          TxnRequest.newBuilder()
              .addCompare(
                  Compare.newBuilder()
                      .setTarget(Compare.CompareTarget.MOD)
                      .setResult(Compare.CompareResult.EQUAL)
                      .setKey(key)
                      .setModRevision(pool.modRevision[k]))
              .addSuccess(
                  RequestOp.newBuilder()
                      .setRequestPut(PutRequest.newBuilder().setKey(key).setValue(value)))
              .addFailure(
                  RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(key)))
              .build();
      target.conn.kv(slot).txn(txn, observer);
    }

    @Override
    boolean accept(int slot, TxnResponse response) {
      int k = current[slot];
      if (response.getSucceeded()) {
        pool.modRevision[k] = response.getHeader().getRevision();
        return true;
      }
      // Someone else wrote it (never, by construction): take the current revision, as
      // kube-apiserver retries.
      RangeResponse r = response.getResponses(0).getResponseRange();
      pool.modRevision[k] = r.getKvsCount() > 0 ? r.getKvs(0).getModRevision() : 0;
      return false;
    }
  }

  /** kube-apiserver's get: a linearizable Range of one key with limit 1. */
  static final class Get extends ClosedLoop<RangeResponse> {
    private final Target target;
    private final Target.KeyPool pool;
    private int inFlight;
    private int[] cursor;

    Get(Target target, Target.KeyPool pool) {
      this.target = target;
      this.pool = pool;
    }

    @Override
    void beforeSlice(int n) {
      inFlight = n;
      cursor = new int[n];
    }

    @Override
    void send(int slot, StreamObserver<RangeResponse> observer) {
      ByteString key = pool.keys[nextKey(slot, inFlight, cursor)];
      target
          .conn
          .kv(slot)
          .range(RangeRequest.newBuilder().setKey(key).setLimit(1).build(), observer);
    }

    @Override
    boolean accept(int slot, RangeResponse response) {
      return response.getKvsCount() == 1;
    }
  }

  /**
   * kube-apiserver's paginated list: each slot walks the 10,000 objects page by page (limit 500),
   * every page after the first at the first page's revision; one operation is one page.
   */
  static final class ListPages extends ClosedLoop<RangeResponse> {
    private final Target target;
    private final ByteString prefix;
    private final ByteString end;
    private ByteString[] next;
    private long[] revision;

    ListPages(Target target, ByteString prefix) {
      this.target = target;
      this.prefix = prefix;
      this.end = Keys.rangeEnd(prefix);
    }

    @Override
    void beforeSlice(int n) {
      // Start every slot at a fresh list: revisions of an earlier slice may have been compacted
      // since.
      next = new ByteString[n];
      revision = new long[n];
      for (int i = 0; i < n; i++) {
        next[i] = prefix;
      }
    }

    @Override
    void send(int slot, StreamObserver<RangeResponse> observer) {
      RangeRequest r =
          RangeRequest.newBuilder()
              .setKey(next[slot])
              .setRangeEnd(end)
              .setLimit(Plan.LIST_PAGE)
              .setRevision(revision[slot])
              .build();
      target.conn.kv(slot).range(r, observer);
    }

    @Override
    boolean accept(int slot, RangeResponse response) {
      int n = response.getKvsCount();
      if (response.getMore() && n > 0) {
        if (revision[slot] == 0) {
          revision[slot] = response.getHeader().getRevision();
        }
        next[slot] = Keys.after(response.getKvs(n - 1).getKey());
      } else {
        next[slot] = prefix;
        revision[slot] = 0;
      }
      return n == Plan.LIST_PAGE || (!response.getMore() && n > 0);
    }
  }

  /** Slot {@code slot} of {@code n} owns keys slot, slot+n, slot+2n, ...; returns its next one. */
  static int nextKey(int slot, int n, int[] cursor) {
    int owned = (Plan.POOL_KEYS - slot + n - 1) / n;
    int k = slot + n * (cursor[slot] % owned);
    cursor[slot]++;
    return k;
  }
}
