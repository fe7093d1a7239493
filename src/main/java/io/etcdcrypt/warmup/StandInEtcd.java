package io.etcdcrypt.warmup;

import com.google.protobuf.ByteString;
import io.etcdcrypt.etcd.etcdserverpb.Compare;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.DeleteRangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.KVGrpc;
import io.etcdcrypt.etcd.etcdserverpb.PutRequest;
import io.etcdcrypt.etcd.etcdserverpb.PutResponse;
import io.etcdcrypt.etcd.etcdserverpb.RangeRequest;
import io.etcdcrypt.etcd.etcdserverpb.RangeResponse;
import io.etcdcrypt.etcd.etcdserverpb.RequestOp;
import io.etcdcrypt.etcd.etcdserverpb.ResponseHeader;
import io.etcdcrypt.etcd.etcdserverpb.ResponseOp;
import io.etcdcrypt.etcd.etcdserverpb.TxnRequest;
import io.etcdcrypt.etcd.etcdserverpb.TxnResponse;
import io.etcdcrypt.etcd.etcdserverpb.WatchCreateRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchGrpc;
import io.etcdcrypt.etcd.etcdserverpb.WatchRequest;
import io.etcdcrypt.etcd.etcdserverpb.WatchResponse;
import io.etcdcrypt.etcd.mvccpb.Event;
import io.etcdcrypt.etcd.mvccpb.KeyValue;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * An in-memory stand-in for one etcd member, on a loopback port, that serves the warm-up: KV
 * (Range, Put, DeleteRange, Txn without nested Txns), Watch and gRPC health, with etcd's revision
 * numbering. It is no etcd (no leases, no compaction, no history: a watch sees what is written
 * after it starts) and never holds anything but the warm-up's synthetic values; it exists so that
 * the proxy's own code can be run hot before it serves, without sending a request to the real
 * cluster.
 */
final class StandInEtcd implements AutoCloseable {

  private static final Comparator<ByteString> KEY_ORDER =
      ByteString.unsignedLexicographicalComparator();

  private final NavigableMap<ByteString, KeyValue> store = new TreeMap<>(KEY_ORDER);
  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  private final Server server;
  private long revision = 1;
  private long nextWatchId;

  StandInEtcd() throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .addService(new Kv())
            .addService(new Watches())
            .addService(health.getHealthService())
            .maxInboundMessageSize(64 << 20)
            .build()
            .start();
  }

  int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- the store ----

  private ResponseHeader header() {
    return ResponseHeader.newBuilder().setClusterId(1).setMemberId(1).setRevision(revision).build();
  }

  private synchronized RangeResponse range(RangeRequest r) {
    List<KeyValue> matching = matching(r.getKey(), r.getRangeEnd());
    RangeResponse.Builder b = RangeResponse.newBuilder().setHeader(header());
    b.setCount(matching.size());
    if (r.getCountOnly()) {
      return b.build();
    }
    long limit = r.getLimit() > 0 ? r.getLimit() : Long.MAX_VALUE;
    for (KeyValue kv : matching) {
      if (b.getKvsCount() == limit) {
        b.setMore(true);
        break;
      }
      b.addKvs(r.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
    }
    return b.build();
  }

  private synchronized PutResponse put(PutRequest r) {
    revision++;
    KeyValue previous = store.get(r.getKey());
    KeyValue kv =
        KeyValue.newBuilder()
            .setKey(r.getKey())
            .setValue(r.getValue())
            .setCreateRevision(previous == null ? revision : previous.getCreateRevision())
            .setModRevision(revision)
            .setVersion(previous == null ? 1 : previous.getVersion() + 1)
            .build();
    store.put(r.getKey(), kv);
    notify(Event.newBuilder().setType(Event.EventType.PUT).setKv(kv), previous);
    PutResponse.Builder b = PutResponse.newBuilder().setHeader(header());
    if (r.getPrevKv() && previous != null) {
      b.setPrevKv(previous);
    }
    return b.build();
  }

  private synchronized DeleteRangeResponse delete(DeleteRangeRequest r) {
    List<KeyValue> matching = matching(r.getKey(), r.getRangeEnd());
    if (!matching.isEmpty()) {
      revision++;
    }
    DeleteRangeResponse.Builder b =
        DeleteRangeResponse.newBuilder().setHeader(header()).setDeleted(matching.size());
    for (KeyValue kv : matching) {
      store.remove(kv.getKey());
      notify(
          Event.newBuilder()
              .setType(Event.EventType.DELETE)
              .setKv(KeyValue.newBuilder().setKey(kv.getKey()).setModRevision(revision)),
          kv);
      if (r.getPrevKv()) {
        b.addPrevKvs(kv);
      }
    }
    return b.build();
  }

  private synchronized TxnResponse txn(TxnRequest r) {
    boolean succeeded = r.getCompareList().stream().allMatch(this::holds);
    TxnResponse.Builder b = TxnResponse.newBuilder().setSucceeded(succeeded);
    for (RequestOp op : succeeded ? r.getSuccessList() : r.getFailureList()) {
      switch (op.getRequestCase()) {
        case REQUEST_RANGE ->
            b.addResponses(ResponseOp.newBuilder().setResponseRange(range(op.getRequestRange())));
        case REQUEST_PUT ->
            b.addResponses(ResponseOp.newBuilder().setResponsePut(put(op.getRequestPut())));
        case REQUEST_DELETE_RANGE ->
            b.addResponses(
                ResponseOp.newBuilder().setResponseDeleteRange(delete(op.getRequestDeleteRange())));
        default ->
            throw Status.UNIMPLEMENTED
                .withDescription("the warm-up's stand-in etcd has no nested Txn")
                .asRuntimeException();
      }
    }
    return b.setHeader(header()).build();
  }

  private boolean holds(Compare c) {
    KeyValue kv = store.get(c.getKey());
    int order =
        switch (c.getTarget()) {
          case VERSION -> Long.compare(kv == null ? 0 : kv.getVersion(), c.getVersion());
          case CREATE ->
              Long.compare(kv == null ? 0 : kv.getCreateRevision(), c.getCreateRevision());
          case MOD -> Long.compare(kv == null ? 0 : kv.getModRevision(), c.getModRevision());
          case VALUE -> kv == null ? -2 : KEY_ORDER.compare(kv.getValue(), c.getValue());
          default -> Long.compare(kv == null ? 0 : kv.getLease(), c.getLease());
        };
    if (order == -2) {
      return false; // etcd: a value compare on a missing key fails
    }
    return switch (c.getResult()) {
      case EQUAL -> order == 0;
      case GREATER -> order > 0;
      case LESS -> order < 0;
      default -> order != 0;
    };
  }

  private List<KeyValue> matching(ByteString key, ByteString rangeEnd) {
    if (rangeEnd.isEmpty()) {
      KeyValue kv = store.get(key);
      return kv == null ? List.of() : List.of(kv);
    }
    Map<ByteString, KeyValue> span =
        rangeEnd.equals(ByteString.copyFrom(new byte[] {0}))
            ? store.tailMap(key, true)
            : store.subMap(key, true, rangeEnd, false);
    return new ArrayList<>(span.values());
  }

  private void notify(Event.Builder event, KeyValue previous) {
    for (Watcher w : watchers) {
      w.offer(event, previous);
    }
  }

  // ---- services ----

  private final class Kv extends KVGrpc.KVImplBase {
    @Override
    public void range(RangeRequest r, StreamObserver<RangeResponse> out) {
      reply(out, StandInEtcd.this.range(r));
    }

    @Override
    public void put(PutRequest r, StreamObserver<PutResponse> out) {
      reply(out, StandInEtcd.this.put(r));
    }

    @Override
    public void deleteRange(DeleteRangeRequest r, StreamObserver<DeleteRangeResponse> out) {
      reply(out, delete(r));
    }

    @Override
    public void txn(TxnRequest r, StreamObserver<TxnResponse> out) {
      reply(out, StandInEtcd.this.txn(r));
    }

    private <T> void reply(StreamObserver<T> out, T response) {
      out.onNext(response);
      out.onCompleted();
    }
  }

  private final class Watches extends WatchGrpc.WatchImplBase {
    @Override
    public StreamObserver<WatchRequest> watch(StreamObserver<WatchResponse> out) {
      List<Watcher> mine = new CopyOnWriteArrayList<>();
      return new StreamObserver<>() {
        @Override
        public void onNext(WatchRequest request) {
          if (request.hasCreateRequest()) {
            Watcher w;
            synchronized (StandInEtcd.this) {
              w = new Watcher(nextWatchId++, request.getCreateRequest(), out);
              w.send(WatchResponse.newBuilder().setHeader(header()).setCreated(true));
              watchers.add(w);
            }
            mine.add(w);
          } else if (request.hasCancelRequest()) {
            for (Watcher w : mine) {
              if (w.id == request.getCancelRequest().getWatchId()) {
                watchers.remove(w);
                mine.remove(w);
                w.send(WatchResponse.newBuilder().setHeader(header()).setCanceled(true));
              }
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          watchers.removeAll(mine);
        }

        @Override
        public void onCompleted() {
          watchers.removeAll(mine);
          synchronized (out) {
            out.onCompleted();
          }
        }
      };
    }
  }

  /** One watch of a stream: sends the events of its keys as they are written. */
  private final class Watcher {
    final long id;
    private final ByteString key;
    private final ByteString rangeEnd;
    private final boolean prevKv;
    private final StreamObserver<WatchResponse> out;

    Watcher(long id, WatchCreateRequest create, StreamObserver<WatchResponse> out) {
      this.id = id;
      this.key = create.getKey();
      this.rangeEnd = create.getRangeEnd();
      this.prevKv = create.getPrevKv();
      this.out = out;
    }

    void offer(Event.Builder event, KeyValue previous) {
      ByteString k = event.getKv().getKey();
      boolean in =
          rangeEnd.isEmpty()
              ? k.equals(key)
              : KEY_ORDER.compare(k, key) >= 0
                  && (rangeEnd.equals(ByteString.copyFrom(new byte[] {0}))
                      || KEY_ORDER.compare(k, rangeEnd) < 0);
      if (!in) {
        return;
      }
      Event.Builder e = event.clone();
      if (prevKv && previous != null) {
        e.setPrevKv(previous);
      }
      send(WatchResponse.newBuilder().setHeader(header()).addEvents(e));
    }

    void send(WatchResponse.Builder response) {
      synchronized (out) {
        out.onNext(response.setWatchId(id).build());
      }
    }
  }
}
