package io.etcdcrypt.ops;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads key ranges page by page at one pinned revision, so that a scan sees a consistent snapshot
 * however long it takes and however much is written meanwhile.
 *
 * <p>The revision is pinned by the first request. If etcd compacts it away during the scan
 * (kube-apiserver compacts every 5 minutes), the scan re-pins to the current revision and continues
 * after the last key it read: pages are keyed by key, so nothing is skipped, and whatever changed
 * meanwhile was written by a writer, not lost. Unavailable members are retried with backoff before
 * giving up.
 */
final class RangeScanner {

  private static final Logger log = LoggerFactory.getLogger(RangeScanner.class);
  private static final int MAX_ATTEMPTS = 6;

  /** Receives one page of key-values; returns false to stop the scan. */
  @FunctionalInterface
  interface PageHandler {
    boolean page(List<KeyValue> kvs) throws InterruptedException;
  }

  private final KVGrpc.KVBlockingStub kv;
  private final int pageSize;
  private final Duration callTimeout;
  private volatile long revision;
  private volatile long clusterId;

  RangeScanner(Channel channel, int pageSize, Duration callTimeout) {
    if (pageSize < 1) {
      throw new IllegalArgumentException("page size must be at least 1, got " + pageSize);
    }
    this.kv = KVGrpc.newBlockingStub(channel);
    this.pageSize = pageSize;
    this.callTimeout = callTimeout;
  }

  /** The revision scans read at; 0 before the first request. */
  long revision() {
    return revision;
  }

  /** etcd's cluster id, from the first response. */
  long clusterId() {
    return clusterId;
  }

  /**
   * The number of keys in {@code [from, end)} at the pinned revision (pinning it if not yet
   * pinned).
   */
  long count(ByteString from, ByteString end) throws InterruptedException {
    RangeRequest.Builder req =
        RangeRequest.newBuilder().setKey(from).setRangeEnd(end).setCountOnly(true);
    return call(req).getCount();
  }

  /**
   * Hands every key-value of {@code [from, end)} to {@code handler}, {@code pageSize} at a time, in
   * key order.
   */
  void scan(ByteString from, ByteString end, PageHandler handler) throws InterruptedException {
    ByteString next = from;
    while (true) {
      RangeRequest.Builder req =
          RangeRequest.newBuilder().setKey(next).setRangeEnd(end).setLimit(pageSize);
      RangeResponse page = call(req);
      if (page.getKvsCount() == 0) {
        return;
      }
      if (!handler.page(page.getKvsList())) {
        return;
      }
      if (!page.getMore()) {
        return;
      }
      next = Scope.after(page.getKvs(page.getKvsCount() - 1).getKey());
    }
  }

  private RangeResponse call(RangeRequest.Builder req) throws InterruptedException {
    long backoffMillis = 200;
    for (int attempt = 1; ; attempt++) {
      long pinned = revision;
      try {
        RangeResponse r =
            kv.withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .range(req.setRevision(pinned).build());
        if (pinned == 0) {
          revision = r.getHeader().getRevision();
          clusterId = r.getHeader().getClusterId();
        }
        return r;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.OUT_OF_RANGE && pinned != 0) {
          log.info(
              "revision {} was compacted during the scan; continuing at the current revision",
              pinned);
          revision = 0;
          continue;
        }
        boolean transientFailure =
            code == Status.Code.UNAVAILABLE
                || code == Status.Code.DEADLINE_EXCEEDED
                || code == Status.Code.RESOURCE_EXHAUSTED;
        if (!transientFailure || attempt >= MAX_ATTEMPTS) {
          throw new EtcdAccessException(
              "cannot read from etcd: "
                  + describe(e.getStatus())
                  + (transientFailure ? " (gave up after " + attempt + " attempts)" : "")
                  + "; check --endpoints and the TLS flags",
              e);
        }
        log.warn(
            "reading from etcd failed ({}), retrying in {} ms",
            describe(e.getStatus()),
            backoffMillis);
        Thread.sleep(backoffMillis);
        backoffMillis = Math.min(backoffMillis * 2, 5_000);
      }
    }
  }

  static String describe(Status s) {
    return s.getDescription() == null
        ? s.getCode().toString()
        : s.getCode() + ": " + s.getDescription();
  }
}
